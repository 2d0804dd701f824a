package devstack

import (
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSaramaAdminAndProduce exercises the rest of what topology, replay and the sinks may ask of
// the broker through sarama, per version, with and without sarama's ApiVersions negotiation.
func TestSaramaAdminAndProduce(t *testing.T) {
	t.Parallel()
	k := startTestKafka(t, KafkaConfig{})
	for _, v := range []sarama.KafkaVersion{sarama.V2_8_0_0, sarama.V3_6_0_0, sarama.MaxVersion} {
		for _, negotiate := range []bool{true, false} {
			name := fmt.Sprintf("%s/apiversions=%v", v, negotiate)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				cfg := newSaramaConfig(v)
				cfg.ApiVersionsRequest = negotiate
				topic := fmt.Sprintf("admin-%s-%v", v, negotiate)
				group := "group-" + topic
				check := func(what string, err error) {
					t.Helper()
					if err != nil {
						t.Fatalf("%s: %v", what, err)
					}
				}
				admin, err := sarama.NewClusterAdmin(k.Brokers(), cfg)
				check("cluster admin", err)
				defer admin.Close()

				compact := "compact"
				check("create topic", admin.CreateTopic(topic, &sarama.TopicDetail{
					NumPartitions: 2, ReplicationFactor: 1, ConfigEntries: map[string]*string{"cleanup.policy": &compact},
				}, false))
				_, _, err = admin.DescribeCluster()
				check("describe cluster", err)
				_, err = admin.DescribeTopics([]string{topic})
				check("describe topics", err)
				entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
				check("describe config", err)
				if !hasConfig(entries, "cleanup.policy", "compact") {
					t.Errorf("describe config lacks cleanup.policy=compact: %v", entries)
				}
				day := "86400000"
				check("alter config", admin.AlterConfig(sarama.TopicResource, topic, map[string]*string{"retention.ms": &day}, false))
				check("incremental alter config", admin.IncrementalAlterConfig(sarama.TopicResource, topic,
					map[string]sarama.IncrementalAlterConfigsEntry{"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &day}}, false))
				check("create partitions", admin.CreatePartitions(topic, 4, nil, false))

				codecs := []sarama.CompressionCodec{sarama.CompressionNone, sarama.CompressionGZIP,
					sarama.CompressionSnappy, sarama.CompressionLZ4, sarama.CompressionZSTD}
				for _, codec := range codecs {
					pcfg := newSaramaConfig(v)
					pcfg.ApiVersionsRequest = negotiate
					pcfg.Producer.Compression = codec
					pcfg.Producer.Idempotent = true
					pcfg.Net.MaxOpenRequests = 1
					producer, err := sarama.NewSyncProducer(k.Brokers(), pcfg)
					check("producer "+codec.String(), err)
					_, _, err = producer.SendMessage(&sarama.ProducerMessage{
						Topic: topic, Key: sarama.StringEncoder("VIN1"), Value: sarama.StringEncoder(codec.String()),
						Headers: []sarama.RecordHeader{{Key: []byte("schema"), Value: []byte("v1")}},
					})
					check("produce "+codec.String(), err)
					check("close producer", producer.Close())
				}
				got := consumeAllSarama(t, k, cfg, topic)
				if len(got) != len(codecs) {
					t.Errorf("consumed %d records, want %d", len(got), len(codecs))
				}
				for _, m := range got {
					if len(m.Headers) != 1 || string(m.Headers[0].Value) != "v1" {
						t.Errorf("record %q has headers %v", m.Value, m.Headers)
					}
				}

				// What a replay does: set a group's offsets, read them back, delete them.
				client, err := sarama.NewClient(k.Brokers(), cfg)
				check("client", err)
				defer client.Close()
				coord, err := client.Coordinator(group)
				check("coordinator", err)
				req := &sarama.OffsetCommitRequest{Version: 7, ConsumerGroup: group, ConsumerGroupGeneration: -1}
				req.AddBlock(topic, 0, 1, 0, "")
				resp, err := coord.CommitOffset(req)
				check("commit", err)
				check("commit partition 0", kerrOrNil(resp.Errors[topic][0]))
				offs, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0}})
				check("list group offsets", err)
				if b := offs.GetBlock(topic, 0); b == nil || b.Offset != 1 {
					t.Errorf("committed offset = %+v, want 1", b)
				}
				_, err = admin.ListConsumerGroups()
				check("list groups", err)
				_, err = admin.DescribeConsumerGroups([]string{group})
				check("describe groups", err)
				check("delete group offset", admin.DeleteConsumerGroupOffset(group, topic, 0))
				check("delete group", admin.DeleteConsumerGroup(group))
				check("delete records", admin.DeleteRecords(topic, map[int32]int64{0: 0}))
				check("delete topic", admin.DeleteTopic(topic))
			})
		}
	}
}

// TestSaramaReadsOtherProducers: records from another client (here kgo) with every compression
// codec, null keys and values, headers and a committed transaction are read by sarama's
// consumer, as the processors read what kcat or a Java producer sends to `fleetstream dev`.
func TestSaramaReadsOtherProducers(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	k := startTestKafka(t, KafkaConfig{})
	cl := newKgoClient(t, k)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "telemetry"); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	codecs := []kgo.CompressionCodec{kgo.NoCompression(), kgo.GzipCompression(), kgo.SnappyCompression(),
		kgo.Lz4Compression(), kgo.ZstdCompression()}
	for _, c := range codecs {
		p := newKgoClient(t, k, kgo.ProducerBatchCompression(c))
		err := p.ProduceSync(ctx,
			&kgo.Record{Topic: "telemetry", Value: []byte("no key")},
			&kgo.Record{Topic: "telemetry", Key: []byte("VIN1"), Headers: []kgo.RecordHeader{{Key: "h"}}},
		).FirstErr()
		if err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	tx := newKgoClient(t, k, kgo.TransactionalID("bridge"))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	if err := tx.ProduceSync(ctx, &kgo.Record{Topic: "telemetry", Value: []byte("in a transaction")}).FirstErr(); err != nil {
		t.Fatalf("produce in transaction: %v", err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatalf("commit transaction: %v", err)
	}

	want := 2*len(codecs) + 1
	for _, v := range []sarama.KafkaVersion{sarama.V2_1_0_0, sarama.V3_6_0_0, sarama.MaxVersion} {
		if got := consumeAllSarama(t, k, newSaramaConfig(v), "telemetry"); len(got) != want {
			t.Errorf("sarama %s read %d records, want %d", v, len(got), want)
		}
	}
}

// consumeAllSarama reads every partition of topic from the start to its high watermark.
func consumeAllSarama(t testing.TB, k *Kafka, cfg *sarama.Config, topic string) []*sarama.ConsumerMessage {
	t.Helper()
	client, err := sarama.NewClient(k.Brokers(), cfg)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer consumer.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions: %v", err)
	}
	var msgs []*sarama.ConsumerMessage
	for _, p := range parts {
		hw, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("high watermark: %v", err)
		}
		if hw == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume partition %d: %v", p, err)
		}
		// The log may end in a transaction marker, which consumers skip: stop at the high
		// watermark or when the partition goes quiet.
		wait := 5 * time.Second
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				msgs = append(msgs, m)
				done = m.Offset >= hw-1
				wait = 300 * time.Millisecond
			case err := <-pc.Errors():
				t.Fatalf("consume partition %d: %v", p, err)
			case <-time.After(wait):
				done = true
			}
		}
		pc.Close()
	}
	return msgs
}

func hasConfig(entries []sarama.ConfigEntry, name, value string) bool {
	for _, e := range entries {
		if e.Name == name && e.Value == value {
			return true
		}
	}
	return false
}

func kerrOrNil(err sarama.KError) error {
	if err == sarama.ErrNoError {
		return nil
	}
	return err
}
