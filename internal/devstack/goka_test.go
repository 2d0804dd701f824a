package devstack

import (
	"context"
	"errors"
	"fmt"
	"log"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
)

// gokaSaramaConfig is a fresh sarama config for one goka builder: goka's builders write
// ClientID and the partitioner into the config they are given, so builders must not share one.
// goka.DefaultConfig returns a new config on every call (it does not touch goka's global one).
//
// The group timings are the fastest that work with goka (see doc.go): the session timeout must
// outlast the 5s goka waits between consumer-group sessions, so only the heartbeat is shortened
// (it is how quickly a member learns of a rebalance).
func gokaSaramaConfig(v sarama.KafkaVersion) *sarama.Config {
	cfg := goka.DefaultConfig()
	cfg.Version = v
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Group.Session.Timeout = 8 * time.Second
	cfg.Consumer.Group.Heartbeat.Interval = 250 * time.Millisecond
	cfg.Consumer.Group.Rebalance.Timeout = 10 * time.Second
	cfg.Consumer.MaxWaitTime = 100 * time.Millisecond
	cfg.Metadata.Retry.Backoff = 50 * time.Millisecond
	return cfg
}

func gokaTopicManagerConfig() *goka.TopicManagerConfig {
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = 1 // one broker; goka's default of 2 cannot be created
	tmc.Stream.Replication = 1
	return tmc
}

func gokaProcessorOptions(v sarama.KafkaVersion) []goka.ProcessorOption {
	return []goka.ProcessorOption{
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(gokaSaramaConfig(v))),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(gokaSaramaConfig(v))),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(gokaSaramaConfig(v), gokaTopicManagerConfig())),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(gokaSaramaConfig(v))),
		goka.WithStorageBuilder(storage.MemoryBuilder()),
	}
}

// gokaTestLogger sends the processor's log to the test output.
func gokaTestLogger(t testing.TB) goka.ProcessorOption {
	return goka.WithLogger(log.New(t.Output(), "goka: ", 0))
}

// countGraph counts messages per key in the group table "counter-table".
func countGraph() *goka.GroupGraph {
	return goka.DefineGroup("counter",
		goka.Input("events", new(codec.String), func(ctx goka.Context, _ any) {
			var n int64
			if v := ctx.Value(); v != nil {
				n = v.(int64)
			}
			ctx.SetValue(n + 1)
		}),
		goka.Persist(new(codec.Int64)),
	)
}

type runningProcessor struct {
	p    *goka.Processor
	stop context.CancelFunc
	done chan error
}

func startProcessor(ctx context.Context, t testing.TB, k *Kafka, v sarama.KafkaVersion) *runningProcessor {
	t.Helper()
	p, err := goka.NewProcessor(k.Brokers(), countGraph(), append(gokaProcessorOptions(v), gokaTestLogger(t))...)
	if err != nil {
		t.Fatalf("goka.NewProcessor: %v", err)
	}
	pctx, stop := context.WithCancel(ctx)
	rp := &runningProcessor{p: p, stop: stop, done: make(chan error, 1)}
	go func() { rp.done <- p.Run(pctx) }()
	if err := p.WaitForReadyContext(ctx); err != nil {
		t.Fatalf("processor not ready: %v", err)
	}
	return rp
}

func (rp *runningProcessor) shutdown(t testing.TB) {
	t.Helper()
	rp.stop()
	select {
	case err := <-rp.done:
		if err != nil {
			t.Fatalf("processor Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("processor did not stop within 10s")
	}
}

// waitCount polls the processor's group table until key has count want. Get fails while the
// key's partition is not (yet) assigned to p; that is retried too.
func waitCount(ctx context.Context, t testing.TB, p *goka.Processor, key string, want int64) {
	t.Helper()
	var (
		got any
		err error
	)
	for ctx.Err() == nil {
		got, err = p.Get(key)
		if err == nil && got == want {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("table value of %s = %v (err %v), want %d", key, got, err, want)
}

// TestGokaProcessor runs a goka processor with a group table against the embedded broker, stops
// it, and starts a new instance that must recover the table from Kafka and continue counting.
func TestGokaProcessor(t *testing.T) {
	versions := []sarama.KafkaVersion{
		sarama.V2_1_0_0,
		sarama.V2_8_0_0,
		sarama.V3_6_0_0,
		sarama.V3_9_0_0,
		sarama.V4_0_0_0,
	}
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) {
			t.Parallel()
			ctx := testCtx(t)
			k := startTestKafka(t, KafkaConfig{})
			runCounter(ctx, t, k, v, 0)
		})
	}
}

// TestGokaProcessorBrokerRestart is the `fleetstream dev --data-dir` case for goka: the group table
// log and the group's offsets survive a broker restart, so a processor on the new broker resumes
// with its state instead of recounting.
func TestGokaProcessorBrokerRestart(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dir := t.TempDir()
	v := sarama.V3_6_0_0

	k1 := startTestKafka(t, KafkaConfig{DataDir: dir})
	runCounter(ctx, t, k1, v, 0)
	k1.Close()

	k2 := startTestKafka(t, KafkaConfig{DataDir: dir})
	rp := startProcessor(ctx, t, k2, v)
	// Recovered from the table topic alone: the processor has not read any new input.
	waitCount(ctx, t, rp.p, "VIN-A", 4)
	emit(ctx, t, k2, v, "VIN-A")
	waitCount(ctx, t, rp.p, "VIN-A", 5)
	rp.shutdown(t)
}

// runCounter creates the input topic if needed, counts 3 then 1 more message for VIN-A across a
// processor restart, and leaves VIN-A at base+4.
func runCounter(ctx context.Context, t *testing.T, k *Kafka, v sarama.KafkaVersion, base int64) {
	t.Helper()
	createEvents(t, k, v)

	rp := startProcessor(ctx, t, k, v)
	for range 3 {
		emit(ctx, t, k, v, "VIN-A")
	}
	emit(ctx, t, k, v, "VIN-B")
	waitCount(ctx, t, rp.p, "VIN-A", base+3)
	waitCount(ctx, t, rp.p, "VIN-B", 1)
	rp.shutdown(t)

	// A new instance recovers the table (in-memory storage starts empty) and continues.
	rp = startProcessor(ctx, t, k, v)
	waitCount(ctx, t, rp.p, "VIN-A", base+3)
	emit(ctx, t, k, v, "VIN-A")
	waitCount(ctx, t, rp.p, "VIN-A", base+4)
	rp.shutdown(t)
}

func emit(ctx context.Context, t testing.TB, k *Kafka, v sarama.KafkaVersion, key string) {
	t.Helper()
	em, err := goka.NewEmitter(k.Brokers(), "events", new(codec.String),
		goka.WithEmitterProducerBuilder(goka.ProducerBuilderWithConfig(gokaSaramaConfig(v))),
		goka.WithEmitterTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(gokaSaramaConfig(v), gokaTopicManagerConfig())),
	)
	if err != nil {
		t.Fatalf("goka.NewEmitter: %v", err)
	}
	defer em.Finish()
	if err := em.EmitSync(key, fmt.Sprintf("event at %s", time.Now().Format(time.RFC3339Nano))); err != nil {
		t.Fatalf("emit: %v", err)
	}
}

// TestGokaTwoInstances scales a processor group out to two instances and back in: the
// partitions are split between them, and all return to the survivor when one stops. Each
// rebalance takes a little over 5s, goka's pause between consumer-group sessions.
func TestGokaTwoInstances(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	v := sarama.V3_6_0_0
	k := startTestKafka(t, KafkaConfig{})
	createEvents(t, k, v)

	p1 := startProcessor(ctx, t, k, v)
	emit(ctx, t, k, v, "VIN-A")
	waitCount(ctx, t, p1.p, "VIN-A", 1)

	p2 := startProcessor(ctx, t, k, v)
	waitPartitions(ctx, t, map[string]*goka.Processor{"p1": p1.p, "p2": p2.p}, 4, true)

	p2.shutdown(t)
	waitPartitions(ctx, t, map[string]*goka.Processor{"p1": p1.p}, 4, false)
	emit(ctx, t, k, v, "VIN-A")
	waitCount(ctx, t, p1.p, "VIN-A", 2)
	p1.shutdown(t)
}

// waitPartitions waits until the processors together own total partitions of the group, each
// owning some when split is set.
func waitPartitions(ctx context.Context, t testing.TB, ps map[string]*goka.Processor, total int, split bool) {
	t.Helper()
	owned := map[string]int{}
	for ctx.Err() == nil {
		sum, each := 0, true
		for name, p := range ps {
			owned[name] = len(p.Stats().Group)
			sum += owned[name]
			each = each && owned[name] > 0
		}
		if sum == total && (each || !split) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("partitions owned %v, want %d in total (split=%v)", owned, total, split)
}

func createEvents(t testing.TB, k *Kafka, v sarama.KafkaVersion) {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(k.Brokers(), gokaSaramaConfig(v))
	if err != nil {
		t.Fatalf("cluster admin: %v", err)
	}
	defer admin.Close()
	err = admin.CreateTopic("events", &sarama.TopicDetail{NumPartitions: 4, ReplicationFactor: 1}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		t.Fatalf("create topic: %v", err)
	}
}
