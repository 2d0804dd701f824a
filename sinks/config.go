package sinks

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/topology"
)

// Defaults of Config's zero fields.
const (
	DefaultMaxRecords     = 500
	DefaultMaxBytes       = 1 << 20
	DefaultLinger         = 200 * time.Millisecond
	DefaultMaxInFlight    = 4
	DefaultInitialBackoff = 100 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
	DefaultWriteTimeout   = 30 * time.Second
	DefaultDrainTimeout   = 10 * time.Second
	// MaxRetryAfter caps the wait a destination asks for (Retry-After): a partition is never
	// parked longer than this between two attempts.
	MaxRetryAfter = time.Minute
)

// Config configures a Worker: which topics a consumer group reads, how records are batched, and
// how failures are retried and dead-lettered. Zero fields take the defaults above; Validate
// names the first field that cannot work.
type Config struct {
	// Group is the consumer group, and the sink's name in metrics ("sink" label), logs and the
	// Stage of its dead letters: "timeseries-sink".
	Group string
	// Topics the group reads: ["timeseries", "anomalies", "dtc-events"].
	Topics []string
	// Kafka is the cluster; its Sarama() configuration is the base of the consumer group and
	// of the dead-letter producer.
	Kafka topology.Kafka
	// DeadLetterTopic receives the records the backend refused for good ("dead-letters").
	DeadLetterTopic string

	// MaxRecords, MaxBytes (keys plus values) and Linger bound a batch: it is handed to the
	// backend when it holds MaxRecords records or MaxBytes bytes, or Linger after its first
	// record, whichever comes first. A batch holds records of one partition only.
	MaxRecords int
	MaxBytes   int
	Linger     time.Duration
	// MaxInFlight is how many batches (of different partitions) are delivered at once: written,
	// retried or dead-lettered. Batches of one partition are delivered one after the other.
	MaxInFlight int

	// InitialBackoff and MaxBackoff shape the waits between attempts at a retryable failure:
	// exponential with full jitter, at least what the destination asked for (RetryAfter, capped at
	// MaxRetryAfter). Retryable failures are retried until they succeed or the worker stops,
	// never dropped; each retry counts in fleetstream_sink_retries_total and is logged.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// WriteTimeout bounds one WriteBatch call; a write that times out is retried.
	WriteTimeout time.Duration
	// DrainTimeout bounds the delivery of what was fetched when partitions are revoked or the
	// worker stops: what is not written by then is not committed and will be delivered again.
	DrainTimeout time.Duration

	// Logger receives the worker's log; nil discards it.
	Logger *slog.Logger
	// Registerer receives the worker's metrics; nil registers nothing. Several workers may share
	// one registry: they share the metric families and differ by the sink label.
	Registerer prometheus.Registerer
	// DeadLetters is the fleetstream_dead_letters_total{group,reason} family, which the processor
	// groups count into too. A registry holds one such family: pass the one the processors use
	// (or one from NewDeadLetterCounter) when they share a registry with the worker. When nil, the
	// worker builds it with the processors' exact description and registers it with Registerer,
	// reusing an identical family already there.
	DeadLetters *prometheus.CounterVec

	// Sarama, when set, adjusts the consumer group's and producer's configuration after the
	// worker set it up: tests shorten heartbeats with it. It must not re-enable auto-commit.
	Sarama func(*sarama.Config)
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxRecords, DefaultMaxRecords)
	def(&c.MaxBytes, DefaultMaxBytes)
	def(&c.MaxInFlight, DefaultMaxInFlight)
	defD(&c.Linger, DefaultLinger)
	defD(&c.InitialBackoff, DefaultInitialBackoff)
	defD(&c.MaxBackoff, DefaultMaxBackoff)
	defD(&c.WriteTimeout, DefaultWriteTimeout)
	defD(&c.DrainTimeout, DefaultDrainTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first field that cannot work and how to fix it.
func (c Config) Validate() error {
	if c.Group == "" {
		return errors.New("sinks: Group is empty: name the consumer group, e.g. timeseries-sink")
	}
	if len(c.Topics) == 0 {
		return fmt.Errorf("sinks: %s: Topics is empty: list the topics the sink reads, e.g. timeseries,anomalies,dtc-events", c.Group)
	}
	for i, t := range c.Topics {
		if t == "" {
			return fmt.Errorf("sinks: %s: Topics[%d] is empty: remove it or name the topic", c.Group, i)
		}
		if slices.Index(c.Topics, t) != i {
			return fmt.Errorf("sinks: %s: topic %q is listed twice in Topics: list it once", c.Group, t)
		}
	}
	if c.DeadLetterTopic == "" {
		return fmt.Errorf("sinks: %s: DeadLetterTopic is empty: set it (default %q)", c.Group, topology.DefaultTopics().DeadLetters)
	}
	if slices.Contains(c.Topics, c.DeadLetterTopic) {
		return fmt.Errorf("sinks: %s: DeadLetterTopic %q is also in Topics: a sink must not read its own dead letters", c.Group, c.DeadLetterTopic)
	}
	if err := c.Kafka.Validate(); err != nil {
		return fmt.Errorf("sinks: %s: %w", c.Group, err)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"MaxRecords", c.MaxRecords}, {"MaxBytes", c.MaxBytes}, {"MaxInFlight", c.MaxInFlight}} {
		if f.v < 0 {
			return fmt.Errorf("sinks: %s: %s is %d: use a positive number, or 0 for the default", c.Group, f.name, f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"Linger", c.Linger}, {"InitialBackoff", c.InitialBackoff}, {"MaxBackoff", c.MaxBackoff},
		{"WriteTimeout", c.WriteTimeout}, {"DrainTimeout", c.DrainTimeout},
	} {
		if f.v < 0 {
			return fmt.Errorf("sinks: %s: %s is %s: use a positive duration, or 0 for the default", c.Group, f.name, f.v)
		}
	}
	d := c.WithDefaults()
	if d.InitialBackoff > d.MaxBackoff {
		return fmt.Errorf("sinks: %s: InitialBackoff %s is above MaxBackoff %s: lower InitialBackoff or raise MaxBackoff", c.Group, d.InitialBackoff, d.MaxBackoff)
	}
	return nil
}
