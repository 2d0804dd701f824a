package sinktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
)

// Harness is one destination under test, fresh for each case of the suite.
type Harness interface {
	// NewBackend returns a new, unconnected backend writing to the harness's destination. The
	// suite calls it more than once per harness (a restarted worker) and connects, uses and
	// closes each backend it gets.
	NewBackend(t *testing.T) sinks.Backend
	// Stored returns what the destination holds now as Items, in the destination's order
	// (write order for an append-only destination).
	Stored(t *testing.T) []Item
	// FailNext makes the next n writes reaching the destination fail as a whole with a
	// retryable error, as throttling or a 5xx would.
	FailNext(n int)
	// RejectKeys makes the destination refuse, for good, every record with one of keys (VINs)
	// from now on, as it refuses a malformed point.
	RejectKeys(keys ...string)
	// HangNext makes the next write block until its context is done.
	HangNext()
}

// Run runs the conformance suite against the destinations factory makes: the backend
// directly (delivery, ordering, retries, partial failures, hangs, close and reopen), then
// through the delivery core's Worker against an embedded Kafka broker (commits, dead letters,
// drain on shutdown, redelivery after a crash).
func Run(t *testing.T, factory func(t *testing.T) Harness) {
	t.Run("Direct", func(t *testing.T) {
		t.Run("Delivery", func(t *testing.T) { testDelivery(t, factory(t)) })
		t.Run("Ordering", func(t *testing.T) { testOrdering(t, factory(t)) })
		t.Run("RetryableFailure", func(t *testing.T) { testRetryable(t, factory(t)) })
		t.Run("PartialFailure", func(t *testing.T) { testPartial(t, factory(t)) })
		t.Run("Hang", func(t *testing.T) { testHang(t, factory(t)) })
		t.Run("CloseAndReopen", func(t *testing.T) { testCloseReopen(t, factory(t)) })
	})
	t.Run("Worker", func(t *testing.T) {
		t.Run("DeliveryCommitsDeadLetters", func(t *testing.T) { t.Parallel(); testWorkerDelivery(t, factory(t)) })
		t.Run("DrainOnShutdown", func(t *testing.T) { t.Parallel(); testWorkerDrain(t, factory(t)) })
		t.Run("RedeliveryAfterKill", func(t *testing.T) { t.Parallel(); testWorkerRedelivery(t, factory(t)) })
	})
}

// --- direct backend cases ---------------------------------------------------------------

func testDelivery(t *testing.T, h Harness) {
	recs := Place(Dataset{Vehicles: 4, Ticks: 10}.Records(), 2, 0)
	b := connect(t, h)
	for _, batch := range Batches(recs, 25) {
		if err := b.WriteBatch(ctxT(t, 10*time.Second), batch); err != nil {
			t.Fatalf("WriteBatch of %d records: %v", len(batch), err)
		}
	}
	closeBackend(t, b)
	Check(t, h.Stored(t), recs, nil)
}

func testOrdering(t *testing.T, h Harness) {
	at := time.Date(2024, 5, 1, 8, 30, 0, 0, time.UTC)
	var raw []Record
	raw = append(raw, Dataset{Vehicles: 2, Ticks: 2}.Records()...)
	raw = append(raw, Versions(VIN(1), 6, at)...)
	recs := Place(raw, 1, 100)
	b := connect(t, h)
	// Versions 1-3 in one batch, then 4, 5 and 6 one at a time.
	n := len(recs)
	for _, batch := range [][]sinks.Record{recs[:n-3], recs[n-3 : n-2], recs[n-2 : n-1], recs[n-1:]} {
		if err := b.WriteBatch(ctxT(t, 10*time.Second), batch); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
	}
	closeBackend(t, b)
	Check(t, h.Stored(t), recs, nil)
}

func testRetryable(t *testing.T, h Harness) {
	recs := Place(Dataset{Vehicles: 3, Ticks: 5}.Records(), 1, 0)
	b := connect(t, h)
	h.FailNext(2)
	err := b.WriteBatch(ctxT(t, 10*time.Second), recs)
	if err == nil {
		t.Fatal("WriteBatch succeeded while the destination failed")
	}
	if !sinks.Retryable(err) || hasPermanent(err) {
		t.Fatalf("a throttled or failing destination gave a permanent error: %v", err)
	}
	t.Logf("first attempt: %v", err)
	if refused := WriteAll(t, b, recs); len(refused) > 0 {
		t.Fatalf("records refused after retryable failures: %v", refused)
	}
	closeBackend(t, b)
	Check(t, h.Stored(t), recs, nil)
}

func testPartial(t *testing.T, h Harness) {
	raw := Dataset{VINs: []string{VIN(0), RejectedVIN, VIN(1)}, Ticks: 6}.Records()
	recs := Place(raw, 1, 0)
	h.RejectKeys(RejectedVIN)
	b := connect(t, h)
	refused := WriteAll(t, b, recs)
	closeBackend(t, b)
	for i, r := range recs {
		_, got := refused[i]
		if want := string(r.Key) == RejectedVIN; got != want {
			t.Errorf("record %d (%s, key %s): refused %v, want %v (err %v)", i, r.Topic, r.Key, got, want, refused[i])
		}
	}
	if len(refused) == 0 {
		t.Fatal("no record refused")
	}
	Check(t, h.Stored(t), recs, rejectKey(RejectedVIN))
}

func testHang(t *testing.T, h Harness) {
	recs := Place(Dataset{Vehicles: 2, Ticks: 3}.Records(), 1, 0)
	b := connect(t, h)
	h.HangNext()
	start := time.Now()
	err := b.WriteBatch(ctxT(t, 300*time.Millisecond), recs)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("WriteBatch ignored its context's deadline: returned after %s", took)
	}
	if err == nil {
		t.Fatal("WriteBatch succeeded although the destination hung until the deadline")
	}
	if hasPermanent(err) {
		t.Fatalf("a hung write gave a permanent error, which would dead-letter good records: %v", err)
	}
	if refused := WriteAll(t, b, recs); len(refused) > 0 {
		t.Fatalf("records refused after a hang: %v", refused)
	}
	closeBackend(t, b)
	Check(t, h.Stored(t), recs, nil)
}

func testCloseReopen(t *testing.T, h Harness) {
	recs := Place(Dataset{Vehicles: 3, Ticks: 8}.Records(), 1, 0)
	half := len(recs) / 2
	b1 := connect(t, h)
	for _, batch := range Batches(recs[:half], 10) {
		if err := b1.WriteBatch(ctxT(t, 10*time.Second), batch); err != nil {
			t.Fatalf("WriteBatch: %v", err)
		}
	}
	closeBackend(t, b1) // must flush whatever b1 held
	Check(t, h.Stored(t), recs[:half], nil)

	// A restarted sink gets the last uncommitted batch again, then goes on.
	b2 := connect(t, h)
	redelivered := recs[max(0, half-7):]
	for _, batch := range Batches(redelivered, 10) {
		if err := b2.WriteBatch(ctxT(t, 10*time.Second), batch); err != nil {
			t.Fatalf("WriteBatch after reopening: %v", err)
		}
	}
	closeBackend(t, b2)
	Check(t, h.Stored(t), recs, nil)
}

// --- through the worker, against Kafka --------------------------------------------------

var suiteTopics = []string{TopicTimeseries, TopicAnomalies, TopicDTCEvents}

func testWorkerDelivery(t *testing.T, h Harness) {
	k := StartKafka(t, 3, TopicTimeseries, TopicAnomalies, TopicDTCEvents, TopicDeadLetters)
	raw := Dataset{VINs: []string{VIN(0), VIN(1), RejectedVIN, VIN(2), VIN(3), VIN(4)}, Ticks: 8}.Records()
	raw = append(raw, Versions(VIN(3), 5, time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC))...)
	raw = append(raw, Record{Topic: TopicAnomalies, Key: VIN(4), Value: []byte(`{"not json`)})
	recs := k.Produce(t, raw)
	h.RejectKeys(RejectedVIN)
	h.FailNext(3)

	group := "sinktest-delivery"
	w := StartWorker(t, WorkerConfig(t, k, group), h.NewBackend(t))
	WaitCaughtUp(t, k, group, 20*time.Second)
	w.Stop(t)

	if c, e := k.Committed(t, group), k.End(t, suiteTopics...); !CaughtUp(c, e) {
		t.Fatalf("after stop: committed %v, end offsets %v", c, e)
	}
	undecodable := func(r sinks.Record) bool { return strings.HasPrefix(string(r.Value), `{"not json`) }
	refused := func(r sinks.Record) bool { return string(r.Key) == RejectedVIN || undecodable(r) }
	Check(t, h.Stored(t), recs, refused)
	CheckDeadLetters(t, k.DeadLetters(t, TopicDeadLetters), recs, refused, group)
}

func testWorkerDrain(t *testing.T, h Harness) {
	k := StartKafka(t, 3, TopicTimeseries, TopicAnomalies, TopicDTCEvents, TopicDeadLetters)
	recs := k.Produce(t, Dataset{Vehicles: 5, Ticks: 6}.Records())
	const maxRecords = 7
	full := 0 // records in full batches, which are written at once
	perPartition := map[string]int{}
	for _, r := range recs {
		perPartition[fmt.Sprint(r.Topic, r.Partition)]++
	}
	for _, n := range perPartition {
		full += n / maxRecords * maxRecords
	}
	counter := &countingBackend{Backend: h.NewBackend(t)}
	cfg := WorkerConfig(t, k, "sinktest-drain")
	cfg.MaxRecords = maxRecords
	cfg.Linger = time.Hour // only full batches go out until shutdown
	cfg.DrainTimeout = 10 * time.Second
	w := StartWorker(t, cfg, counter)
	waitFor(t, 20*time.Second, func() bool { return counter.records.Load() >= int64(full) }, "full batches written")
	time.Sleep(300 * time.Millisecond) // the rest of each partition was fetched with them
	if got := counter.records.Load(); got != int64(full) {
		t.Fatalf("%d records written before shutdown, want the %d of full batches (Linger ignored?)", got, full)
	}
	w.Stop(t)
	if c, e := k.Committed(t, "sinktest-drain"), k.End(t, suiteTopics...); !CaughtUp(c, e) {
		t.Fatalf("shutdown did not drain: committed %v, end offsets %v", c, e)
	}
	Check(t, h.Stored(t), recs, nil)
}

func testWorkerRedelivery(t *testing.T, h Harness) {
	k := StartKafka(t, 3, TopicTimeseries, TopicAnomalies, TopicDTCEvents, TopicDeadLetters)
	recs := k.Produce(t, Dataset{Vehicles: 6, Ticks: 6}.Records())
	group := "sinktest-redelivery"

	// The first worker dies after its third write reached the destination, before it could
	// commit: that write, and everything after, must come again from the second worker.
	dying := &dyingBackend{Backend: h.NewBackend(t), after: 3, dead: make(chan struct{})}
	cfg := WorkerConfig(t, k, group)
	cfg.MaxRecords = 10
	cfg.MaxInFlight = 1
	cfg.DrainTimeout = 200 * time.Millisecond
	w1 := StartWorker(t, cfg, dying)
	select {
	case <-dying.dead:
	case <-time.After(20 * time.Second):
		t.Fatal("the first worker never wrote three batches")
	}
	w1.Stop(t)
	committed := k.Committed(t, group)
	end := k.End(t, suiteTopics...)
	if CaughtUp(committed, end) {
		t.Fatalf("the killed worker committed everything (%v): its last write was never acknowledged", committed)
	}
	// Everything committed is in the destination: nothing is lost by a crash.
	stored := map[string]bool{}
	for _, it := range h.Stored(t) {
		stored[it.Topic+"/"+it.Key+"/"+it.ID] = true
	}
	for _, r := range recs {
		if r.Offset >= committed[r.Topic][r.Partition] {
			continue
		}
		items, _ := ItemsOf(r)
		for _, it := range items {
			if !stored[it.Topic+"/"+it.Key+"/"+it.ID] {
				t.Errorf("%s/%d@%d is committed but not in the destination", r.Topic, r.Partition, r.Offset)
			}
		}
	}

	w2 := StartWorker(t, WorkerConfig(t, k, group), h.NewBackend(t))
	WaitCaughtUp(t, k, group, 20*time.Second)
	w2.Stop(t)
	// Redelivered records must not show up twice: every fleetstream destination is idempotent.
	Check(t, h.Stored(t), recs, nil)
}

// countingBackend counts the records written.
type countingBackend struct {
	sinks.Backend
	records atomic.Int64
}

func (b *countingBackend) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	err := b.Backend.WriteBatch(ctx, batch)
	if err == nil {
		b.records.Add(int64(len(batch)))
	}
	return err
}

// dyingBackend writes through until its after-th write, which reaches the destination but
// never returns, as if the process died before it could commit; later writes hang too.
type dyingBackend struct {
	sinks.Backend
	after int
	n     atomic.Int32
	once  sync.Once
	dead  chan struct{}
}

func (b *dyingBackend) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	n := int(b.n.Add(1))
	if n > b.after {
		<-ctx.Done()
		return ctx.Err()
	}
	err := b.Backend.WriteBatch(ctx, batch)
	if n == b.after {
		b.once.Do(func() { close(b.dead) })
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

// --- helpers for harness authors ----------------------------------------------------------

// Batches splits records into batches as the delivery core does: runs of at most n records of
// one topic and partition, in order.
func Batches(recs []sinks.Record, n int) [][]sinks.Record {
	var out [][]sinks.Record
	open := map[string]int{} // topic/partition → index in out of its open batch
	for _, r := range recs {
		k := fmt.Sprint(r.Topic, "/", r.Partition)
		i, ok := open[k]
		if !ok || len(out[i]) >= n {
			out = append(out, nil)
			i = len(out) - 1
			open[k] = i
		}
		out[i] = append(out[i], r)
	}
	return out
}

// WriteAll writes recs as the delivery core would: it retries the records that failed
// retryably (up to 20 rounds) and returns those refused for good, by index in recs.
func WriteAll(t *testing.T, b sinks.Backend, recs []sinks.Record) map[int]error {
	t.Helper()
	refused := map[int]error{}
	pending := make([]int, len(recs))
	for i := range pending {
		pending[i] = i
	}
	for round := 0; len(pending) > 0; round++ {
		if round == 20 {
			t.Fatalf("%d records still failing after %d rounds", len(pending), round)
		}
		batch := make([]sinks.Record, len(pending))
		for j, i := range pending {
			batch[j] = recs[i]
		}
		err := b.WriteBatch(ctxT(t, 10*time.Second), batch)
		if err == nil {
			return refused
		}
		var be *sinks.BatchError
		var retry []int
		if errors.As(err, &be) {
			seen := map[int]bool{}
			for _, f := range be.Failed {
				if f.Index < 0 || f.Index >= len(batch) {
					t.Fatalf("BatchError names index %d of a batch of %d", f.Index, len(batch))
				}
				if seen[f.Index] {
					continue
				}
				seen[f.Index] = true
				if errors.Is(f.Err, sinks.ErrPermanent) {
					refused[pending[f.Index]] = f.Err
				} else {
					retry = append(retry, pending[f.Index])
				}
			}
			slices.Sort(retry)
		} else if errors.Is(err, sinks.ErrPermanent) {
			for _, i := range pending {
				refused[i] = err
			}
		} else {
			retry = pending
		}
		pending = retry
		time.Sleep(10 * time.Millisecond)
	}
	return refused
}

// Check compares what a destination holds with the records written to it, leaving out those
// for which skip (may be nil) is true: every fact is there, once, with the value of the last
// record that wrote it; nothing else is there.
func Check(t *testing.T, stored []Item, recs []sinks.Record, skip func(sinks.Record) bool) {
	t.Helper()
	problems, facts, err := Compare(stored, recs, skip)
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		n := len(problems)
		if n > 15 {
			problems = append(problems[:15], fmt.Sprintf("… and %d more", n-15))
		}
		t.Fatalf("destination holds %d items for %d facts; %d problems:\n%s", len(stored), facts, n, strings.Join(problems, "\n"))
	}
}

// Compare is Check's verdict: the problems found (sorted), and how many facts recs hold.
func Compare(stored []Item, recs []sinks.Record, skip func(sinks.Record) bool) (problems []string, facts int, err error) {
	type fact struct{ topic, key, id string }
	final := map[fact]string{}
	versions := map[fact]map[string]bool{}
	for _, r := range recs {
		if skip != nil && skip(r) {
			continue
		}
		items, err := ItemsOf(r)
		if err != nil {
			return nil, 0, fmt.Errorf("record %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		for _, it := range items {
			f := fact{it.Topic, it.Key, it.ID}
			final[f] = it.Value
			if versions[f] == nil {
				versions[f] = map[string]bool{}
			}
			versions[f][it.Value] = true
		}
	}
	last := map[fact]string{}
	seen := map[Item]int{}
	for _, it := range stored {
		f := fact{it.Topic, it.Key, it.ID}
		seen[it]++
		if seen[it] == 2 {
			problems = append(problems, "held twice: "+it.String())
		}
		if _, ok := final[f]; !ok {
			problems = append(problems, "not written (or refused): "+it.String())
			continue
		}
		if !versions[f][it.Value] {
			problems = append(problems, fmt.Sprintf("mangled: %s\n\twritten as one of %v", it, keys(versions[f])))
		}
		last[f] = it.Value
	}
	for f, want := range final {
		got, ok := last[f]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing: %s/%s/%s = %s", f.topic, f.key, f.id, want))
		case got != want && versions[f][got]:
			problems = append(problems, fmt.Sprintf("out of order: %s/%s/%s holds %s, the last record wrote %s", f.topic, f.key, f.id, got, want))
		}
	}
	slices.Sort(problems)
	return problems, len(final), nil
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// CheckDeadLetters checks that the refused records, and only they, are on the dead-letter
// topic with their original bytes, their origin and the group as stage.
func CheckDeadLetters(t *testing.T, dls []codecs.DeadLetter, recs []sinks.Record, refused func(sinks.Record) bool, group string) {
	t.Helper()
	type origin struct {
		topic     string
		partition int32
		offset    int64
	}
	got := map[origin]codecs.DeadLetter{}
	for _, dl := range dls {
		got[origin{dl.Topic, dl.Partition, dl.Offset}] = dl
	}
	want := 0
	for _, r := range recs {
		dl, ok := got[origin{r.Topic, r.Partition, r.Offset}]
		if !refused(r) {
			if ok {
				t.Errorf("%s/%d@%d was written but also dead-lettered (%s)", r.Topic, r.Partition, r.Offset, dl.Reason)
			}
			continue
		}
		want++
		switch {
		case !ok:
			t.Errorf("%s/%d@%d was refused but is not on the dead-letter topic", r.Topic, r.Partition, r.Offset)
		case string(dl.Value) != string(r.Value) || dl.Key != string(r.Key):
			t.Errorf("dead letter of %s/%d@%d does not carry the original key and bytes: key %q value %q", r.Topic, r.Partition, r.Offset, dl.Key, dl.Value)
		case dl.Stage != group || dl.Reason == "" || dl.Detail == "":
			t.Errorf("dead letter of %s/%d@%d: stage %q reason %q detail %q; want stage %q and a reason and detail", r.Topic, r.Partition, r.Offset, dl.Stage, dl.Reason, dl.Detail, group)
		}
	}
	if want == 0 {
		t.Fatal("the test refused no record")
	}
	t.Logf("%d dead letters for %d refused records; e.g. reason %q: %s", len(dls), want, dls[0].Reason, dls[0].Detail)
}

// RunningWorker is a worker started by StartWorker.
type RunningWorker struct {
	W      *sinks.Worker
	cancel context.CancelFunc
	done   chan error
	stop   time.Duration
}

// WorkerConfig is a worker configuration for tests: the suite's topics, small batches and
// backoffs, fast heartbeats, a registry of its own, and warnings logged to t.
func WorkerConfig(t *testing.T, k *Kafka, group string) sinks.Config {
	return sinks.Config{
		Group: group, Topics: suiteTopics, Kafka: k.Config(), DeadLetterTopic: TopicDeadLetters,
		MaxRecords: 20, Linger: 20 * time.Millisecond, MaxInFlight: 4,
		InitialBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		WriteTimeout: 5 * time.Second, DrainTimeout: 5 * time.Second,
		Logger: TestLogger(t, slog.LevelWarn), Registerer: prometheus.NewRegistry(), Sarama: Fast,
	}
}

// StartWorker builds a worker and runs it until Stop (or the end of the test), waiting until it
// has joined its group.
func StartWorker(t *testing.T, cfg sinks.Config, b sinks.Backend) *RunningWorker {
	t.Helper()
	w, err := sinks.NewWorker(cfg, b)
	if err != nil {
		t.Fatalf("NewWorker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rw := &RunningWorker{W: w, cancel: cancel, done: make(chan error, 1), stop: cfg.WithDefaults().DrainTimeout + 10*time.Second}
	go func() { rw.done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-rw.done
	})
	waitFor(t, 15*time.Second, func() bool {
		select {
		case err := <-rw.done:
			rw.done <- err
			t.Fatalf("worker stopped before it was ready: %v", err)
		default:
		}
		return w.Ready() == nil
	}, "worker ready")
	return rw
}

// Stop cancels the worker and waits for Run to return nil.
func (rw *RunningWorker) Stop(t *testing.T) {
	t.Helper()
	rw.cancel()
	select {
	case err := <-rw.done:
		rw.done <- err
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(rw.stop):
		t.Fatalf("Run did not return within %s of cancellation", rw.stop)
	}
}

// WaitCaughtUp waits until group has committed the end offset of every non-empty partition of
// the suite's topics.
func WaitCaughtUp(t *testing.T, k *Kafka, group string, timeout time.Duration) {
	t.Helper()
	end := k.End(t, suiteTopics...)
	var last Offsets
	waitFor(t, timeout, func() bool {
		last = k.Committed(t, group)
		return CaughtUp(last, end)
	}, fmt.Sprintf("group %s to commit %v", group, end))
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestLogger logs at level and above to t while the test runs.
func TestLogger(t *testing.T, level slog.Level) *slog.Logger {
	lw := &testWriter{t: t}
	t.Cleanup(lw.stop)
	return slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	mu      sync.Mutex
	t       *testing.T
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}

var _ io.Writer = (*testWriter)(nil)

func connect(t *testing.T, h Harness) sinks.Backend {
	t.Helper()
	b := h.NewBackend(t)
	if err := b.Connect(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return b
}

func closeBackend(t *testing.T, b sinks.Backend) {
	t.Helper()
	if err := b.Close(ctxT(t, 10*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func hasPermanent(err error) bool {
	var be *sinks.BatchError
	if errors.As(err, &be) {
		for _, f := range be.Failed {
			if errors.Is(f.Err, sinks.ErrPermanent) {
				return true
			}
		}
		return false
	}
	return errors.Is(err, sinks.ErrPermanent)
}

func rejectKey(key string) func(sinks.Record) bool {
	return func(r sinks.Record) bool { return string(r.Key) == key }
}
