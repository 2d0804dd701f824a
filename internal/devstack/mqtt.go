package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// DefaultMQTTAddr is where the embedded MQTT broker listens unless told otherwise.
const DefaultMQTTAddr = "127.0.0.1:1883"

// mqttSessionExpiry bounds how long the broker keeps the session of a disconnected client
// (subscriptions and queued QoS 1/2 messages), in seconds. mochi's default is forever, which a
// long-running dev process with a churning simulated fleet would pay for in memory.
const mqttSessionExpiry = 24 * 60 * 60

// MQTTConfig configures the embedded MQTT broker. The zero value is usable.
type MQTTConfig struct {
	// Addr is the host:port of the TCP listener, DefaultMQTTAddr when empty. Port 0 picks a
	// free port; MQTT.Addr reports the one chosen.
	Addr string

	// Logger receives the broker's log; mochi's routine info lines go out at debug level.
	// nil discards it.
	Logger *slog.Logger
}

// Validate reports the first field that cannot work, naming the fix.
func (c MQTTConfig) Validate() error {
	if c.Addr == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("devstack: mqtt Addr %q: want host:port such as %s: %w", c.Addr, DefaultMQTTAddr, err)
	}
	return nil
}

// MQTT is a running embedded MQTT broker (mochi-mqtt): MQTT 3.1.1 and 5, QoS 0 to 2, retained
// messages and persistent sessions, all in memory, and no authentication or ACLs: every client
// may connect and publish or subscribe to any topic, including AWS IoT's $aws/... topics.
type MQTT struct {
	server *mqtt.Server
	addr   string
	once   sync.Once
}

// StartMQTT starts the broker and returns once its listener is bound. ctx bounds the start only;
// the broker runs until Close.
func StartMQTT(ctx context.Context, cfg MQTTConfig) (*MQTT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Addr == "" {
		cfg.Addr = DefaultMQTTAddr
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("devstack: start mqtt: %w", err)
	}

	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumSessionExpiryInterval = mqttSessionExpiry
	server := mqtt.New(&mqtt.Options{
		Capabilities: caps,
		Logger:       slog.New(demoteInfo{logger.With("component", "mqtt").Handler()}),
	})
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("devstack: mqtt auth hook: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.Addr})
	if err := server.AddListener(tcp); err != nil {
		server.Close()
		return nil, fmt.Errorf("devstack: mqtt listen on %s: %w", cfg.Addr, err)
	}
	if err := server.Serve(); err != nil { // Serve starts the accept loops and returns
		server.Close()
		return nil, fmt.Errorf("devstack: start mqtt: %w", err)
	}
	m := &MQTT{server: server, addr: advertisedAddr(hostPort(tcp.Address()), "")}
	logger.Info("mqtt broker listening", "addr", m.addr, "listen", tcp.Address())
	return m, nil
}

// Addr is the host:port clients connect to: the bound address, with 127.0.0.1 in place of a
// wildcard host.
func (m *MQTT) Addr() string { return m.addr }

// Server is the underlying mochi server, for tests and tools that need its inline client or
// statistics.
func (m *MQTT) Server() *mqtt.Server { return m.server }

// Close disconnects every client and stops the listener. Sessions and retained messages are
// in memory and end with the broker. Close is safe to call more than once.
func (m *MQTT) Close() {
	m.once.Do(func() { _ = m.server.Close() }) // mochi's Close always returns nil
}

// demoteInfo logs mochi's info lines ("added hook", "attached listener", ...) at debug level, so
// that `fleetstream dev` prints its own addresses without the broker's start-up chatter.
type demoteInfo struct{ slog.Handler }

func (h demoteInfo) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, demote(l))
}

func (h demoteInfo) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	return h.Handler.Handle(ctx, r)
}

func (h demoteInfo) WithAttrs(attrs []slog.Attr) slog.Handler {
	return demoteInfo{h.Handler.WithAttrs(attrs)}
}

func (h demoteInfo) WithGroup(name string) slog.Handler { return demoteInfo{h.Handler.WithGroup(name)} }

func demote(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}
