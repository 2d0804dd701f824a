package mqttbridge

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/topology"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Config.
const (
	DefaultBroker          = "tcp://127.0.0.1:1883"
	DefaultClientID        = "fleetstream-bridge"
	DefaultFilter          = "connectedcar/+/+"
	DefaultMaxInFlight     = 1000
	DefaultMaxPayloadBytes = codecs.MaxMessageBytes
	// maxPayloadLimit keeps a dead letter of a payload of the largest accepted size (base64 in
	// JSON, 4/3 of it) under Kafka's default 1 MiB record limit.
	maxPayloadLimit = 512 << 10
	// maxInFlightLimit is MQTT's packet identifier space.
	maxInFlightLimit = 65535
)

// Route maps the MQTT topics matching Filter to the Kafka topic Topic.
type Route struct {
	// Filter is an MQTT topic filter; + matches one level, a trailing # any number (also none).
	Filter string
	// Topic is the Kafka topic the messages go to.
	Topic string
}

// DefaultRoutes are the connected-car routes: connectedcar/telemetry/# to the telemetry topic,
// connectedcar/trip/# to trips and connectedcar/dtc/# to diagnostics.
func DefaultRoutes(t topology.Topics) []Route {
	return []Route{
		{Filter: "connectedcar/telemetry/#", Topic: t.Telemetry},
		{Filter: "connectedcar/trip/#", Topic: t.Trips},
		{Filter: "connectedcar/dtc/#", Topic: t.Diagnostics},
	}
}

// ParseRoute reads a route written as filter=topic, as the --route flag takes it.
func ParseRoute(s string) (Route, error) {
	filter, topic, ok := strings.Cut(s, "=")
	r := Route{Filter: strings.TrimSpace(filter), Topic: strings.TrimSpace(topic)}
	if !ok {
		return Route{}, fmt.Errorf("mqttbridge: route %q: write it as mqtt-filter=kafka-topic, e.g. connectedcar/telemetry/#=telemetry", s)
	}
	return r, r.validate()
}

func (r Route) validate() error {
	if err := validFilter(r.Filter); err != nil {
		return fmt.Errorf("mqttbridge: route %s=%s: %w", r.Filter, r.Topic, err)
	}
	if r.Topic == "" {
		return fmt.Errorf("mqttbridge: route %s has no Kafka topic: write it as %s=telemetry", r.Filter, r.Filter)
	}
	return nil
}

// Config configures a bridge. Zero fields take the documented defaults.
type Config struct {
	// Broker is the MQTT broker URL: tcp://host:1883, ssl://host:8883, ws:// or wss://
	// (default DefaultBroker).
	Broker string
	// ClientID is the bridge's MQTT client id (default DefaultClientID). It must stay the same
	// across restarts: the broker keeps the session (subscriptions and unacknowledged messages)
	// under it. Two bridges must not share it; to scale out, give each its own id and filters
	// (or use the broker's shared subscriptions, $share/group/filter).
	ClientID string
	// Username and Password authenticate, when the broker asks for them.
	Username, Password string
	// TLS configures ssl:// and wss:// connections (nil: system roots).
	TLS *tls.Config
	// Filters are the MQTT topic filters subscribed at QoS 1 (default DefaultFilter).
	Filters []string
	// Routes map MQTT topics to Kafka topics; the first matching route wins (default
	// DefaultRoutes(topology.DefaultTopics())). A message no route matches is dead-lettered.
	Routes []Route
	// DeadLetterTopic receives what cannot be routed or keyed (default "dead-letters").
	DeadLetterTopic string
	// Kafka is the cluster to produce to. The producer uses its partitioner (murmur2 by
	// default) and acks (all by default).
	Kafka topology.Kafka
	// MaxInFlight bounds the messages received and not yet acknowledged to the broker (default
	// DefaultMaxInFlight, at most 65535). When it is reached the bridge stops reading from the
	// broker until Kafka acknowledges.
	MaxInFlight int
	// MaxPayloadBytes is the largest payload bridged (default DefaultMaxPayloadBytes, at most
	// 512 KiB); a larger one is dead-lettered as too_large with its first MaxPayloadBytes.
	MaxPayloadBytes int
	// Linger is how long the producer waits to fill a batch (default 0: send what is there as
	// soon as the previous request to a broker returns).
	Linger time.Duration
	// KeepAlive is the MQTT keep-alive (default 30s).
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt to the MQTT broker (default 10s).
	ConnectTimeout time.Duration
	// ShutdownTimeout bounds how long Run, once its context ends, waits for Kafka to
	// acknowledge what is in flight so it can acknowledge it to the broker (default 10s). What
	// is left unacknowledged the broker delivers again on the next start.
	ShutdownTimeout time.Duration
	// MQTTOptions, if set, adjusts the paho client options (a custom dialer, websocket headers)
	// before the bridge sets what its guarantees rest on: client id, persistent session,
	// manual acknowledgement, ordered delivery and the handlers.
	MQTTOptions func(*paho.ClientOptions)
	// Logger receives the bridge's log (default: discarded).
	Logger *slog.Logger
	// Registerer receives the bridge's metrics (nil registers nothing).
	Registerer prometheus.Registerer
}

// DefaultConfig is the configuration of `fleetstream bridge` against `fleetstream dev`.
func DefaultConfig() Config {
	return Config{
		Broker:          DefaultBroker,
		ClientID:        DefaultClientID,
		Filters:         []string{DefaultFilter},
		Routes:          DefaultRoutes(topology.DefaultTopics()),
		DeadLetterTopic: topology.DefaultTopics().DeadLetters,
		Kafka:           topology.DefaultKafka(),
		MaxInFlight:     DefaultMaxInFlight,
		MaxPayloadBytes: DefaultMaxPayloadBytes,
		KeepAlive:       30 * time.Second,
		ConnectTimeout:  10 * time.Second,
		ShutdownTimeout: 10 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Broker == "" {
		c.Broker = d.Broker
	}
	if c.ClientID == "" {
		c.ClientID = d.ClientID
	}
	if len(c.Filters) == 0 {
		c.Filters = d.Filters
	}
	if len(c.Routes) == 0 {
		c.Routes = d.Routes
	}
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = d.DeadLetterTopic
	}
	if len(c.Kafka.Brokers) == 0 && c.Kafka.ClientID == "" {
		c.Kafka = d.Kafka
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = d.MaxInFlight
	}
	if c.MaxPayloadBytes == 0 {
		c.MaxPayloadBytes = d.MaxPayloadBytes
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = d.KeepAlive
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = d.ConnectTimeout
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = d.ShutdownTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first field that cannot work, naming the fix.
func (c Config) Validate() error {
	c = c.withDefaults()
	u, err := url.Parse(c.Broker)
	if err != nil || u.Host == "" {
		return fmt.Errorf("mqttbridge: Broker %q is not a broker URL: write it as tcp://host:1883 (or ssl://, ws://, wss://)", c.Broker)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
	default:
		return fmt.Errorf("mqttbridge: Broker %q has scheme %q: use tcp, ssl, ws or wss", c.Broker, u.Scheme)
	}
	if len(c.ClientID) > 128 || strings.ContainsAny(c.ClientID, "+#/") {
		return fmt.Errorf("mqttbridge: ClientID %q: use a fixed id of at most 128 characters without +, # or /", c.ClientID)
	}
	for _, f := range c.Filters {
		if err := validFilter(f); err != nil {
			return fmt.Errorf("mqttbridge: Filters: %q: %w", f, err)
		}
	}
	for _, r := range c.Routes {
		if err := r.validate(); err != nil {
			return err
		}
	}
	switch {
	case c.MaxInFlight < 1 || c.MaxInFlight > maxInFlightLimit:
		return fmt.Errorf("mqttbridge: MaxInFlight %d: use 1 to %d (default %d)", c.MaxInFlight, maxInFlightLimit, DefaultMaxInFlight)
	case c.MaxPayloadBytes < 1 || c.MaxPayloadBytes > maxPayloadLimit:
		return fmt.Errorf("mqttbridge: MaxPayloadBytes %d: use 1 to %d (default %d)", c.MaxPayloadBytes, maxPayloadLimit, DefaultMaxPayloadBytes)
	case c.Linger < 0 || c.Linger > time.Second:
		return fmt.Errorf("mqttbridge: Linger %s: use 0 to 1s (default 0)", c.Linger)
	case c.KeepAlive < time.Second:
		return fmt.Errorf("mqttbridge: KeepAlive %s: use at least 1s (default 30s)", c.KeepAlive)
	case c.ConnectTimeout < 0:
		return fmt.Errorf("mqttbridge: ConnectTimeout %s is negative: use e.g. 10s", c.ConnectTimeout)
	case c.ShutdownTimeout < 0:
		return fmt.Errorf("mqttbridge: ShutdownTimeout %s is negative: use e.g. 10s", c.ShutdownTimeout)
	}
	if err := c.Kafka.Validate(); err != nil {
		return fmt.Errorf("mqttbridge: %w", err)
	}
	return nil
}
