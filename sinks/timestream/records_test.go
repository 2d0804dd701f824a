package timestream

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/fleetstream/fleetstream/codecs"
)

func TestEntryOfMeasureTypes(t *testing.T) {
	conv := newConverter(Config{BigintMeasures: []string{"trip_count"}, ExtraDimensions: []string{"fleet"}}.WithDefaults())
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		value codecs.Value
		want  string // measures as name:TYPE=value, or "error: <substring>"
	}{
		{"odometer", codecs.Number(123456), "odometer:DOUBLE=123456"},
		{"vehicle_speed", codecs.Number(88.25), "vehicle_speed:DOUBLE=88.25"},
		{"trip_count", codecs.Number(42), "trip_count:BIGINT=42"},
		{"trip_count", codecs.Number(4.5), "error: not an integer"},
		{"parking_brake_status", codecs.Bool(false), "parking_brake_status:BOOLEAN=false"},
		{"ignition_status", codecs.String("run"), "ignition_status:VARCHAR=run"},
		{"location", codecs.Location(42.3, -83.1), "location_latitude:DOUBLE=42.3 location_longitude:DOUBLE=-83.1"},
		{"ignition_status", codecs.String(""), "error: empty string"},
		{"ignition_status", codecs.String(strings.Repeat("x", 2049)), "error: 2048"},
		{"oil_temp", codecs.Number(math.Inf(1)), "error: finite"},
		{"oil_temp", codecs.Value{}, "error: no value"},
		{"fleet", codecs.Number(1), "error: dimension"},
		{"time", codecs.Number(1), "error: reserved"},
		{"ts_speed", codecs.Number(1), "error: prefix"},
		{"a:b", codecs.Number(1), "error: character"},
	}
	for _, c := range cases {
		m := codecs.Measurement{VIN: "V1", Name: c.name, Value: c.value, Time: at}
		e, err := conv.entryOf(&m, 1, conv.dimNames())
		var got string
		if err != nil {
			got = "error: " + err.Error()
			if want, ok := strings.CutPrefix(c.want, "error: "); !ok || !strings.Contains(err.Error(), want) {
				t.Errorf("%s %v: got %s, want %s", c.name, c.value, got, c.want)
			}
			continue
		}
		var parts []string
		for _, m := range e.measures {
			parts = append(parts, fmt.Sprintf("%s:%s=%s", m.name, m.typ, m.value))
		}
		if got = strings.Join(parts, " "); got != c.want {
			t.Errorf("%s %v: got %s, want %s", c.name, c.value, got, c.want)
		}
	}
}

func testBucket(startMs int64, entries ...*entry) *bucket {
	b := newBucket("vin=V1\x00", []dim{{"vin", "V1"}}, startMs)
	for _, e := range entries {
		b.add(e)
	}
	return b
}

func num1(signal string, at time.Time, v float64) *entry {
	return &entry{signal: signal, time: at, seq: at.UnixNano(), measures: []measure{{signal, typeDouble, formatDouble(v)}}}
}

func TestBucketVersionGrowsWithContent(t *testing.T) {
	conv := newConverter(Config{}.WithDefaults())
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	start := t0.UnixMilli()
	version := func(es ...*entry) int64 {
		recs, _ := conv.bucketRecords(testBucket(start, es...))
		return recs[0].version
	}
	a := num1("a", t0.Add(100*time.Millisecond), 1)
	b := num1("b", t0.Add(500*time.Millisecond), 2)
	aNewer := num1("a", t0.Add(300*time.Millisecond), 3)
	c := num1("c", t0.Add(50*time.Millisecond), 4)

	steps := []struct {
		name    string
		entries []*entry
	}{
		{"a", []*entry{a}},
		{"a b", []*entry{a, b}},
		{"a' b (a newer, b still newest)", []*entry{aNewer, b}},
		{"a' b c (an older signal arrives late)", []*entry{aNewer, b, c}},
	}
	prev := int64(0)
	for _, s := range steps {
		v := version(s.entries...)
		if v <= prev {
			t.Errorf("%s: version %d is not above %d", s.name, v, prev)
		}
		prev = v
	}
	if v1, v2 := version(a, b, c), version(c, b, a); v1 != v2 {
		t.Errorf("the same content in another order gives versions %d and %d", v1, v2)
	}
	if v := version(b); v>>versionShift != b.time.UnixMilli() {
		t.Errorf("version %d does not carry the newest event time %d in its high bits", v, b.time.UnixMilli())
	}
	// keep-newest: the older reading of a loses to the newer one whatever the order
	bk := testBucket(start, aNewer, a)
	if bk.entries["a"] != aNewer {
		t.Error("an older reading replaced a newer one")
	}
}

func TestWideBucketIsSplitUnder2KB(t *testing.T) {
	conv := newConverter(Config{}.WithDefaults())
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var es []*entry
	for i := 0; i < 150; i++ {
		es = append(es, num1(fmt.Sprintf("sensor_with_a_long_name_%03d", i), t0.Add(time.Duration(i)*time.Millisecond), float64(i)))
	}
	es = append(es, &entry{signal: "note", time: t0, measures: []measure{{"note", typeVarchar, strings.Repeat("n", 1500)}}})
	recs, tooWide := conv.bucketRecords(testBucket(t0.UnixMilli(), es...))
	if len(tooWide) != 0 {
		t.Fatalf("too wide: %d", len(tooWide))
	}
	if len(recs) < 3 {
		t.Fatalf("want the bucket split, got %d records", len(recs))
	}
	seen := 0
	for i, r := range recs {
		wantName := "signals"
		if i > 0 {
			wantName = fmt.Sprintf("signals_%d", i+1)
		}
		if r.measureName != wantName || r.bytes > MaxRecordBytes || r.bytes != recordBytes(r) || r.version != recs[0].version || r.timeMs != t0.UnixMilli() {
			t.Errorf("record %d: name %s, %d bytes, version %d", i, r.measureName, r.bytes, r.version)
		}
		seen += len(r.measures)
	}
	if seen != 151 {
		t.Errorf("%d measures written, want 151", seen)
	}
	again, _ := conv.bucketRecords(testBucket(t0.UnixMilli(), es...))
	if fmt.Sprint(again[1].measures) != fmt.Sprint(recs[1].measures) {
		t.Error("the split is not deterministic")
	}

	huge := &entry{signal: "blob", time: t0, measures: []measure{{"blob", typeVarchar, strings.Repeat("b", 2040)}}}
	if _, tooWide := conv.bucketRecords(testBucket(t0.UnixMilli(), huge)); len(tooWide) != 1 {
		t.Error("a measure that fits no record should be reported")
	}
}

func TestBucketStart(t *testing.T) {
	for _, c := range []struct {
		bucket time.Duration
		at     string
		want   string
	}{
		{time.Second, "2025-03-01T12:00:07.999Z", "2025-03-01T12:00:07Z"},
		{5 * time.Second, "2025-03-01T12:00:07.5Z", "2025-03-01T12:00:05Z"},
		{time.Minute, "2025-03-01T12:34:56Z", "2025-03-01T12:34:00Z"},
		{250 * time.Millisecond, "2025-03-01T12:00:00.3Z", "2025-03-01T12:00:00.25Z"},
	} {
		conv := newConverter(Config{Bucket: c.bucket}.WithDefaults())
		at, _ := time.Parse(time.RFC3339Nano, c.at)
		got := time.UnixMilli(conv.bucketStart(at)).UTC().Format(time.RFC3339Nano)
		if got != c.want {
			t.Errorf("bucket %s of %s: %s, want %s", c.bucket, c.at, got, c.want)
		}
	}
}

func TestMergeCacheWindowAndLimit(t *testing.T) {
	c := newMergeCache(2000, 4)
	e := num1("a", time.UnixMilli(0), 1)
	for s := int64(0); s < 5; s++ {
		c.remember("s1", s*1000, []*entry{e})
	}
	if got := len(c.series["s1"].buckets); got != 3 { // 2000..4000
		t.Errorf("series holds %d buckets, want the 3 within 2s of the newest", got)
	}
	c.remember("s1", 0, []*entry{e}) // older than the window: ignored
	for i := 0; i < 3; i++ {
		c.remember(fmt.Sprintf("s%d", i+2), 10_000, []*entry{e})
	}
	if c.len() > 4 {
		t.Errorf("cache holds %d buckets, limit 4", c.len())
	}
	if c.series["s1"] != nil {
		t.Error("the series with the oldest data should go first")
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Database: "fleet"}.WithDefaults()
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cases := []struct {
		change func(*Config)
		want   string
	}{
		{func(c *Config) { c.Database = "" }, "--timestream-database"},
		{func(c *Config) { c.Table = "a b" }, "--timestream-table"},
		{func(c *Config) { c.EventsTable = "x" }, "--timestream-events-table"},
		{func(c *Config) { c.EventsTable = c.Table }, "own tables"},
		{func(c *Config) { c.Bucket = 1500 * time.Microsecond }, "--timestream-bucket"},
		{func(c *Config) { c.Bucket = 2 * time.Hour }, "--timestream-bucket"},
		{func(c *Config) { c.ExtraDimensions = []string{"vin"} }, "--timestream-dimensions"},
		{func(c *Config) { c.ExtraDimensions = []string{"ts_x"} }, "--timestream-dimensions"},
		{func(c *Config) { c.MemoryRetention = 90 * time.Minute }, "--timestream-memory-retention"},
		{func(c *Config) { c.MagneticRetention = time.Hour }, "--timestream-magnetic-retention"},
		{func(c *Config) { c.MaxRecordsPerRequest = 101 }, "MaxRecordsPerRequest"},
		{func(c *Config) { c.MeasureName = "time" }, "MeasureName"},
		{func(c *Config) { c.AnomaliesTopic = c.TimeseriesTopic }, "differ"},
	}
	for _, c := range cases {
		cfg := ok
		c.change(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error naming %q, got %v", c.want, err)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted a Config without Database")
	}
}

func TestAddFlags(t *testing.T) {
	cfg := DefaultConfig()
	fs := pflag.NewFlagSet("sink", pflag.ContinueOnError)
	cfg.AddFlags(fs)
	err := fs.Parse([]string{"--timestream-database=fleet", "--timestream-table=tele", "--timestream-events-table=evts",
		"--timestream-bucket=5s", "--timestream-dimensions=fleet,model", "--timestream-create", "--timestream-magnetic-writes",
		"--timestream-memory-retention=12h", "--timestream-magnetic-retention=720h"})
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.Database, want.Table, want.EventsTable, want.Bucket = "fleet", "tele", "evts", 5*time.Second
	want.ExtraDimensions, want.CreateIfMissing, want.MagneticStoreWrites = []string{"fleet", "model"}, true, true
	want.MemoryRetention, want.MagneticRetention = 12*time.Hour, 720*time.Hour
	if fmt.Sprintf("%+v", cfg) != fmt.Sprintf("%+v", want) {
		t.Errorf("\n got %+v\nwant %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Error(err)
	}
}
