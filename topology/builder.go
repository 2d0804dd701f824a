package topology

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"
)

// Builder turns goka group graphs into processors and views that share one Kafka configuration,
// one partitioner and one storage location.
type Builder struct {
	Kafka Kafka
	// StorageDir holds goka's local table storage (LevelDB): StorageDir/processors/<group>/
	// <table>.<partition> for a group's own and joined tables, StorageDir/views/<table>.<partition>
	// for views. Empty keeps tables in memory, which then recover from Kafka on every start.
	StorageDir string
	// Replication of the table topics goka creates.
	Replication int
	// HotStandby keeps every partition's table warm so a takeover does not wait for recovery.
	HotStandby bool
	Logger     *slog.Logger
	// Hooks observe processing; nil is fine.
	Hooks *Hooks
}

// Validate checks the configuration before anything connects.
func (b Builder) Validate() error {
	if err := b.Kafka.Validate(); err != nil {
		return err
	}
	if b.Replication < 0 {
		return fmt.Errorf("topology: replication %d: use 1 for a single broker, 3 on MSK", b.Replication)
	}
	return nil
}

func (b Builder) logger() *slog.Logger {
	if b.Logger != nil {
		return b.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (b Builder) storage(kind string) storage.Builder {
	if b.StorageDir == "" {
		return memoryStorageBuilder()
	}
	return lazyOffsetStorage(storage.DefaultBuilder(filepath.Join(b.StorageDir, kind)))
}

func (b Builder) topicManagerConfig() *goka.TopicManagerConfig {
	tm := goka.NewTopicManagerConfig()
	tm.Table.Replication = max(b.Replication, 1)
	tm.Stream.Replication = max(b.Replication, 1)
	tm.CreateTopicTimeout = 10 * time.Second
	return tm
}

// Processor builds a goka processor for the graph with this builder's configuration.
func (b Builder) Processor(graph *goka.GroupGraph, opts ...goka.ProcessorOption) (*goka.Processor, error) {
	configs, err := b.saramaConfigs(4)
	if err != nil {
		return nil, err
	}
	group := string(graph.Group())
	options := []goka.ProcessorOption{
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(configs[0])),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(configs[1])),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(configs[2], b.topicManagerConfig())),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(configs[3])),
		// Per group: a group's joined tables are local copies too, and two groups of one process
		// must not open the same LevelDB (vehicle-state keeps vehicle-state-table, dtc-monitor
		// joins it).
		goka.WithStorageBuilder(b.storage(filepath.Join("processors", group))),
		goka.WithHasher(b.Kafka.partitioner().Hasher()),
		goka.WithClientID(b.clientID(group)),
		goka.WithLogger(newGokaLogger(b.logger().With("group", group))),
	}
	if b.Hooks != nil {
		options = append(options, goka.WithContextWrapper(b.Hooks.wrap(group)))
	}
	if b.HotStandby {
		options = append(options, goka.WithHotStandby(), goka.WithRecoverAhead())
	}
	options = append(options, opts...)
	p, err := goka.NewProcessor(b.Kafka.Brokers, graph, options...)
	if err != nil {
		return nil, fmt.Errorf("build processor %s: %w", group, err)
	}
	return p, nil
}

// View builds a goka view of a table with this builder's configuration. Views keep their storage
// apart from processors', so both can run in one process.
func (b Builder) View(table goka.Table, codec goka.Codec, opts ...goka.ViewOption) (*goka.View, error) {
	configs, err := b.saramaConfigs(2)
	if err != nil {
		return nil, err
	}
	options := []goka.ViewOption{
		goka.WithViewTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(configs[0], b.topicManagerConfig())),
		goka.WithViewConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(configs[1])),
		goka.WithViewStorageBuilder(b.storage("views")),
		goka.WithViewHasher(b.Kafka.partitioner().Hasher()),
		goka.WithViewClientID(b.clientID("view-" + string(table))),
		goka.WithViewLogger(newGokaLogger(b.logger().With("view", string(table)))),
		goka.WithViewAutoReconnect(),
	}
	options = append(options, opts...)
	v, err := goka.NewView(b.Kafka.Brokers, table, codec, options...)
	if err != nil {
		return nil, fmt.Errorf("build view of %s: %w", table, err)
	}
	return v, nil
}

func (b Builder) clientID(suffix string) string {
	id := b.Kafka.ClientID
	if id == "" {
		id = "fleetstream"
	}
	return id + "-" + suffix
}

func (b Builder) saramaConfigs(n int) ([]*sarama.Config, error) {
	out := make([]*sarama.Config, n)
	for i := range out {
		cfg, err := b.Kafka.Sarama()
		if err != nil {
			return nil, err
		}
		out[i] = cfg
	}
	return out, nil
}
