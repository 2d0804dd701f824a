package shadow_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"sync"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow"
	"github.com/fleetstream/fleetstream/sinks/shadow/target"
)

// fakeBackend records what it publishes; errs scripts the outcome of successive calls (nil
// succeeds).
type fakeBackend struct {
	mu        sync.Mutex
	published []codecs.Command
	calls     int
	errs      []error
}

func (f *fakeBackend) Name() string                  { return "fake" }
func (f *fakeBackend) Connect(context.Context) error { return nil }
func (f *fakeBackend) Close(context.Context) error   { return nil }

func (f *fakeBackend) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		if err != nil {
			return &sinks.BatchError{Failed: []sinks.RecordError{{Index: 0, Err: err}}}
		}
	}
	for _, rec := range batch {
		cmd, err := target.DecodeCommand(rec.Value)
		if err != nil {
			return &sinks.BatchError{Failed: []sinks.RecordError{{Index: 0, Err: sinks.Permanent(err)}}}
		}
		f.published = append(f.published, cmd)
	}
	return nil
}

func (f *fakeBackend) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.published {
		out = append(out, c.ID)
	}
	return out
}

type harness struct {
	tt      *tester.Tester
	backend *fakeBackend
	reg     *prometheus.Registry
	dead    *tester.QueueTracker
}

func start(t *testing.T, edit func(*shadow.Config), errs ...error) *harness {
	t.Helper()
	h := &harness{tt: tester.New(t), backend: &fakeBackend{errs: errs}, reg: prometheus.NewRegistry()}
	m, err := shadow.NewMetrics(h.reg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := shadow.DefaultConfig()
	cfg.Backend, cfg.Metrics = h.backend, m
	cfg.Retry = shadow.Retry{Initial: time.Millisecond, Max: 4 * time.Millisecond, Multiplier: 2}
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	proc, err := goka.NewProcessor(nil, shadow.Define(cfg), goka.WithTester(h.tt), goka.WithLogger(log.New(io.Discard, "", 0)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("processor stopped with %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("processor did not stop")
		}
	})
	h.dead = h.tt.NewQueueTracker(string(shadow.DefaultDeadLetters))
	return h
}

func command(vin, trip string) codecs.Command {
	return codecs.Command{
		ID:       codecs.CommandID(vin, trip, "P0300", codecs.CommandEngineStop),
		VIN:      vin,
		Action:   codecs.CommandEngineStop,
		Reason:   "dtc P0300",
		Code:     "P0300",
		TripID:   trip,
		IssuedAt: time.Now().Add(-time.Second).UTC(),
	}
}

func encode(t *testing.T, c codecs.Command) []byte {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (h *harness) consume(t *testing.T, key string, value []byte) {
	t.Helper()
	h.tt.Consume(string(shadow.DefaultCommands), key, value)
}

func (h *harness) deadLetters() []*codecs.DeadLetter {
	var out []*codecs.DeadLetter
	for {
		_, v, ok := h.dead.Next()
		if !ok {
			return out
		}
		out = append(out, v.(*codecs.DeadLetter))
	}
}

func (h *harness) delivered(t *testing.T, result string) float64 {
	t.Helper()
	return metric(t, h.reg, "fleetstream_commands_delivered_total", map[string]string{"backend": "fake", "result": result})
}

// metric returns a counter's value or a histogram's sample count.
func metric(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if match(m.GetLabel(), labels) {
				if hist := m.GetHistogram(); hist != nil {
					return float64(hist.GetSampleCount())
				}
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func match(pairs []*dto.LabelPair, want map[string]string) bool {
	if len(pairs) != len(want) {
		return false
	}
	for _, p := range pairs {
		if want[p.GetName()] != p.GetValue() {
			return false
		}
	}
	return true
}

func TestPublishesOnceAndRecordsTheID(t *testing.T) {
	h := start(t, nil)
	c := command("VIN00000000000001", "t1")
	h.consume(t, c.VIN, encode(t, c))

	if got := h.backend.ids(); len(got) != 1 || got[0] != c.ID {
		t.Fatalf("published %v, want [%s]", got, c.ID)
	}
	state, _ := h.tt.TableValue(shadow.Table, c.VIN).(*shadow.Delivered)
	if !state.Has(c.ID) || state.VIN != c.VIN || state.Commands[0].DeliveredAt.IsZero() {
		t.Fatalf("table %+v, want the id with its delivery time", state)
	}
	if h.delivered(t, shadow.ResultPublished) != 1 {
		t.Fatal("published not counted")
	}
	if n := metric(t, h.reg, "fleetstream_command_latency_seconds", map[string]string{"backend": "fake"}); n != 1 {
		t.Fatalf("latency observations %g, want 1", n)
	}
	if dl := h.deadLetters(); len(dl) != 0 {
		t.Fatalf("dead letters %v", dl)
	}
}

// The same command again (the dtc-monitor emitting it twice, a redelivery after a crash, a
// replay from an earlier offset) is not published again.
func TestDuplicateIDsAreNotPublishedAgain(t *testing.T) {
	h := start(t, nil)
	c1, c2 := command("VIN00000000000001", "t1"), command("VIN00000000000001", "t2")
	for _, c := range []codecs.Command{c1, c1, c2, c1, c2} {
		h.consume(t, c.VIN, encode(t, c))
	}
	// A copy with another issue time is the same command: identity is the id.
	again := c1
	again.IssuedAt = again.IssuedAt.Add(time.Hour)
	h.consume(t, again.VIN, encode(t, again))

	if got := h.backend.ids(); len(got) != 2 || got[0] != c1.ID || got[1] != c2.ID {
		t.Fatalf("published %v, want each id once", got)
	}
	if p, d := h.delivered(t, shadow.ResultPublished), h.delivered(t, shadow.ResultDuplicate); p != 2 || d != 4 {
		t.Fatalf("published %g duplicate %g, want 2 and 4", p, d)
	}
	// Dedup is per VIN: the same id under another VIN's key is another vehicle's table.
	other := command("VIN00000000000002", "t1")
	h.consume(t, other.VIN, encode(t, other))
	if got := h.backend.ids(); len(got) != 3 {
		t.Fatalf("published %v", got)
	}
}

func TestPoisonBytesBecomeDeadLetters(t *testing.T) {
	h := start(t, nil)
	good := command("VIN00000000000001", "t1")
	noID := good
	noID.ID = ""
	cases := []struct {
		key    string
		value  []byte
		reason codecs.Reason
	}{
		{"VIN00000000000001", []byte("\x00\xffnot json"), codecs.ReasonInvalidJSON},
		{"VIN00000000000001", encode(t, noID), target.ReasonMissingID},
		{"VIN00000000000009", encode(t, good), codecs.ReasonKeyMismatch},
	}
	for _, tc := range cases {
		h.consume(t, tc.key, tc.value)
	}
	h.consume(t, good.VIN, encode(t, good)) // the processor is still running

	dl := h.deadLetters()
	if len(dl) != len(cases) {
		t.Fatalf("%d dead letters, want %d: %+v", len(dl), len(cases), dl)
	}
	for i, tc := range cases {
		d := dl[i]
		if d.Reason != tc.reason || string(d.Value) != string(tc.value) || d.Stage != "command-sink" || d.Topic != "commands" || d.Key != tc.key {
			t.Errorf("dead letter %d: %+v, want reason %s and the original bytes", i, d, tc.reason)
		}
	}
	if got := h.backend.ids(); len(got) != 1 || got[0] != good.ID {
		t.Fatalf("published %v", got)
	}
	if f := h.delivered(t, shadow.ResultFailed); f != float64(len(cases)) {
		t.Fatalf("failed %g", f)
	}
}

func TestRetryableFailuresAreRetriedUntilPublished(t *testing.T) {
	busy := errors.New("broker busy")
	h := start(t, nil, busy, busy, fmt.Errorf("throttled: %w", context.DeadlineExceeded))
	c := command("VIN00000000000001", "t1")
	h.consume(t, c.VIN, encode(t, c))

	if got := h.backend.ids(); len(got) != 1 {
		t.Fatalf("published %v", got)
	}
	if r := metric(t, h.reg, "fleetstream_command_publish_retries_total", map[string]string{"backend": "fake"}); r != 3 {
		t.Fatalf("retries %g, want 3", r)
	}
	if !h.tt.TableValue(shadow.Table, c.VIN).(*shadow.Delivered).Has(c.ID) {
		t.Fatal("id not recorded")
	}
}

func TestPermanentFailureIsDeadLetteredWithTheReason(t *testing.T) {
	rejected := sinks.Permanent(errors.New("iot: Publish: InvalidRequestException"))
	unsupported := sinks.Permanent(&codecs.DecodeError{Reason: target.ReasonUnsupportedAction, Detail: "unlock"})
	h := start(t, nil, rejected, unsupported)
	c1, c2 := command("VIN00000000000001", "t1"), command("VIN00000000000001", "t2")
	h.consume(t, c1.VIN, encode(t, c1))
	h.consume(t, c2.VIN, encode(t, c2))

	dl := h.deadLetters()
	if len(dl) != 2 || dl[0].Reason != sinks.ReasonRejected || dl[1].Reason != target.ReasonUnsupportedAction {
		t.Fatalf("dead letters %+v", dl)
	}
	if dl[0].Detail == "" || string(dl[0].Value) != string(encode(t, c1)) {
		t.Fatalf("dead letter %+v: want the error and the original command", dl[0])
	}
	if v := h.tt.TableValue(shadow.Table, c1.VIN); v != nil && v.(*shadow.Delivered).Has(c1.ID) {
		t.Fatal("a failed command was recorded as delivered")
	}
	if h.backend.calls != 2 {
		t.Fatalf("%d calls: permanent failures are not retried", h.backend.calls)
	}
	// A later redelivery of the failed command publishes it (nothing recorded it).
	h.consume(t, c1.VIN, encode(t, c1))
	if got := h.backend.ids(); len(got) != 1 || got[0] != c1.ID {
		t.Fatalf("published %v", got)
	}
}

func TestTableKeepsTheNewestIDs(t *testing.T) {
	h := start(t, func(c *shadow.Config) { c.Remember = 3 })
	var cmds []codecs.Command
	for i := range 5 {
		c := command("VIN00000000000001", fmt.Sprintf("t%d", i))
		cmds = append(cmds, c)
		h.consume(t, c.VIN, encode(t, c))
	}
	state := h.tt.TableValue(shadow.Table, "VIN00000000000001").(*shadow.Delivered)
	if len(state.Commands) != 3 {
		t.Fatalf("table holds %d ids, want 3", len(state.Commands))
	}
	for i, c := range cmds[2:] {
		if state.Commands[i].ID != c.ID {
			t.Fatalf("table %+v, want the newest three in order", state.Commands)
		}
	}
	// The newest is still a duplicate.
	h.consume(t, cmds[4].VIN, encode(t, cmds[4]))
	if n := len(h.backend.ids()); n != 5 {
		t.Fatalf("published %d", n)
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := shadow.DefaultConfig()
	err := cfg.Validate()
	if err == nil {
		t.Fatal("a config without a backend validated")
	}
	cfg.Backend = &fakeBackend{}
	cfg.Remember = -1
	cfg.DeadLetters = "commands"
	cfg.Retry.Multiplier = 0.5
	err = cfg.Validate()
	for _, field := range []string{"Remember", "DeadLetters", "Retry.Multiplier"} {
		if err == nil || !contains(err.Error(), field) {
			t.Errorf("Validate = %v, want it to name %s", err, field)
		}
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub))
}
