package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
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
		Logger:       slog.New(mochiLog{logger.With("component", "mqtt").Handler()}),
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

// mochiLog tones mochi's log down for a dev broker: its info lines ("added hook", "attached
// listener", ...) go out at debug level, so that `fleetstream dev` prints its own addresses
// without the broker's start-up chatter, and so does the message-less warning mochi logs each
// time a client's connection ends with EOF or a closed socket, which is how clients leave.
type mochiLog struct{ slog.Handler }

func (h mochiLog) Enabled(ctx context.Context, l slog.Level) bool {
	// A warning might be demoted only once its attributes are seen, so let it through here.
	return h.Handler.Enabled(ctx, l) || (l == slog.LevelInfo && h.Handler.Enabled(ctx, slog.LevelDebug))
}

func (h mochiLog) Handle(ctx context.Context, r slog.Record) error {
	switch {
	case r.Level == slog.LevelInfo:
		r.Level = slog.LevelDebug
	case r.Level == slog.LevelWarn && r.Message == "":
		r.Message = "mqtt client connection ended"
		if connectionClosed(r) {
			r.Level = slog.LevelDebug
		}
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h mochiLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return mochiLog{h.Handler.WithAttrs(attrs)}
}

func (h mochiLog) WithGroup(name string) slog.Handler { return mochiLog{h.Handler.WithGroup(name)} }

// connectionClosed reports whether the record's error is an ordinary end of a connection.
func connectionClosed(r slog.Record) bool {
	closed := false
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
			closed = true
			return false
		}
		return true
	})
	return closed
}
