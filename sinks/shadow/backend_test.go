package shadow_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/sinks/shadow"
	"github.com/fleetstream/fleetstream/sinks/shadow/iot"
)

func TestBackendConfigValidate(t *testing.T) {
	if err := shadow.DefaultBackendConfig().Validate(); err != nil {
		t.Fatalf("default: %v", err)
	}
	cases := []struct {
		name string
		edit func(*shadow.BackendConfig)
		want []string
	}{
		{"kind", func(c *shadow.BackendConfig) { c.Kind = "kafka" }, []string{`backend "kafka"`}},
		{"payload and broker", func(c *shadow.BackendConfig) {
			c.Target.Payload = `{"id":{{.ID}}}`
			c.MQTT.Brokers = []string{"nowhere"}
		}, []string{"Payload", "Brokers"}},
		{"iot mode", func(c *shadow.BackendConfig) { c.Kind = shadow.BackendIoT; c.IoT.Mode = "rest" }, []string{"Mode"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := shadow.DefaultBackendConfig()
			tc.edit(&c)
			err := c.Validate()
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v, want it to mention %q", err, w)
				}
			}
		})
	}
}

func TestNewWiresTheBackendAndSharesMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	bc := shadow.DefaultBackendConfig()
	s1, err := shadow.New(context.Background(), shadow.DefaultConfig(), bc, reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := s1.Config().Backend.Name(); got != shadow.BackendMQTT {
		t.Fatalf("backend %q", got)
	}
	if s1.Graph().Group() != shadow.Group || string(shadow.Table) != "command-sink-table" {
		t.Fatalf("group %s table %s", s1.Graph().Group(), shadow.Table)
	}
	// A second sink on the same registry shares the metrics instead of failing to register.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	bc.Kind, bc.IoT = shadow.BackendIoT, iot.DefaultConfig()
	s2, err := shadow.New(context.Background(), shadow.DefaultConfig(), bc, reg)
	if err != nil {
		t.Fatal(err)
	}
	if got := s2.Config().Backend.Name(); got != shadow.BackendIoT {
		t.Fatalf("backend %q", got)
	}
	if err := s2.Connect(context.Background()); err != nil {
		t.Fatalf("Connect with credentials and region: %v", err)
	}
	if err := s1.Ready(); err == nil {
		t.Fatal("a sink that is not running reported ready")
	}
}
