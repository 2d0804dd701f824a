package mqtt

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults of Config.
const (
	DefaultBroker               = "tcp://127.0.0.1:1883"
	DefaultClientIDPrefix       = "fleetstream-command-sink"
	DefaultKeepAlive            = 30 * time.Second
	DefaultConnectTimeout       = 10 * time.Second
	DefaultPublishTimeout       = 10 * time.Second
	DefaultMaxReconnectInterval = 10 * time.Second
	// DefaultRate is AWS IoT Core's limit of publishes per second per connection.
	DefaultRate  = 100
	DefaultBurst = 10
)

// Config configures the MQTT backend. DefaultConfig fills every field; Validate names the field
// that is wrong and how to fix it.
type Config struct {
	// Brokers are broker URLs: tls://host:8883 (also ssl:// and mqtts://) for TLS, tcp://host:1883
	// (also mqtt://) without. For AWS IoT Core: tls://<prefix>-ats.iot.<region>.amazonaws.com:8883
	// with TLS.CertFile and TLS.KeyFile.
	Brokers []string
	// ClientID identifies the session. It is kept across reconnects so the broker keeps the
	// session (CleanSession false): QoS 1 messages in flight when a connection drops are resent
	// on the next. Every worker needs its own: a broker disconnects the older of two
	// connections with one client id. The default includes the host name.
	ClientID string
	// CleanSession starts a new session on every connection, dropping what was in flight.
	CleanSession bool
	// Username and Password, for brokers that want them (not AWS IoT Core, which
	// authenticates the client certificate).
	Username string
	Password string
	TLS      TLS
	// KeepAlive is the MQTT keep-alive interval.
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt.
	ConnectTimeout time.Duration
	// PublishTimeout bounds the wait for a publish's PUBACK. A publish that times out stays
	// with the client, which resends it after a reconnect; a retry of the same command waits
	// for it instead of publishing a second copy.
	PublishTimeout time.Duration
	// MaxReconnectInterval caps the backoff between reconnection attempts.
	MaxReconnectInterval time.Duration
	// Rate limits publishes per second (a token bucket holding Burst tokens); AWS IoT Core
	// accepts at most 100 per second per connection.
	Rate  float64
	Burst int
}

// TLS holds the files of a mutually authenticated TLS connection, as AWS IoT Core wants it on
// port 8883: the CA that signed the broker's certificate (AmazonRootCA1.pem), the client
// certificate and its private key.
type TLS struct {
	// CAFile is a PEM file of the CAs trusted for the broker certificate; empty trusts the
	// system roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and key; both or neither.
	CertFile string
	KeyFile  string
	// ServerName overrides the name the broker certificate is checked against.
	ServerName string
	// ALPN protocols to offer; AWS IoT Core takes MQTT on port 443 with "x-amzn-mqtt-ca".
	ALPN []string
}

func (t TLS) set() bool {
	return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || len(t.ALPN) > 0
}

// DefaultConfig talks to the broker of `fleetstream dev` without TLS.
func DefaultConfig() Config {
	return Config{
		Brokers:              []string{DefaultBroker},
		ClientID:             DefaultClientID(),
		KeepAlive:            DefaultKeepAlive,
		ConnectTimeout:       DefaultConnectTimeout,
		PublishTimeout:       DefaultPublishTimeout,
		MaxReconnectInterval: DefaultMaxReconnectInterval,
		Rate:                 DefaultRate,
		Burst:                DefaultBurst,
	}
}

// DefaultClientID is DefaultClientIDPrefix and the host name, which differs between the
// tasks of a service and stays the same for a process's lifetime.
func DefaultClientID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return DefaultClientIDPrefix
	}
	return DefaultClientIDPrefix + "-" + host
}

// withDefaults fills zero durations and limits.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if len(c.Brokers) == 0 {
		c.Brokers = d.Brokers
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = d.KeepAlive
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = d.ConnectTimeout
	}
	if c.PublishTimeout == 0 {
		c.PublishTimeout = d.PublishTimeout
	}
	if c.MaxReconnectInterval == 0 {
		c.MaxReconnectInterval = d.MaxReconnectInterval
	}
	if c.Rate == 0 {
		c.Rate = d.Rate
	}
	if c.Burst == 0 {
		c.Burst = d.Burst
	}
	return c
}

// Validate reports the first field that is wrong and how to fix it. Zero durations and limits
// take the defaults; the TLS files are read.
func (c Config) Validate() error {
	_, err := c.tlsConfig()
	return err
}

func (c Config) check() error {
	c = c.withDefaults()
	tlsScheme := false
	for _, b := range c.Brokers {
		u, err := url.Parse(b)
		if err != nil || u.Host == "" || u.Port() == "" {
			return fmt.Errorf("mqtt: Brokers: %q is not a broker URL: write it as tls://host:8883 or tcp://host:1883", b)
		}
		switch strings.ToLower(u.Scheme) {
		case "tls", "ssl", "mqtts", "wss":
			tlsScheme = true
		case "tcp", "mqtt", "ws":
		default:
			return fmt.Errorf("mqtt: Brokers: %q has scheme %q: use tls:// (or ssl://, mqtts://) for TLS, tcp:// without", b, u.Scheme)
		}
	}
	if c.TLS.set() && !tlsScheme {
		return fmt.Errorf("mqtt: TLS files are set but no broker URL uses TLS: write the broker as tls://host:8883")
	}
	if c.ClientID == "" {
		return errors.New("mqtt: ClientID is empty: set a client id unique to this worker, e.g. " + DefaultClientID())
	}
	if len(c.ClientID) > 128 {
		return fmt.Errorf("mqtt: ClientID is %d bytes: AWS IoT Core accepts at most 128", len(c.ClientID))
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("mqtt: TLS.CertFile and TLS.KeyFile go together: set both (client certificate and its private key) or neither")
	}
	if c.Password != "" && c.Username == "" {
		return errors.New("mqtt: Password is set without Username: set both or neither")
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{
		{"KeepAlive", c.KeepAlive}, {"ConnectTimeout", c.ConnectTimeout},
		{"PublishTimeout", c.PublishTimeout}, {"MaxReconnectInterval", c.MaxReconnectInterval},
	} {
		if f.d < 0 {
			return fmt.Errorf("mqtt: %s %s is negative: use a positive duration, or 0 for the default", f.name, f.d)
		}
	}
	if c.KeepAlive < time.Second {
		return fmt.Errorf("mqtt: KeepAlive %s: use at least 1s (AWS IoT Core accepts 30s to 1200s)", c.KeepAlive)
	}
	if c.Rate < 0 {
		return fmt.Errorf("mqtt: Rate %g is negative: use publishes per second, at most %d for AWS IoT Core", c.Rate, DefaultRate)
	}
	if c.Burst < 0 {
		return fmt.Errorf("mqtt: Burst %d is negative: use a positive count, or 0 for %d", c.Burst, DefaultBurst)
	}
	return nil
}

// tlsConfig checks c and builds the TLS configuration (nil when no broker uses TLS and no
// file is set).
func (c Config) tlsConfig() (*tls.Config, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if !c.TLS.set() {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLS.ServerName, NextProtos: c.TLS.ALPN}
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt: TLS.CAFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mqtt: TLS.CAFile %s holds no PEM certificate: use the CA's PEM file (AmazonRootCA1.pem for AWS IoT Core)", c.TLS.CAFile)
		}
		t.RootCAs = pool
	}
	if c.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt: TLS.CertFile/TLS.KeyFile: %w (both PEM; the key must belong to the certificate)", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}
