package sinktest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/topology"
)

// Kafka is an embedded Kafka-protocol broker (kfake) reached over TCP, with a franz-go client
// to produce records and read offsets and dead letters back.
type Kafka struct {
	Brokers []string
	// Cluster is the broker, for tests that inject protocol-level faults (Cluster.ControlKey).
	Cluster *kfake.Cluster
	client  *kgo.Client
	adm     *kadm.Client
}

// StartKafka starts a one-broker cluster holding topics with partitions partitions each; it
// stops when the test ends.
func StartKafka(t testing.TB, partitions int32, topics ...string) *Kafka {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(0))
	if err != nil {
		t.Fatalf("kgo client: %v", err)
	}
	t.Cleanup(cl.Close)
	return &Kafka{Brokers: c.ListenAddrs(), Cluster: c, client: cl, adm: kadm.NewClient(cl)}
}

// Config is the topology configuration of the cluster.
func (k *Kafka) Config() topology.Kafka {
	return topology.Kafka{
		Brokers: k.Brokers, ClientID: "sinktest", Version: topology.DefaultKafkaVersion,
		Partitioner: topology.PartitionerMurmur2, Acks: "all", Compression: "none",
	}
}

// Fast shortens the consumer group's heartbeats and fetch waits so rebalances and shutdowns
// take a fraction of a second: use it as sinks.Config.Sarama in tests.
func Fast(c *sarama.Config) {
	c.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	c.Consumer.MaxWaitTime = 100 * time.Millisecond
	c.Metadata.Retry.Backoff = 50 * time.Millisecond
	c.Consumer.Retry.Backoff = 100 * time.Millisecond
}

// Produce writes records (keyed, partitioned by murmur2 of the key as the Java client does) and
// returns them as the sink will read them: with partition and offset.
func (k *Kafka) Produce(t testing.TB, recs []Record) []sinks.Record {
	t.Helper()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = &kgo.Record{Topic: r.Topic, Key: []byte(r.Key), Value: r.Value}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.client.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	out := make([]sinks.Record, len(krs))
	for i, r := range krs {
		out[i] = sinks.Record{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}
	}
	return out
}

// Offsets maps topic → partition → offset.
type Offsets map[string]map[int32]int64

// Committed returns the group's committed offsets (missing partitions have none).
func (k *Kafka) Committed(t testing.TB, group string) Offsets {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resps, err := k.adm.FetchOffsets(ctx, group)
	if err != nil {
		return Offsets{} // kfake answers GROUP_ID_NOT_FOUND for a group that never joined
	}
	out := Offsets{}
	resps.Each(func(r kadm.OffsetResponse) {
		if r.Err != nil || r.At < 0 {
			return
		}
		if out[r.Topic] == nil {
			out[r.Topic] = map[int32]int64{}
		}
		out[r.Topic][r.Partition] = r.At
	})
	return out
}

// End returns the end offsets (high watermarks) of topics' non-empty partitions.
func (k *Kafka) End(t testing.TB, topics ...string) Offsets {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := k.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	out := Offsets{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset %s/%d: %v", o.Topic, o.Partition, o.Err)
		}
		if o.Offset == 0 {
			return
		}
		if out[o.Topic] == nil {
			out[o.Topic] = map[int32]int64{}
		}
		out[o.Topic][o.Partition] = o.Offset
	})
	return out
}

// CaughtUp reports whether committed covers every non-empty partition of end.
func CaughtUp(committed, end Offsets) bool {
	for topic, parts := range end {
		for p, off := range parts {
			if committed[topic][p] != off {
				return false
			}
		}
	}
	return true
}

// DeadLetters reads every dead letter on topic.
func (k *Kafka) DeadLetters(t testing.TB, topic string) []codecs.DeadLetter {
	t.Helper()
	end := k.End(t, topic)
	total := int64(0)
	for _, off := range end[topic] {
		total += off
	}
	if total == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatalf("kgo consumer: %v", err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []codecs.DeadLetter
	for int64(len(out)) < total {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %s: got %d of %d records: %v", topic, len(out), total, err)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("read %s/%d: %v", tp, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			var dl codecs.DeadLetter
			if err := json.Unmarshal(r.Value, &dl); err != nil {
				t.Errorf("dead letter at %s/%d@%d is not a codecs.DeadLetter: %v", r.Topic, r.Partition, r.Offset, err)
				return
			}
			if dl.Key != string(r.Key) {
				t.Errorf("dead letter of key %q produced with key %q", dl.Key, r.Key)
			}
			out = append(out, dl)
		})
	}
	return out
}

func (o Offsets) String() string { return fmt.Sprint(map[string]map[int32]int64(o)) }
