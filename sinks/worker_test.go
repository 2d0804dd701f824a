package sinks_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/fleetstream/fleetstream/processors"
	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/sinktest"
)

var sinkTopics = []string{sinktest.TopicTimeseries, sinktest.TopicAnomalies, sinktest.TopicDTCEvents}

// slowBackend delays every write, so batches are in flight when something happens.
type slowBackend struct {
	sinks.Backend
	delay  time.Duration
	writes atomic.Int64
}

func (b *slowBackend) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	b.writes.Add(1)
	select {
	case <-time.After(b.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return b.Backend.WriteBatch(ctx, batch)
}

// A second worker joining takes partitions from the first, which drains and commits what it
// fetched before letting them go: nothing is written twice and nothing is missed.
func TestWorkerRebalanceDrainsRevokedPartitions(t *testing.T) {
	k := sinktest.StartKafka(t, 6, append(sinkTopics, sinktest.TopicDeadLetters)...)
	mem := sinktest.NewMemory()
	const group = "rebalance-sink"
	recs := k.Produce(t, sinktest.Dataset{Vehicles: 12, Ticks: 10}.Records())

	a := &slowBackend{Backend: mem.NewBackend(t), delay: 15 * time.Millisecond}
	cfg := sinktest.WorkerConfig(t, k, group)
	cfg.MaxRecords = 5
	wa := sinktest.StartWorker(t, cfg, a)
	for a.writes.Load() < 5 {
		time.Sleep(10 * time.Millisecond)
	}
	b := &slowBackend{Backend: mem.NewBackend(t), delay: 15 * time.Millisecond}
	cfgB := sinktest.WorkerConfig(t, k, group)
	cfgB.MaxRecords = 5
	wb := sinktest.StartWorker(t, cfgB, b)
	recs = append(recs, k.Produce(t, sinktest.Dataset{Vehicles: 12, Ticks: 4, Start: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)}.Records())...)
	sinktest.WaitCaughtUp(t, k, group, 30*time.Second)
	wa.Stop(t)
	wb.Stop(t)

	if b.writes.Load() == 0 {
		t.Fatal("the second worker got no partition")
	}
	if n := mem.Rewrites(); n != 0 {
		t.Fatalf("%d records written twice: the revoked partitions were not drained and committed before the handover", n)
	}
	sinktest.Check(t, mem.Stored(t), recs, nil)
	t.Logf("first worker wrote %d batches, second %d", a.writes.Load(), b.writes.Load())
}

// alwaysFailing fails every write retryably.
type alwaysFailing struct {
	sinks.Backend
	calls atomic.Int64
}

func (b *alwaysFailing) WriteBatch(context.Context, []sinks.Record) error {
	b.calls.Add(1)
	return errors.New("503 Service Unavailable")
}

// A destination that keeps failing is retried until shutdown; nothing is committed, dropped
// or dead-lettered.
func TestWorkerRetriesUntilShutdown(t *testing.T) {
	k := sinktest.StartKafka(t, 1, append(sinkTopics, sinktest.TopicDeadLetters)...)
	k.Produce(t, sinktest.Dataset{Vehicles: 2, Ticks: 2}.Records())
	reg := prometheus.NewRegistry()
	cfg := sinktest.WorkerConfig(t, k, "failing-sink")
	cfg.Registerer = reg
	cfg.DrainTimeout = 200 * time.Millisecond
	b := &alwaysFailing{Backend: sinktest.NewMemory().NewBackend(t)}
	w := sinktest.StartWorker(t, cfg, b)
	for b.calls.Load() < 10 {
		time.Sleep(10 * time.Millisecond)
	}
	w.Stop(t)
	if c := k.Committed(t, "failing-sink"); len(c) != 0 {
		t.Fatalf("committed %v although nothing was written", c)
	}
	if dls := k.DeadLetters(t, sinktest.TopicDeadLetters); len(dls) != 0 {
		t.Fatalf("%d retryable failures dead-lettered", len(dls))
	}
	if n := counter(t, reg, "fleetstream_sink_retries_total", map[string]string{"sink": "failing-sink", "backend": "memory"}); n < 5 {
		t.Fatalf("retries_total = %v", n)
	}
}

// When the dead-letter topic cannot be written, the batch stays uncommitted and dead-lettering
// is retried until it succeeds.
func TestWorkerDeadLetterProduceFailureBlocksCommit(t *testing.T) {
	t.Parallel()
	k := sinktest.StartKafka(t, 1, append(sinkTopics, sinktest.TopicDeadLetters)...)
	var failing atomic.Bool
	failing.Store(true)
	var refusedProduces atomic.Int64
	k.Cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		k.Cluster.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		if !failing.Load() || len(pr.Topics) == 0 || pr.Topics[0].Topic != sinktest.TopicDeadLetters {
			return nil, nil, false
		}
		refusedProduces.Add(1)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotEnoughReplicas.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	mem := sinktest.NewMemory()
	mem.RejectKeys(sinktest.RejectedVIN)
	recs := k.Produce(t, sinktest.Dataset{VINs: []string{sinktest.VIN(1), sinktest.RejectedVIN}, Ticks: 2}.Records())
	const group = "dlq-sink"
	cfg := sinktest.WorkerConfig(t, k, group)
	cfg.Sarama = func(c *sarama.Config) {
		sinktest.Fast(c)
		c.Producer.Retry.Max = 1
		c.Producer.Retry.Backoff = 20 * time.Millisecond
	}
	w := sinktest.StartWorker(t, cfg, mem.NewBackend(t))
	for refusedProduces.Load() < 6 {
		time.Sleep(20 * time.Millisecond)
	}
	end := k.End(t, sinkTopics...)
	if c := k.Committed(t, group); sinktest.CaughtUp(c, end) {
		t.Fatalf("committed %v although the dead letters could not be produced", c)
	}
	failing.Store(false)
	sinktest.WaitCaughtUp(t, k, group, 20*time.Second)
	w.Stop(t)
	reject := func(r sinks.Record) bool { return string(r.Key) == sinktest.RejectedVIN }
	sinktest.Check(t, mem.Stored(t), recs, reject)
	sinktest.CheckDeadLetters(t, k.DeadLetters(t, sinktest.TopicDeadLetters), recs, reject, group)
}

func TestWorkerMetricsShareTheDeadLetterFamily(t *testing.T) {
	k := sinktest.StartKafka(t, 1, append(sinkTopics, sinktest.TopicDeadLetters)...)
	reg := prometheus.NewRegistry()
	pm := processors.NewMetrics(reg) // the processors registered fleetstream_dead_letters_total first
	mem := sinktest.NewMemory()
	mem.RejectKeys(sinktest.RejectedVIN)
	mem.FailNext(2)
	k.Produce(t, sinktest.Dataset{VINs: []string{sinktest.VIN(1), sinktest.RejectedVIN}, Ticks: 3}.Records())
	cfg := sinktest.WorkerConfig(t, k, "metrics-sink")
	cfg.Registerer = reg
	w := sinktest.StartWorker(t, cfg, mem.NewBackend(t))
	// A second sink on the same registry shares the families too.
	cfg2 := sinktest.WorkerConfig(t, k, "other-sink")
	cfg2.Registerer = reg
	if _, err := sinks.NewWorker(cfg2, mem.NewBackend(t)); err != nil {
		t.Fatalf("second worker on one registry: %v", err)
	}
	sinktest.WaitCaughtUp(t, k, "metrics-sink", 20*time.Second)
	k.Produce(t, sinktest.Dataset{VINs: []string{sinktest.VIN(2)}, Ticks: 1}.Records()) // batches without failures
	sinktest.WaitCaughtUp(t, k, "metrics-sink", 20*time.Second)
	w.Stop(t)
	pm.DeadLetter("vehicle-state", "invalid_json")

	l := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	sb := l("sink", "metrics-sink", "backend", "memory")
	if n := counter(t, reg, "fleetstream_sink_batches_total", l("sink", "metrics-sink", "backend", "memory", "result", "ok")); n == 0 {
		t.Error("no ok batches counted")
	}
	if n := counter(t, reg, "fleetstream_sink_batches_total", l("sink", "metrics-sink", "backend", "memory", "result", "failed")); n < 2 {
		t.Errorf("failed batches = %v, want the 2 injected failures", n)
	}
	if n := counter(t, reg, "fleetstream_sink_batches_total", l("sink", "metrics-sink", "backend", "memory", "result", "partial")); n == 0 {
		t.Error("no partial batches counted")
	}
	written := counter(t, reg, "fleetstream_sink_records_total", l("sink", "metrics-sink", "backend", "memory", "result", "written"))
	dead := counter(t, reg, "fleetstream_sink_records_total", l("sink", "metrics-sink", "backend", "memory", "result", "dead_lettered"))
	if written == 0 || dead == 0 {
		t.Errorf("records written %v, dead_lettered %v", written, dead)
	}
	if n := counter(t, reg, "fleetstream_sink_retries_total", sb); n < 2 {
		t.Errorf("retries = %v", n)
	}
	if n := counter(t, reg, "fleetstream_dead_letters_total", l("group", "metrics-sink", "reason", string(sinktest.ReasonInjected))); n != dead {
		t.Errorf("dead_letters_total{group=metrics-sink} = %v, records dead_lettered %v", n, dead)
	}
	if n := counter(t, reg, "fleetstream_dead_letters_total", l("group", "vehicle-state", "reason", "invalid_json")); n != 1 {
		t.Errorf("the processors' dead letters are not in the shared family: %v", n)
	}
	if n := gaugeOrHistogram(t, reg, "fleetstream_sink_write_seconds", sb); n == 0 {
		t.Error("no write durations observed")
	}
	if n := gaugeOrHistogram(t, reg, "fleetstream_sink_inflight_batches", l("sink", "metrics-sink")); n != 0 {
		t.Errorf("inflight after stop = %v", n)
	}
}

type connectFails struct{ sinks.Backend }

func (connectFails) Connect(context.Context) error {
	return sinks.Permanent(errors.New("bucket \"telemetry\" not found: create it or fix --influx-bucket"))
}

func TestWorkerConnectFailureStopsRun(t *testing.T) {
	k := sinktest.StartKafka(t, 1, append(sinkTopics, sinktest.TopicDeadLetters)...)
	w, err := sinks.NewWorker(sinktest.WorkerConfig(t, k, "connect-sink"), connectFails{sinktest.NewMemory().NewBackend(t)})
	if err != nil {
		t.Fatal(err)
	}
	if w.Ready() == nil {
		t.Fatal("ready before Run")
	}
	err = w.Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not found") || !strings.Contains(err.Error(), "connect") {
		t.Fatalf("Run = %v, want the backend's Connect error", err)
	}
	if w.Ready() == nil {
		t.Fatal("ready after a failed start")
	}
	if err := w.Run(context.Background()); err == nil {
		t.Fatal("second Run accepted")
	}
}

func TestNewWorkerRejects(t *testing.T) {
	cfg := sinks.Config{Group: "g", Topics: []string{"t"}, DeadLetterTopic: "dl"}
	if _, err := sinks.NewWorker(cfg, nil); err == nil || !strings.Contains(err.Error(), "brokers") {
		t.Fatalf("NewWorker without brokers: %v", err)
	}
	cfg.Kafka.Brokers = []string{"127.0.0.1:9092"}
	if _, err := sinks.NewWorker(cfg, nil); err == nil || !strings.Contains(err.Error(), "backend") {
		t.Fatalf("NewWorker without backend: %v", err)
	}
	// A registry holding another fleetstream_dead_letters_total is a wiring error reported at start.
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fleetstream_dead_letters_total", Help: "other"}, []string{"group", "reason"}))
	cfg.Registerer = reg
	if _, err := sinks.NewWorker(cfg, sinktest.NewMemory().NewBackend(t)); err == nil || !strings.Contains(err.Error(), "Config.DeadLetters") {
		t.Fatalf("conflicting dead-letter family: %v", err)
	}
	dl, err := sinks.NewDeadLetterCounter(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cfg.DeadLetters = dl
	if _, err := sinks.NewWorker(cfg, sinktest.NewMemory().NewBackend(t)); err != nil {
		t.Fatalf("with an injected family: %v", err)
	}
}

func find(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				got[lp.GetName()] = lp.GetValue()
			}
			if len(got) != len(labels) {
				continue
			}
			for k, v := range labels {
				if got[k] != v {
					continue metric
				}
			}
			return m
		}
	}
	return nil
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	if m := find(t, reg, name, labels); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

func gaugeOrHistogram(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	m := find(t, reg, name, labels)
	if m == nil {
		return 0
	}
	if m.Histogram != nil {
		return float64(m.GetHistogram().GetSampleCount())
	}
	return m.GetGauge().GetValue()
}
