package mqtt_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetstream/fleetstream/sinks/shadow/internal/brokertest"
	"github.com/fleetstream/fleetstream/sinks/shadow/mqtt"
)

func TestConfigValidate(t *testing.T) {
	certs := brokertest.NewCerts(t)
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := func() mqtt.Config {
		c := mqtt.DefaultConfig()
		c.Brokers = []string{"tls://example.iot.eu-west-1.amazonaws.com:8883"}
		c.TLS = mqtt.TLS{CAFile: certs.CAFile, CertFile: certs.CertFile, KeyFile: certs.KeyFile}
		return c
	}
	if err := base().Validate(); err != nil {
		t.Fatalf("AWS-style config: %v", err)
	}
	if err := mqtt.DefaultConfig().Validate(); err != nil {
		t.Fatalf("default config: %v", err)
	}
	cases := []struct {
		name string
		edit func(*mqtt.Config)
		want string
	}{
		{"no port", func(c *mqtt.Config) { c.Brokers = []string{"tls://example.com"} }, "Brokers"},
		{"scheme", func(c *mqtt.Config) { c.Brokers = []string{"http://example.com:80"} }, "scheme"},
		{"TLS files on tcp", func(c *mqtt.Config) { c.Brokers = []string{"tcp://127.0.0.1:1883"} }, "tls://host:8883"},
		{"client id", func(c *mqtt.Config) { c.ClientID = "" }, "ClientID"},
		{"cert without key", func(c *mqtt.Config) { c.TLS.KeyFile = "" }, "TLS.CertFile and TLS.KeyFile"},
		{"missing CA file", func(c *mqtt.Config) { c.TLS.CAFile = "/nonexistent/ca.pem" }, "TLS.CAFile"},
		{"CA file without PEM", func(c *mqtt.Config) { c.TLS.CAFile = notPEM }, "no PEM certificate"},
		{"key of another cert", func(c *mqtt.Config) { c.TLS.KeyFile = certs.CAFile }, "TLS.CertFile/TLS.KeyFile"},
		{"password alone", func(c *mqtt.Config) { c.Password = "x" }, "Username"},
		{"negative timeout", func(c *mqtt.Config) { c.PublishTimeout = -1 }, "PublishTimeout"},
		{"negative rate", func(c *mqtt.Config) { c.Rate = -5 }, "Rate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := base()
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
}
