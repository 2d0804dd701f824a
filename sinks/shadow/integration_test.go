package shadow_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow"
	"github.com/fleetstream/fleetstream/sinks/shadow/internal/brokertest"
	"github.com/fleetstream/fleetstream/topology"
)

// gate fails every write retryably while closed, as a broker that cannot be reached would.
type gate struct {
	sinks.Backend
	closed atomic.Bool
}

func (g *gate) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	if g.closed.Load() {
		return errors.New("gate closed: broker unreachable")
	}
	return g.Backend.WriteBatch(ctx, batch)
}

type running struct {
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

// runSink starts the command sink over TCP against the embedded Kafka, publishing through an
// MQTT backend to broker (behind g when g is not nil).
func runSink(t *testing.T, kafka []string, broker string, g *gate) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	bc := shadow.DefaultBackendConfig()
	bc.MQTT.Brokers = []string{broker}
	bc.MQTT.ClientID = "fleetstream-command-sink-it"
	cfg := shadow.DefaultConfig()
	cfg.Retry = shadow.Retry{Initial: 20 * time.Millisecond, Max: 100 * time.Millisecond, Multiplier: 2}
	if os.Getenv("SHADOW_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if g != nil {
		b, err := shadow.NewBackend(ctx, bc, nil)
		if err != nil {
			t.Fatal(err)
		}
		g.Backend = b
		cfg.Backend = g
	}
	r := &running{reg: prometheus.NewRegistry(), cancel: cancel, done: make(chan error, 1)}
	sink, err := shadow.New(ctx, cfg, bc, r.reg)
	if err != nil {
		t.Fatal(err)
	}
	k := topology.DefaultKafka()
	k.Brokers = kafka
	k.ClientID = "shadow-it"
	builder := topology.Builder{Kafka: k, Replication: 1, Logger: cfg.Logger}
	go func() { r.done <- sink.Run(ctx, builder) }()
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("sink stopped with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sink did not stop")
	}
}

func (r *running) waitFor(t *testing.T, result string, n float64) {
	t.Helper()
	labels := map[string]string{"backend": "mqtt", "result": result}
	deadline := time.Now().Add(20 * time.Second)
	for metric(t, r.reg, "fleetstream_commands_delivered_total", labels) < n {
		select {
		case err := <-r.done:
			t.Fatalf("sink stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %g after 20s, want %g", result, metric(t, r.reg, "fleetstream_commands_delivered_total", labels), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The command sink over TCP against the embedded Kafka and a real MQTT broker: a command
// produced twice, a replay of the topic from the start and a command interrupted by a
// shutdown each reach the vehicle's topic exactly once.
func TestExactlyOnceOverKafkaAndMQTT(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "commands", "dead-letters"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cluster.Close)
	kafka := cluster.ListenAddrs()

	broker := brokertest.StartMochi(t, nil)
	sub := brokertest.Subscribe(t, broker.URL, "$aws/things/+/shadow/update", nil)

	producer, err := kgo.NewClient(kgo.SeedBrokers(kafka...), kgo.DefaultProduceTopic("commands"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(producer.Close)
	produce := func(cmds ...codecs.Command) {
		t.Helper()
		for _, c := range cmds {
			rec := &kgo.Record{Key: []byte(c.VIN), Value: encode(t, c)}
			if err := producer.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	c1 := command("VIN00000000000001", "t1")
	c2 := command("VIN00000000000002", "t1")

	// The same command twice.
	first := runSink(t, kafka, broker.URL, nil)
	produce(c1, c1)
	first.waitFor(t, shadow.ResultPublished, 1)
	first.waitFor(t, shadow.ResultDuplicate, 1)
	first.stop(t)

	// A replay: the group's offsets are deleted, so a new worker reads commands from the
	// start; its table (recovered from command-sink-table, storage is in memory) knows c1.
	adm := kadm.NewClient(producer)
	if _, err := adm.DeleteGroup(context.Background(), string(shadow.Group)); err != nil {
		t.Fatalf("delete group offsets: %v", err)
	}
	replay := runSink(t, kafka, broker.URL, nil)
	replay.waitFor(t, shadow.ResultDuplicate, 2)
	produce(c2)
	replay.waitFor(t, shadow.ResultPublished, 1)
	replay.stop(t)

	// A command that cannot be delivered before the worker stops is not committed: the next
	// worker delivers it.
	c3 := command("VIN00000000000003", "t1")
	closed := &gate{}
	closed.closed.Store(true)
	blocked := runSink(t, kafka, broker.URL, closed)
	produce(c3)
	deadline := time.Now().Add(20 * time.Second)
	for metric(t, blocked.reg, "fleetstream_command_publish_retries_total", map[string]string{"backend": "mqtt"}) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the blocked sink never retried c3")
		}
		time.Sleep(20 * time.Millisecond)
	}
	blocked.stop(t)
	next := runSink(t, kafka, broker.URL, nil)
	next.waitFor(t, shadow.ResultPublished, 1)
	next.stop(t)

	got := sub.WaitFor(t, 3, 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	got = sub.Messages()
	want := []codecs.Command{c1, c2, c3}
	if len(got) != len(want) {
		t.Fatalf("subscriber got %d messages, want %d (each command once): %v", len(got), len(want), got)
	}
	for i, c := range want {
		if got[i].Topic != "$aws/things/"+c.VIN+"/shadow/update" || string(got[i].Payload) != `{"state":{"desired":{"engine":"stop"}},"clientToken":"`+c.ID+`"}` {
			t.Errorf("message %d: %s %s, want command %s", i, got[i].Topic, got[i].Payload, c.ID)
		}
	}
}
