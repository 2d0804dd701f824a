package sinks

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/topology"
)

func validConfig() Config {
	return Config{
		Group: "timeseries-sink", Topics: []string{"timeseries", "anomalies"},
		Kafka: topology.DefaultKafka(), DeadLetterTopic: "dead-letters",
	}
}

func TestConfigValidate(t *testing.T) {
	if err := validConfig().Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	cases := []struct {
		name   string
		change func(*Config)
		want   string // the field the message must name
	}{
		{"no group", func(c *Config) { c.Group = "" }, "Group"},
		{"no topics", func(c *Config) { c.Topics = nil }, "Topics"},
		{"empty topic", func(c *Config) { c.Topics = []string{"timeseries", ""} }, "Topics[1]"},
		{"duplicate topic", func(c *Config) { c.Topics = []string{"a", "a"} }, "listed twice"},
		{"no dead letters", func(c *Config) { c.DeadLetterTopic = "" }, "DeadLetterTopic"},
		{"reads own dead letters", func(c *Config) { c.DeadLetterTopic = "anomalies" }, "DeadLetterTopic"},
		{"no brokers", func(c *Config) { c.Kafka.Brokers = nil }, "brokers"},
		{"negative MaxRecords", func(c *Config) { c.MaxRecords = -1 }, "MaxRecords"},
		{"negative MaxInFlight", func(c *Config) { c.MaxInFlight = -2 }, "MaxInFlight"},
		{"negative Linger", func(c *Config) { c.Linger = -time.Second }, "Linger"},
		{"negative DrainTimeout", func(c *Config) { c.DrainTimeout = -time.Second }, "DrainTimeout"},
		{"backoff inverted", func(c *Config) { c.InitialBackoff = time.Minute; c.MaxBackoff = time.Second }, "InitialBackoff"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.change(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%q does not name %s", err, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := validConfig().WithDefaults()
	if c.MaxRecords != 500 || c.MaxBytes != 1<<20 || c.Linger != 200*time.Millisecond || c.MaxInFlight != 4 ||
		c.InitialBackoff != 100*time.Millisecond || c.MaxBackoff != 10*time.Second || c.DrainTimeout != 10*time.Second || c.Logger == nil {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestRetryAfter(t *testing.T) {
	base := errors.New("429 Too Many Requests")
	if _, ok := RetryAfter(base); ok {
		t.Fatal("plain error carries a wait")
	}
	err := fmt.Errorf("influx: %w", WithRetryAfter(base, 3*time.Second))
	if d, ok := RetryAfter(err); !ok || d != 3*time.Second {
		t.Fatalf("RetryAfter(wrapped) = %s, %v", d, ok)
	}
	if !errors.Is(err, base) || !Retryable(err) {
		t.Fatal("WithRetryAfter hides the cause or makes it permanent")
	}
	be := &BatchError{Failed: []RecordError{
		{Index: 0, Err: WithRetryAfter(base, time.Second)},
		{Index: 2, Err: Permanent(base)},
		{Index: 3, Err: WithRetryAfter(base, 5*time.Second)},
	}}
	if d, ok := RetryAfter(fmt.Errorf("write: %w", be)); !ok || d != 5*time.Second {
		t.Fatalf("RetryAfter(BatchError) = %s, %v, want the longest wait", d, ok)
	}
	if WithRetryAfter(nil, time.Second) != nil {
		t.Fatal("WithRetryAfter(nil) is not nil")
	}
}

func TestBackoffFullJitter(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: 10 * time.Second}
	for attempt, bound := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond} {
		var longest time.Duration
		for range 200 {
			w := b.Wait(attempt, nil)
			if w < 0 || w > bound {
				t.Fatalf("attempt %d: wait %s outside [0, %s]", attempt, w, bound)
			}
			longest = max(longest, w)
		}
		if longest < bound/2 {
			t.Fatalf("attempt %d: longest of 200 waits %s; jitter is not spread up to %s", attempt, longest, bound)
		}
	}
	for range 50 {
		if w := b.Wait(60, nil); w > 10*time.Second {
			t.Fatalf("wait %s above Max", w)
		}
	}
	// A wait the destination asked for is a floor, capped at MaxRetryAfter.
	if w := b.Wait(0, WithRetryAfter(errors.New("503"), 2*time.Second)); w < 2*time.Second {
		t.Fatalf("Retry-After 2s ignored: waited %s", w)
	}
	if w := b.Wait(0, WithRetryAfter(errors.New("503"), time.Hour)); w != MaxRetryAfter {
		t.Fatalf("Retry-After 1h: waited %s, want the cap %s", w, MaxRetryAfter)
	}
}

func TestDeadLetterReason(t *testing.T) {
	if r := DeadLetterReason(Permanent(errors.New("400 bad"))); r != ReasonRejected {
		t.Fatalf("plain permanent error: reason %q", r)
	}
	err := Permanent(fmt.Errorf("decode: %w", &codecs.DecodeError{Reason: codecs.ReasonInvalidJSON}))
	if r := DeadLetterReason(err); r != codecs.ReasonInvalidJSON {
		t.Fatalf("decode error: reason %q", r)
	}
}
