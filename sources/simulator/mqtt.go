package simulator

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// DefaultMQTTBroker is the embedded broker of `fleetstream dev`.
const DefaultMQTTBroker = "tcp://127.0.0.1:1883"

// mqttQoS is the QoS of everything the simulator publishes and subscribes: at least once, as
// the AWS simulators and IoT Core rules use.
const mqttQoS = 1

// MQTTConfig configures the simulator's MQTT connection. The whole fleet shares one
// connection (mind AWS IoT Core's limit of 100 publishes per second per connection).
type MQTTConfig struct {
	// Broker is the broker URL: tcp://host:1883, ssl://host:8883 or ws://host/path (default
	// DefaultMQTTBroker).
	Broker string
	// ClientID identifies the connection (default "fleetstream-simulator"). Two simulators on
	// one broker need two ids: a broker disconnects the older of two clients sharing an id.
	ClientID string
	// Username and Password authenticate, when the broker asks for them.
	Username, Password string
	// TLS configures ssl:// and wss:// connections (nil: system roots).
	TLS *tls.Config
	// ConnectTimeout bounds the first connection (default 10s).
	ConnectTimeout time.Duration
	// Logger receives connection events (default: discarded).
	Logger *slog.Logger
}

func (c MQTTConfig) withDefaults() MQTTConfig {
	if c.Broker == "" {
		c.Broker = DefaultMQTTBroker
	}
	if c.ClientID == "" {
		c.ClientID = "fleetstream-simulator"
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first field that cannot work, naming the fix.
func (c MQTTConfig) Validate() error {
	c = c.withDefaults()
	u, err := url.Parse(c.Broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("simulator: MQTT Broker %q is not a broker URL: write it as tcp://host:1883 (or ssl://, ws://, wss://)", c.Broker)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return fmt.Errorf("simulator: MQTT Broker %q has scheme %q: use tcp, ssl, ws or wss", c.Broker, u.Scheme)
	}
	if len(c.ClientID) > 128 {
		return fmt.Errorf("simulator: MQTT ClientID is %d bytes: keep it under 128 (AWS IoT allows 128)", len(c.ClientID))
	}
	if c.ConnectTimeout < 0 {
		return fmt.Errorf("simulator: MQTT ConnectTimeout %s is negative: use e.g. 10s", c.ConnectTimeout)
	}
	return nil
}

// MQTTPublisher publishes vehicle messages to an MQTT broker at QoS 1 and delivers the shadow
// commands addressed to the vehicles. It reconnects on its own and subscribes again after a
// reconnect.
type MQTTPublisher struct {
	client paho.Client
	log    *slog.Logger

	mu   sync.Mutex
	subs map[string]paho.MessageHandler
}

// DialMQTT connects to the broker.
func DialMQTT(ctx context.Context, cfg MQTTConfig) (*MQTTPublisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	p := &MQTTPublisher{log: cfg.Logger.With("component", "mqtt", "broker", cfg.Broker), subs: map[string]paho.MessageHandler{}}
	opts := paho.NewClientOptions().
		AddBroker(cfg.Broker).
		SetClientID(cfg.ClientID).
		SetUsername(cfg.Username).
		SetPassword(cfg.Password).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetMaxReconnectInterval(5 * time.Second).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetOrderMatters(false). // command handlers only store the command; no order to keep
		SetOnConnectHandler(p.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			p.log.Warn("mqtt connection lost; reconnecting", "error", err)
		})
	if cfg.TLS != nil {
		opts.SetTLSConfig(cfg.TLS)
	}
	p.client = paho.NewClient(opts)
	if err := waitToken(ctx, p.client.Connect(), cfg.ConnectTimeout); err != nil {
		return nil, fmt.Errorf("simulator: connect to MQTT broker %s: %w", cfg.Broker, err)
	}
	p.log.Info("mqtt connected", "client_id", cfg.ClientID)
	return p, nil
}

// Publish publishes at QoS 1 and waits for the broker's PUBACK. key is unused: the VIN is in
// the topic.
func (p *MQTTPublisher) Publish(ctx context.Context, topic, _ string, payload []byte) error {
	return waitToken(ctx, p.client.Publish(topic, mqttQoS, false, payload), 0)
}

// SubscribeCommands subscribes to filter at QoS 1; the subscription is renewed after every
// reconnect.
func (p *MQTTPublisher) SubscribeCommands(ctx context.Context, filter string, handle func(topic string, payload []byte)) error {
	h := func(_ paho.Client, m paho.Message) { handle(m.Topic(), m.Payload()) }
	p.mu.Lock()
	p.subs[filter] = h
	p.mu.Unlock()
	return waitToken(ctx, p.client.Subscribe(filter, mqttQoS, h), 0)
}

// onConnect renews the subscriptions: a clean session starts without them.
func (p *MQTTPublisher) onConnect(c paho.Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for filter, h := range p.subs {
		if tok := c.Subscribe(filter, mqttQoS, h); tok.WaitTimeout(10*time.Second) && tok.Error() != nil {
			p.log.Error("mqtt resubscribe failed", "filter", filter, "error", tok.Error())
		}
	}
}

// Close disconnects, giving in-flight publishes a quarter second.
func (p *MQTTPublisher) Close() { p.client.Disconnect(250) }

var errTimeout = errors.New("timed out")

// waitToken waits for a paho token, ctx, or timeout (0: none).
func waitToken(ctx context.Context, tok paho.Token, timeout time.Duration) error {
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-expired:
		return errTimeout
	}
}
