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
	sec := &f.k.Security
	fs.BoolVar(&sec.TLS.Enabled, "tls", false, "connect to the brokers over TLS (MSK: port 9094 for TLS, 9096 SCRAM, 9098 IAM)")
	fs.StringVar(&sec.TLS.CAFile, "tls-ca-file", "", "PEM CA bundle for the brokers' certificates (default: system roots, right for MSK)")
	fs.StringVar(&sec.TLS.CertFile, "tls-cert-file", "", "PEM client certificate for mutual TLS")
	fs.StringVar(&sec.TLS.KeyFile, "tls-key-file", "", "PEM client key for mutual TLS")
	fs.StringVar(&sec.TLS.ServerName, "tls-server-name", "", "name to check the brokers' certificates against")
	fs.BoolVar(&sec.TLS.InsecureSkipVerify, "tls-insecure-skip-verify", false, "accept any broker certificate (test brokers only)")
	fs.StringVar(&sec.SASL.Mechanism, "sasl-mechanism", "", "SASL: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM")
	fs.StringVar(&sec.SASL.Username, "sasl-username", "", "SASL username (PLAIN, SCRAM)")
	fs.StringVar(&sec.SASL.Password, "sasl-password", "", "SASL password (PLAIN, SCRAM); prefer FLEETSTREAM_SASL_PASSWORD")
	fs.StringVar(&sec.SASL.Region, "sasl-region", "", "AWS region of the MSK cluster, for AWS_MSK_IAM (default: the SDK's)")
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
