package processors_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors"
	"github.com/fleetstream/fleetstream/processors/internal/processortest"
)

// gokaContext is embedded under another name: goka.Context has a method called Context.
type gokaContext = goka.Context

// fakeContext is the part of goka.Context DeadLetter reads; other methods panic.
type fakeContext struct {
	gokaContext
	ts      time.Time
	emitted []any
}

func (c *fakeContext) Topic() goka.Stream   { return "telemetry" }
func (c *fakeContext) Partition() int32     { return 3 }
func (c *fakeContext) Offset() int64        { return 42 }
func (c *fakeContext) Key() string          { return "VIN1" }
func (c *fakeContext) Timestamp() time.Time { return c.ts }
func (c *fakeContext) Emit(_ goka.Stream, _ string, v any, _ ...goka.ContextOption) {
	c.emitted = append(c.emitted, v)
}

func TestDeadLetter(t *testing.T) {
	ts := time.Date(2021, 3, 6, 8, 0, 0, 0, time.FixedZone("x", 3600))
	raw := []byte("not json")
	tests := []struct {
		name   string
		err    error
		reason codecs.Reason
		detail string
	}{
		{"decode error", &codecs.DecodeError{Reason: codecs.ReasonInvalidJSON, Detail: "eof"}, codecs.ReasonInvalidJSON, "eof"},
		{"wrapped decode error", fmt.Errorf("decode: %w", &codecs.DecodeError{Reason: codecs.ReasonMissingVIN}), codecs.ReasonMissingVIN, ""},
		{"given reason", processors.Reject(codecs.ReasonKeyMismatch, "vin %s", "X"), codecs.ReasonKeyMismatch, "vin X"},
		{"other error", errors.New("boom"), processors.ReasonUnprocessable, "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dl := processors.DeadLetter(&fakeContext{ts: ts}, "vehicle-state", raw, tc.err)
			want := codecs.DeadLetter{Topic: "telemetry", Partition: 3, Offset: 42, Key: "VIN1", Value: raw,
				Reason: tc.reason, Detail: tc.detail, Stage: "vehicle-state", Time: ts.UTC()}
			if fmt.Sprint(*dl) != fmt.Sprint(want) {
				t.Errorf("DeadLetter = %+v\nwant %+v", *dl, want)
			}
		})
	}
	if dl := processors.DeadLetter(&fakeContext{}, "g", nil, errors.New("x")); dl.Time.IsZero() {
		t.Error("a record without a timestamp got a zero dead-letter time")
	}
}

func TestEmitDeadLetter(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := processors.NewMetrics(reg)
	ctx := &fakeContext{}
	processors.EmitDeadLetter(ctx, "dead-letters", "trip-state", []byte("x"), processors.CheckKey("VIN1", "VIN2"), m)
	if len(ctx.emitted) != 1 || ctx.emitted[0].(*codecs.DeadLetter).Reason != codecs.ReasonKeyMismatch {
		t.Fatalf("emitted %+v", ctx.emitted)
	}
	if got := processortest.MetricValue(t, reg, "fleetstream_dead_letters_total", map[string]string{"group": "trip-state", "reason": "key_mismatch"}); got != 1 {
		t.Errorf("dead letters counted %v, want 1", got)
	}
}

func TestCheckKey(t *testing.T) {
	if err := processors.CheckKey("VIN1", "VIN1"); err != nil {
		t.Errorf("same key: %v", err)
	}
	var de *codecs.DecodeError
	if err := processors.CheckKey("VIN1", "VIN2"); !errors.As(err, &de) || de.Reason != codecs.ReasonKeyMismatch {
		t.Errorf("other key: %v", err)
	}
}

func TestRawValue(t *testing.T) {
	for _, tc := range []struct {
		msg  any
		want string
		ok   bool
	}{
		{[]byte("a"), "a", true}, {"b", "b", true}, {nil, "", true}, {42, "", false},
	} {
		got, err := processors.RawValue(tc.msg)
		if string(got) != tc.want || (err == nil) != tc.ok {
			t.Errorf("RawValue(%#v) = %q, %v", tc.msg, got, err)
		}
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := processors.NewMetrics(reg)
	again := processors.NewMetrics(reg) // a second NewMetrics on one registry shares the collectors
	now := time.Now()
	m.DeadLetter("trip-state", codecs.ReasonInvalidJSON)
	again.DeadLetter("trip-state", codecs.ReasonInvalidJSON)
	m.Anomaly("overspeed", codecs.AnomalyOpen)
	m.DTCEvent("critical")
	m.Command(processors.CommandIssued)
	m.Command(processors.CommandDuplicate)
	m.ObserveLag("vehicle-state", now.Add(-time.Second), now)
	m.ObserveLag("vehicle-state", now.Add(time.Second), now) // clock skew: counted as no lag
	m.ObserveLag("vehicle-state", time.Time{}, now)          // no event time: skipped

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"fleetstream_dead_letters_total", map[string]string{"group": "trip-state", "reason": "invalid_json"}, 2},
		{"fleetstream_anomalies_total", map[string]string{"rule": "overspeed", "state": "open"}, 1},
		{"fleetstream_dtc_events_total", map[string]string{"severity": "critical"}, 1},
		{"fleetstream_commands_issued_total", map[string]string{"result": "issued"}, 1},
		{"fleetstream_commands_issued_total", map[string]string{"result": "duplicate"}, 1},
		{"fleetstream_event_time_lag_seconds", map[string]string{"group": "vehicle-state"}, 2},
	} {
		if got := processortest.MetricValue(t, reg, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}

	var none *processors.Metrics // nil records nothing and does not panic
	none.DeadLetter("g", codecs.ReasonInvalidJSON)
	none.Anomaly("r", codecs.AnomalyOpen)
	none.DTCEvent("info")
	none.Command(processors.CommandIssued)
	none.ObserveLag("g", now, now)
	processors.NewMetrics(nil).Command(processors.CommandIssued)
}

func TestMetricsConflict(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "fleetstream_dtc_events_total", Help: "other"}))
	defer func() {
		if recover() == nil {
			t.Error("NewMetrics did not panic on a conflicting collector")
		}
	}()
	processors.NewMetrics(reg)
}

func TestValidSeverity(t *testing.T) {
	for s, want := range map[string]bool{"info": true, "warning": true, "critical": true, "": false, "high": false} {
		if processors.ValidSeverity(s) != want {
			t.Errorf("ValidSeverity(%q) != %v", s, want)
		}
	}
}
