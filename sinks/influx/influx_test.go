package influx_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/influx"
	"github.com/fleetstream/fleetstream/sinks/influx/influxtest"
	"github.com/fleetstream/fleetstream/sinks/sinktest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fakeHarness is a bucket on the v2 stand-in server.
type fakeHarness struct {
	srv   *influxtest.Server
	cfg   influx.Config
	fails int
}

func newFakeHarness(t *testing.T) *fakeHarness {
	srv := influxtest.NewServer(t)
	return &fakeHarness{srv: srv, cfg: v2Config(srv)}
}

func v2Config(srv *influxtest.Server) influx.Config {
	return influx.Config{URL: srv.URL, Org: srv.Org, Bucket: srv.Bucket, Token: srv.Token, MaxLinesPerRequest: 40}
}

func (h *fakeHarness) NewBackend(t *testing.T) sinks.Backend { return newBackend(t, h.cfg) }
func (h *fakeHarness) Stored(*testing.T) []sinktest.Item     { return items(h.srv.Points()) }
func (h *fakeHarness) RejectKeys(keys ...string) {
	for _, k := range keys {
		h.srv.RejectTag("vin", k)
	}
}
func (h *fakeHarness) HangNext() { h.srv.HangNext() }

// FailNext takes turns at throttling (429 with a zero Retry-After), 503 and 500.
func (h *fakeHarness) FailNext(n int) {
	for range n {
		switch h.fails % 3 {
		case 0:
			h.srv.FailNext(1, http.StatusTooManyRequests, "0")
		case 1:
			h.srv.FailNext(1, http.StatusServiceUnavailable, "")
		default:
			h.srv.FailNext(1, http.StatusInternalServerError, "")
		}
		h.fails++
	}
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Harness { return newFakeHarness(t) })
}

func newBackend(t *testing.T, cfg influx.Config) *influx.Backend {
	t.Helper()
	b, err := influx.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// items reads points back into the suite's Items, inverting the backend's mapping.
func items(points []influxtest.Point) []sinktest.Item {
	var out []sinktest.Item
	for _, p := range points {
		t := time.Unix(0, p.Time).UTC()
		str := func(k string) string { s, _ := p.Fields[k].(string); return s }
		num := func(k string) float64 { f, _ := p.Fields[k].(float64); return f }
		switch p.Measurement {
		case influx.DefaultTelemetryMeasurement:
			dims := map[string]string{}
			for k, v := range p.Tags {
				if k != "vin" && k != "trip_id" {
					dims[k] = v
				}
			}
			for k, v := range p.Fields {
				m := codecs.Measurement{VIN: p.Tags["vin"], TripID: p.Tags["trip_id"], Name: k, Time: t, Dimensions: dims}
				switch x := v.(type) {
				case float64:
					if base, ok := strings.CutSuffix(k, influx.LatitudeSuffix); ok {
						m.Name, m.Value = base, codecs.Location(x, num(base+influx.LongitudeSuffix))
					} else if strings.HasSuffix(k, influx.LongitudeSuffix) {
						continue
					} else {
						m.Value = codecs.Number(x)
					}
				case string:
					m.Value = codecs.String(x)
				case bool:
					m.Value = codecs.Bool(x)
				}
				out = append(out, sinktest.MeasurementItem(m))
			}
		case influx.DefaultAnomalyMeasurement:
			out = append(out, sinktest.AnomalyItem(codecs.Anomaly{
				ID: str("id"), VIN: p.Tags["vin"], TripID: p.Tags["trip_id"], Rule: p.Tags["rule"], Signal: p.Tags["signal"],
				State: codecs.AnomalyState(p.Tags["state"]), Severity: p.Tags["severity"], Value: num("value"), Threshold: num("threshold"),
				Message: str("message"), Time: t,
			}))
		case influx.DefaultDTCMeasurement:
			sw, _ := p.Fields["stop_worthy"].(bool)
			out = append(out, sinktest.DTCItem(codecs.DTCEvent{
				ID: str("id"), VIN: p.Tags["vin"], TripID: p.Tags["trip_id"], Code: p.Tags["code"], System: p.Tags["system"],
				Severity: p.Tags["severity"], StopWorthy: sw, Description: str("description"), Time: t,
			}))
		}
	}
	return out
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestConnectNamesWhatIsWrong(t *testing.T) {
	srv := influxtest.NewServer(t)
	if err := newBackend(t, v2Config(srv)).Connect(ctx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	v1 := influx.Config{URL: srv.URL, API: influx.APIv1, Database: srv.Database}
	if err := newBackend(t, v1).Connect(ctx(t)); err != nil {
		t.Fatalf("Connect v1: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*influx.Config)
		want   []string
	}{
		{"token", func(c *influx.Config) { c.Token = "wrong" }, []string{"unauthorized", "Token"}},
		{"bucket", func(c *influx.Config) { c.Bucket = "nope" }, []string{`bucket "nope" not found`, "create bucket"}},
		{"org", func(c *influx.Config) { c.Org = "nope" }, []string{`organization name "nope" not found`, "Org"}},
		{"v1 database", func(c *influx.Config) { *c = influx.Config{URL: c.URL, API: influx.APIv1, Database: "nope"} }, []string{"database not found", "CREATE DATABASE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := v2Config(srv)
			tc.change(&cfg)
			err := newBackend(t, cfg).Connect(ctx(t))
			if err == nil || sinks.Retryable(err) {
				t.Fatalf("Connect = %v, want a permanent error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
	// An unreachable server is not permanent: the worker's supervisor tries again.
	cfg := v2Config(srv)
	cfg.URL = "http://127.0.0.1:1"
	if err := newBackend(t, cfg).Connect(ctx(t)); err == nil || !sinks.Retryable(err) {
		t.Fatalf("Connect to a closed port = %v, want a retryable error", err)
	}
}

func records(t *testing.T, vehicles, ticks int) []sinks.Record {
	t.Helper()
	return sinktest.Place(sinktest.Dataset{Vehicles: vehicles, Ticks: ticks}.Records(), 1, 0)
}

func TestThrottlingHonoursRetryAfter(t *testing.T) {
	srv := influxtest.NewServer(t)
	b := newBackend(t, v2Config(srv))
	recs := records(t, 1, 1)
	now := time.Now()
	for _, tc := range []struct {
		status     int
		retryAfter string
		min, max   time.Duration
		has        bool
	}{
		{http.StatusTooManyRequests, "2", 2 * time.Second, 2 * time.Second, true},
		{http.StatusServiceUnavailable, now.Add(5 * time.Second).UTC().Format(http.TimeFormat), 3 * time.Second, 5 * time.Second, true},
		{http.StatusServiceUnavailable, "", 0, 0, false},
		{http.StatusBadGateway, "", 0, 0, false},
	} {
		srv.FailNext(1, tc.status, tc.retryAfter)
		err := b.WriteBatch(ctx(t), recs)
		if err == nil || !sinks.Retryable(err) {
			t.Fatalf("%d: WriteBatch = %v, want a retryable error", tc.status, err)
		}
		var be *sinks.BatchError
		if errors.As(err, &be) {
			t.Fatalf("%d: a failure of the whole request came as a BatchError: %v", tc.status, err)
		}
		d, ok := sinks.RetryAfter(err)
		if ok != tc.has || d < tc.min || d > tc.max {
			t.Errorf("%d Retry-After %q: RetryAfter = %s, %v; want %v in [%s, %s]", tc.status, tc.retryAfter, d, ok, tc.has, tc.min, tc.max)
		}
	}
	if err := b.WriteBatch(ctx(t), recs); err != nil {
		t.Fatal(err)
	}
}

// A field type conflict names no line: the request is halved until the conflicting line is
// alone, and a merged line is split, so only the conflicting record is refused.
func TestTypeConflictRefusesOnlyTheConflictingRecord(t *testing.T) {
	srv := influxtest.NewServer(t)
	b := newBackend(t, v2Config(srv))
	recs := records(t, 4, 3)
	if err := b.WriteBatch(ctx(t), recs[:4]); err != nil { // vehicle_speed is a float from now on
		t.Fatal(err)
	}
	// A record of the same vehicle and instant as one in the batch, but vehicle_speed as a
	// string: it is merged into that line and makes InfluxDB drop it.
	batch := append([]sinks.Record{}, recs[4:]...)
	for _, r := range batch {
		var m codecs.Measurement
		if r.Topic != sinktest.TopicTimeseries || jsonUnmarshal(r.Value, &m) != nil || m.Name != codecs.SignalVehicleSpeed {
			continue
		}
		m.Value = codecs.String("fast")
		bad := r
		bad.Offset, bad.Value = 1000, jsonMarshal(t, m)
		batch = append(batch, bad)
		break
	}
	err := b.WriteBatch(ctx(t), batch)
	var be *sinks.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 1 || be.Failed[0].Index != len(batch)-1 || sinks.Retryable(be.Failed[0].Err) {
		t.Fatalf("WriteBatch = %v, want only the conflicting record refused", err)
	}
	if r := sinks.DeadLetterReason(be.Failed[0].Err); r != influx.ReasonUnwritable || !strings.Contains(be.Failed[0].Err.Error(), "field type conflict") {
		t.Errorf("refusal: reason %q, %v", r, be.Failed[0].Err)
	}
	sinktest.Check(t, items(srv.Points()), recs, nil)
}

func TestMergesSignalsOfOneInstantAndGzips(t *testing.T) {
	srv := influxtest.NewServer(t)
	b := newBackend(t, v2Config(srv))
	recs := records(t, 1, 1)
	if err := b.WriteBatch(ctx(t), recs); err != nil {
		t.Fatal(err)
	}
	total, gzipped, bodies := srv.Requests()
	if total != 1 || gzipped != 1 {
		t.Fatalf("%d requests, %d gzipped; want 1 gzipped", total, gzipped)
	}
	got := bodies[0] + "\n"
	golden := filepath.Join("testdata", "dataset.golden.lp")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Fatalf("line protocol differs from %s (go test -update rewrites it):\n%s", golden, got)
	}
	if n := strings.Count(got, "\ntelemetry,") + strings.Count(got[:10], "telemetry,"); n != 1 {
		t.Fatalf("the 4 signals of one vehicle at one instant make %d telemetry lines, want 1", n)
	}

	cfg := v2Config(srv)
	cfg.NoGzip = true
	if err := newBackend(t, cfg).WriteBatch(ctx(t), recs); err != nil {
		t.Fatal(err)
	}
	if total, gzipped, _ := srv.Requests(); total != 2 || gzipped != 1 {
		t.Fatalf("NoGzip: %d requests, %d gzipped", total, gzipped)
	}
}

func TestV1WithBasicAuth(t *testing.T) {
	srv := influxtest.NewServer(t)
	srv.Username, srv.Password = "sink", "s3cret"
	cfg := influx.Config{URL: srv.URL, API: influx.APIv1, Database: srv.Database, Username: "sink", Password: "s3cret"}
	b := newBackend(t, cfg)
	if err := b.Connect(ctx(t)); err != nil {
		t.Fatal(err)
	}
	recs := records(t, 2, 2)
	if err := b.WriteBatch(ctx(t), recs); err != nil {
		t.Fatal(err)
	}
	sinktest.Check(t, items(srv.Points()), recs, nil)

	cfg.Password = "wrong"
	err := newBackend(t, cfg).WriteBatch(ctx(t), recs)
	if err == nil || sinks.Retryable(err) || !strings.Contains(err.Error(), "Username and Password") {
		t.Fatalf("wrong password: %v", err)
	}
	cfg.Password, cfg.RetentionPolicy = "s3cret", "nope"
	if err := newBackend(t, cfg).WriteBatch(ctx(t), recs); err == nil || sinks.Retryable(err) {
		t.Fatalf("unknown retention policy: %v, want a permanent error", err)
	}
}

func TestUnwritableRecordsAreRefused(t *testing.T) {
	srv := influxtest.NewServer(t)
	b := newBackend(t, v2Config(srv))
	good := records(t, 1, 1)
	m := codecs.Measurement{VIN: "V1", Name: "speed", Value: codecs.Number(1), Time: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		Dimensions: map[string]string{"path": `ends in \`}}
	null := codecs.Measurement{VIN: "V1", Name: "speed", Time: m.Time}
	batch := []sinks.Record{
		good[0],
		{Topic: "timeseries", Value: []byte(`{"vin":`)},
		{Topic: "timeseries", Value: jsonMarshal(t, m)},
		{Topic: "commands", Value: []byte(`{}`)},
		{Topic: "timeseries", Value: jsonMarshal(t, null)}, // no value: nothing to write, not an error
		good[1],
	}
	err := b.WriteBatch(ctx(t), batch)
	var be *sinks.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 3 {
		t.Fatalf("WriteBatch = %v, want 3 refused records", err)
	}
	want := []codecs.Reason{codecs.ReasonInvalidJSON, influx.ReasonUnwritable, influx.ReasonUnwritable}
	for i, f := range be.Failed {
		if f.Index != i+1 || sinks.Retryable(f.Err) || sinks.DeadLetterReason(f.Err) != want[i] {
			t.Errorf("failure %d: index %d reason %q retryable %v: %v", i, f.Index, sinks.DeadLetterReason(f.Err), sinks.Retryable(f.Err), f.Err)
		}
	}
	if len(srv.Points()) != 1 {
		t.Fatalf("%d points stored, want the 1 line of the good records", len(srv.Points()))
	}
}

func TestConfigValidate(t *testing.T) {
	ok := influx.Config{URL: "http://127.0.0.1:8086", Org: "o", Bucket: "b", Token: "t"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		change func(*influx.Config)
		want   string
	}{
		{func(c *influx.Config) { c.URL = "" }, "URL"},
		{func(c *influx.Config) { c.URL = "127.0.0.1:8086" }, "URL"},
		{func(c *influx.Config) { c.Org = "" }, "Org"},
		{func(c *influx.Config) { c.Bucket = "" }, "Bucket"},
		{func(c *influx.Config) { c.Token = "" }, "Token"},
		{func(c *influx.Config) { c.API = "v3" }, "API"},
		{func(c *influx.Config) { c.API = influx.APIv1 }, "Database"},
		{func(c *influx.Config) { c.API, c.Database, c.Password = influx.APIv1, "db", "p" }, "Username"},
		{func(c *influx.Config) { c.Timeout = -time.Second }, "Timeout"},
		{func(c *influx.Config) { c.AnomaliesTopic = "timeseries" }, "must differ"},
		{func(c *influx.Config) { c.TelemetryMeasurement = `bad\` }, "TelemetryMeasurement"},
	} {
		c := ok
		tc.change(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want it to name %s", err, tc.want)
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func jsonMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
