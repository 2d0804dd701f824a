package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/fleetstream/fleetstream/topology"
)

// kafkaFlags are the flags of every command that talks to Kafka.
type kafkaFlags struct {
	k           topology.Kafka
	partitioner string
	topics      topology.Topics
	prov        topology.Provisioning
}

func addKafkaFlags(fs *pflag.FlagSet, withBrokers bool) *kafkaFlags {
	f := &kafkaFlags{k: topology.DefaultKafka(), topics: topology.DefaultTopics(), prov: topology.Provisioning{Partitions: 6, Replication: 1}}
	if withBrokers {
		fs.StringSliceVar(&f.k.Brokers, "brokers", f.k.Brokers, "Kafka bootstrap brokers, host:port[,host:port]")
	}
	fs.StringVar(&f.k.Version, "kafka-version", f.k.Version, "Kafka protocol version to speak")
	fs.StringVar(&f.k.ClientID, "client-id", f.k.ClientID, "Kafka client id prefix")
	fs.StringVar(&f.partitioner, "partitioner", string(topology.PartitionerMurmur2), "key partitioner of every producer, processor and view: murmur2 (Kafka's default) or fnv1a (goka's)")
	fs.StringVar(&f.k.Acks, "acks", f.k.Acks, "producer acks: all or leader")
	fs.StringVar(&f.k.Compression, "compression", f.k.Compression, "producer compression: none, gzip, snappy, lz4, zstd")
	fs.DurationVar(&f.k.SessionTimeout, "session-timeout", 10*time.Second, "consumer group session timeout")
	fs.Int32Var(&f.prov.Partitions, "partitions", f.prov.Partitions, "partitions of every co-partitioned topic (created if missing)")
	fs.Int16Var(&f.prov.Replication, "replication", f.prov.Replication, "replication factor of created topics (3 on MSK)")
	fs.StringVar(&f.topics.Telemetry, "topic-telemetry", f.topics.Telemetry, "telemetry input topic")
	fs.StringVar(&f.topics.Trips, "topic-trips", f.topics.Trips, "trip aggregates input topic")
	fs.StringVar(&f.topics.Diagnostics, "topic-diagnostics", f.topics.Diagnostics, "diagnostic trouble codes input topic")
	fs.StringVar(&f.topics.Anomalies, "topic-anomalies", f.topics.Anomalies, "anomalies action topic")
	fs.StringVar(&f.topics.DTCEvents, "topic-dtc-events", f.topics.DTCEvents, "DTC events action topic")
	fs.StringVar(&f.topics.Commands, "topic-commands", f.topics.Commands, "commands action topic")
	fs.StringVar(&f.topics.Timeseries, "topic-timeseries", f.topics.Timeseries, "enriched measurements topic")
	fs.StringVar(&f.topics.DeadLetters, "topic-dead-letters", f.topics.DeadLetters, "dead letters topic")
	return f
}

// kafka returns the parsed Kafka configuration.
func (f *kafkaFlags) kafka() topology.Kafka {
	k := f.k
	k.Partitioner = topology.Partitioner(f.partitioner)
	return k
}
