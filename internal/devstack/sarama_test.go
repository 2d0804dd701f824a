package devstack

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// fastGroupConfig shortens sarama's group timings so that joins, leaves and rebalances take
// well under a second against the embedded broker (its GroupMinSessionTimeout is lowered in
// tests). Production keeps sarama's defaults.
func fastGroupConfig(cfg *sarama.Config) {
	cfg.Consumer.Group.Session.Timeout = time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 200 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	cfg.Consumer.Group.Rebalance.Retry.Backoff = 100 * time.Millisecond
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	cfg.Consumer.Offsets.AutoCommit.Interval = 100 * time.Millisecond
}

func newSaramaConfig(v sarama.KafkaVersion) *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = v
	cfg.ClientID = "devstack-test"
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Return.Errors = true
	fastGroupConfig(cfg)
	return cfg
}

// collectHandler marks every message and reports values until want have been seen.
type collectHandler struct {
	mu   sync.Mutex
	got  map[string]bool
	want int
	done chan struct{}
	once sync.Once
}

func (h *collectHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *collectHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *collectHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		h.mu.Lock()
		h.got[string(msg.Value)] = true
		n := len(h.got)
		h.mu.Unlock()
		sess.MarkMessage(msg, "")
		if n >= h.want {
			sess.Commit()
			h.once.Do(func() { close(h.done) })
		}
	}
	return nil
}

// TestSaramaVersions runs what fleetstream does with sarama — create a topic with the cluster
// admin, produce with a sync producer keyed by VIN, consume with a consumer group, commit, read
// the committed offsets back — once per protocol version worth considering. The results are
// recorded in doc.go ("Which sarama Version").
func TestSaramaVersions(t *testing.T) {
	t.Parallel()
	versions := []sarama.KafkaVersion{
		sarama.V2_1_0_0,
		sarama.V2_8_0_0, // sarama's DefaultVersion
		sarama.V3_6_0_0,
		sarama.V3_9_0_0,
		sarama.V4_0_0_0,
		sarama.MaxVersion,
	}
	k := startTestKafka(t, KafkaConfig{})
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			topic := "telemetry-" + v.String()
			group := "group-" + v.String()
			cfg := newSaramaConfig(v)

			admin, err := sarama.NewClusterAdmin(k.Brokers(), cfg)
			if err != nil {
				t.Fatalf("cluster admin: %v", err)
			}
			defer admin.Close()
			if err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 4, ReplicationFactor: 1}, false); err != nil {
				t.Fatalf("create topic: %v", err)
			}

			producer, err := sarama.NewSyncProducer(k.Brokers(), cfg)
			if err != nil {
				t.Fatalf("sync producer: %v", err)
			}
			defer producer.Close()
			const n = 40
			var msgs []*sarama.ProducerMessage
			for i := range n {
				msgs = append(msgs, &sarama.ProducerMessage{
					Topic: topic,
					Key:   sarama.StringEncoder(fmt.Sprintf("VIN%03d", i%9)),
					Value: sarama.StringEncoder(fmt.Sprintf("rec-%d", i)),
				})
			}
			if err := producer.SendMessages(msgs); err != nil {
				t.Fatalf("produce: %v", err)
			}

			cg, err := sarama.NewConsumerGroup(k.Brokers(), group, newSaramaConfig(v))
			if err != nil {
				t.Fatalf("consumer group: %v", err)
			}
			h := &collectHandler{got: map[string]bool{}, want: n, done: make(chan struct{})}
			cctx, cancel := context.WithCancel(ctx)
			consumed := make(chan error, 1)
			go func() {
				for cctx.Err() == nil {
					if err := cg.Consume(cctx, []string{topic}, h); err != nil {
						consumed <- err
						return
					}
				}
				consumed <- nil
			}()
			go func() {
				for err := range cg.Errors() {
					t.Logf("consumer group error: %v", err)
				}
			}()
			select {
			case <-h.done:
			case <-ctx.Done():
				h.mu.Lock()
				t.Fatalf("consumed %d of %d records", len(h.got), n)
			}
			cancel()
			if err := <-consumed; err != nil {
				t.Fatalf("consume: %v", err)
			}
			if err := cg.Close(); err != nil {
				t.Fatalf("close consumer group: %v", err)
			}

			offsets, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2, 3}})
			if err != nil {
				t.Fatalf("list group offsets: %v", err)
			}
			var committed int64
			for _, b := range offsets.Blocks[topic] {
				if b.Err != sarama.ErrNoError {
					t.Fatalf("offset fetch: %v", b.Err)
				}
				if b.Offset > 0 {
					committed += b.Offset
				}
			}
			if committed != n {
				t.Fatalf("committed %d records in total, want %d", committed, n)
			}
		})
	}
}

// TestKfakeOffsetFetchUnknownGroup pins a difference from Kafka that replay and lag tooling run
// into (see doc.go): kfake answers OffsetFetch for a group it has never seen with
// GROUP_ID_NOT_FOUND, where Kafka answers offset -1 without an error. A commit with generation
// -1 creates the group, after which sarama's offset manager works as against Kafka.
func TestKfakeOffsetFetchUnknownGroup(t *testing.T) {
	t.Parallel()
	k := startTestKafka(t, KafkaConfig{})
	cfg := newSaramaConfig(sarama.V3_6_0_0)
	client, err := sarama.NewClient(k.Brokers(), cfg)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	if err := admin.CreateTopic("telemetry", &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create topic: %v", err)
	}

	const group = "never-ran"
	om, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		t.Fatalf("offset manager: %v", err)
	}
	defer om.Close()
	if _, err := om.ManagePartition("telemetry", 0); !errors.Is(err, sarama.ErrGroupIDNotFound) {
		t.Fatalf("ManagePartition for an unknown group: err = %v, want ErrGroupIDNotFound "+
			"(if kfake now behaves like Kafka, update the note in doc.go)", err)
	}

	// Workaround: a simple (generation -1) commit creates the group.
	coord, err := client.Coordinator(group)
	if err != nil {
		t.Fatalf("coordinator: %v", err)
	}
	req := &sarama.OffsetCommitRequest{Version: 7, ConsumerGroup: group, ConsumerGroupGeneration: -1}
	req.AddBlock("telemetry", 0, 0, 0, "")
	resp, err := coord.CommitOffset(req)
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	if kerr := resp.Errors["telemetry"][0]; kerr != sarama.ErrNoError {
		t.Fatalf("commit: %v", kerr)
	}
	pom, err := om.ManagePartition("telemetry", 1)
	if err != nil {
		t.Fatalf("ManagePartition after the group exists: %v", err)
	}
	if off, _ := pom.NextOffset(); off != sarama.OffsetOldest {
		t.Errorf("partition 1 next offset = %d, want Consumer.Offsets.Initial (%d)", off, sarama.OffsetOldest)
	}
	pom.AsyncClose()
}
