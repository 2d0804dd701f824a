package topology

import (
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
)

// DefaultKafkaVersion is the protocol version spoken to brokers: MSK runs 3.x, and goka v1.1.16
// with sarama v1.61.1 runs groups, tables and joins against the embedded broker at 2.1 to 3.6.
const DefaultKafkaVersion = "3.6.0"

// Kafka is how fleetstream reaches a Kafka cluster. One value configures every producer,
// consumer, processor and view of a process.
type Kafka struct {
	Brokers     []string
	ClientID    string
	Version     string
	Partitioner Partitioner
	// Acks is "all" (default: every in-sync replica) or "leader".
	Acks string
	// Compression is none, gzip, snappy, lz4 or zstd (default snappy).
	Compression string
	// SessionTimeout of consumer groups; a killed worker's partitions move after it.
	SessionTimeout time.Duration
	Security       Security
}

// DefaultKafka is the configuration for the embedded broker of `fleetstream dev`.
func DefaultKafka() Kafka {
	return Kafka{
		Brokers:        []string{"127.0.0.1:9092"},
		ClientID:       "fleetstream",
		Version:        DefaultKafkaVersion,
		Partitioner:    PartitionerMurmur2,
		Acks:           "all",
		Compression:    "snappy",
		SessionTimeout: 10 * time.Second,
	}
}

// Validate reports the first field that is wrong, and how to fix it.
func (k Kafka) Validate() error {
	if len(k.Brokers) == 0 {
		return errors.New("kafka: no brokers: set --brokers host:port[,host:port] (or FLEETSTREAM_BROKERS)")
	}
	for _, b := range k.Brokers {
		if !strings.Contains(b, ":") {
			return fmt.Errorf("kafka: broker %q has no port: write it as host:port, e.g. %s:9092", b, b)
		}
	}
	if _, err := sarama.ParseKafkaVersion(k.version()); err != nil {
		return fmt.Errorf("kafka: version %q: %w (use e.g. %s)", k.Version, err, DefaultKafkaVersion)
	}
	if err := k.partitioner().Validate(); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	switch k.Acks {
	case "", "all", "leader":
	default:
		return fmt.Errorf("kafka: acks %q is unknown: use all or leader", k.Acks)
	}
	if _, err := compression(k.Compression); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	if k.SessionTimeout != 0 && k.SessionTimeout < time.Second {
		return fmt.Errorf("kafka: session timeout %s is too short: use at least 1s", k.SessionTimeout)
	}
	return k.Security.Validate()
}

func (k Kafka) version() string {
	if k.Version == "" {
		return DefaultKafkaVersion
	}
	return k.Version
}

func (k Kafka) partitioner() Partitioner {
	if k.Partitioner == "" {
		return PartitionerMurmur2
	}
	return k.Partitioner
}

func compression(name string) (sarama.CompressionCodec, error) {
	switch name {
	case "", "snappy":
		return sarama.CompressionSnappy, nil
	case "none":
		return sarama.CompressionNone, nil
	case "gzip":
		return sarama.CompressionGZIP, nil
	case "lz4":
		return sarama.CompressionLZ4, nil
	case "zstd":
		return sarama.CompressionZSTD, nil
	}
	return 0, fmt.Errorf("compression %q is unknown: use none, gzip, snappy, lz4 or zstd", name)
}

// Sarama returns a new sarama configuration for this cluster, set up the way goka needs it
// (copartitioning rebalance strategy, errors and successes returned) and with the deployment's
// partitioner. Each call returns a fresh value: goka's builders mutate the config they get.
func (k Kafka) Sarama() (*sarama.Config, error) {
	if err := k.Validate(); err != nil {
		return nil, err
	}
	cfg := goka.DefaultConfig()
	cfg.ClientID = k.ClientID
	if cfg.ClientID == "" {
		cfg.ClientID = "fleetstream"
	}
	cfg.Version, _ = sarama.ParseKafkaVersion(k.version())
	// A new group starts from the oldest offset: nothing produced before the first worker
	// started is skipped.
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	if k.SessionTimeout > 0 {
		cfg.Consumer.Group.Session.Timeout = k.SessionTimeout
		cfg.Consumer.Group.Heartbeat.Interval = k.SessionTimeout / 3
	}
	cfg.Producer.Partitioner = sarama.NewCustomHashPartitioner(k.partitioner().Hasher())
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	if k.Acks == "leader" {
		cfg.Producer.RequiredAcks = sarama.WaitForLocal
	}
	cfg.Producer.Compression, _ = compression(k.Compression)
	cfg.Producer.Idempotent = false
	// goka lingers up to 100 ms before a produce request goes out, and a producer with little
	// traffic (dtc-monitor's commands) adds that to every hop of the DTC-to-command path. 10 ms
	// (franz-go's default linger) keeps that path fast; busy producers flush at Flush.Bytes
	// (goka's 64 KiB) long before, so their batching is unchanged (make bench, README).
	cfg.Producer.Flush.Frequency = 10 * time.Millisecond
	cfg.Metadata.RefreshFrequency = time.Minute
	if err := k.Security.apply(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Hasher is the partitioner's hash constructor for goka's WithHasher options.
func (k Kafka) Hasher() func() hash.Hash32 { return k.partitioner().Hasher() }
