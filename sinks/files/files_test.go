package files_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/files"
	"github.com/fleetstream/fleetstream/sinks/sinktest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// harness is a directory; failures are injected in front of the backend (sinktest.Faults),
// since a local disk cannot be made to throttle.
type harness struct {
	sinktest.Faults
	cfg files.Config
}

func newHarness(t *testing.T) *harness {
	// Small files, so the suite's data rotates them by size too.
	return &harness{cfg: files.Config{Dir: t.TempDir(), MaxFileBytes: 4096}}
}

func (h *harness) NewBackend(t *testing.T) sinks.Backend {
	b, err := files.New(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h.Wrap(b)
}

func (h *harness) Stored(t *testing.T) []sinktest.Item {
	t.Helper()
	var items []sinktest.Item
	for _, l := range readLines(t, h.cfg.Dir) {
		var meta struct {
			Topic string `json:"topic"`
		}
		if err := json.Unmarshal(l, &meta); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		switch meta.Topic {
		case sinktest.TopicTimeseries:
			var m codecs.Measurement
			mustUnmarshal(t, l, &m)
			items = append(items, sinktest.MeasurementItem(m))
		case sinktest.TopicAnomalies:
			var a codecs.Anomaly
			mustUnmarshal(t, l, &a)
			items = append(items, sinktest.AnomalyItem(a))
		case sinktest.TopicDTCEvents:
			var e codecs.DTCEvent
			mustUnmarshal(t, l, &e)
			items = append(items, sinktest.DTCItem(e))
		default:
			t.Fatalf("line of topic %q: %s", meta.Topic, l)
		}
	}
	return items
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, func(t *testing.T) sinktest.Harness { return newHarness(t) })
}

// readLines returns every line of every file, timeseries first, files in name order; it fails
// on a line without its newline.
func readLines(t *testing.T, dir string) [][]byte {
	t.Helper()
	var out [][]byte
	for _, kind := range []string{files.KindTimeseries, files.KindEvents} {
		for _, path := range dataFiles(t, dir, kind) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) > 0 && raw[len(raw)-1] != '\n' {
				t.Fatalf("%s ends in a partial line", path)
			}
			for l := range strings.Lines(string(raw)) {
				out = append(out, []byte(strings.TrimSuffix(l, "\n")))
			}
		}
	}
	return out
}

func dataFiles(t *testing.T, dir, kind string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, kind, "*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(paths)
	return paths
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("line %s: %v", b, err)
	}
}

func open(t *testing.T, cfg files.Config) *files.Backend {
	t.Helper()
	b, err := files.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, b sinks.Backend, recs []sinks.Record) {
	t.Helper()
	if err := b.WriteBatch(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

func closeB(t *testing.T, b sinks.Backend) {
	t.Helper()
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

var at = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

func clock(t *time.Time) func() time.Time { return func() time.Time { return *t } }

// The shape of each kind of line, pinned: what pandas users and scripts read.
func TestLineShapeGolden(t *testing.T) {
	now := at
	dir := t.TempDir()
	b := open(t, files.Config{Dir: dir, Now: clock(&now)})
	recs := sinktest.Place(sinktest.Dataset{Vehicles: 1, Ticks: 1, Start: at}.Records(), 1, 40)
	recs = append(recs, sinks.Record{Topic: "vehicle-notes", Partition: 3, Offset: 7, Key: []byte("VIN1"), Value: []byte(`{ "note": "<ok> & fine" }`)})
	write(t, b, recs)
	closeB(t, b)
	var got strings.Builder
	for _, l := range readLines(t, dir) {
		got.Write(l)
		got.WriteByte('\n')
	}
	golden := filepath.Join("testdata", "lines.golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update once)", err)
	}
	if got.String() != string(want) {
		t.Fatalf("lines differ from %s (go test -update rewrites it):\n%s", golden, got.String())
	}
	names := []string{filepath.Base(dataFiles(t, dir, files.KindTimeseries)[0]), filepath.Base(dataFiles(t, dir, files.KindEvents)[0])}
	if names[0] != "2024-05-01T08-0001.jsonl" || names[1] != "2024-05-01T08-0001.jsonl" {
		t.Fatalf("file names %v", names)
	}
}

func TestRotatesByHourAndSize(t *testing.T) {
	now := at
	dir := t.TempDir()
	cfg := files.Config{Dir: dir, MaxFileBytes: 2048, Now: clock(&now)}
	b := open(t, cfg)
	recs := sinktest.Place(sinktest.Dataset{Vehicles: 3, Ticks: 10}.Records(), 1, 0)
	half := len(recs) / 2
	write(t, b, recs[:half])
	now = now.Add(time.Hour)
	write(t, b, recs[half:])
	closeB(t, b)

	var hours []string
	for _, path := range dataFiles(t, dir, files.KindTimeseries) {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > cfg.MaxFileBytes {
			t.Errorf("%s has %d bytes, limit %d", path, fi.Size(), cfg.MaxFileBytes)
		}
		hours = append(hours, filepath.Base(path)[:13])
	}
	if len(hours) < 4 || !slices.Contains(hours, "2024-05-01T08") || !slices.Contains(hours, "2024-05-01T09") {
		t.Fatalf("files by hour: %v", hours)
	}
	// A restart within the hour continues the newest file of the hour; the lines stay complete.
	b = open(t, cfg)
	more := sinktest.Place(sinktest.Dataset{Vehicles: 1, Ticks: 1, Start: at.Add(24 * time.Hour)}.Records(), 1, int64(len(recs)))
	write(t, b, more)
	closeB(t, b)
	if n := len(readLines(t, dir)); n != len(recs)+len(more) {
		t.Fatalf("%d lines, want %d", n, len(recs)+len(more))
	}
}

// A crash mid-line leaves a partial last line and may lose the state file's last update: the
// next start cuts the partial line and relearns the offsets from the newest file, so a
// redelivered batch is not written twice.
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	cfg := files.Config{Dir: dir}
	recs := sinktest.Place(sinktest.Dataset{Vehicles: 2, Ticks: 4}.Records(), 1, 0)
	b := open(t, cfg)
	write(t, b, recs[:20])
	closeB(t, b)
	newest := dataFiles(t, dir, files.KindTimeseries)[0]
	f, err := os.OpenFile(newest, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"topic":"timeseries","partition":0,"offset":999,"vin":"trunc`); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Remove(filepath.Join(dir, files.StateFile)); err != nil {
		t.Fatal(err)
	}

	b = open(t, cfg)
	write(t, b, recs[10:]) // redelivery from offset 10
	closeB(t, b)
	h := &harness{cfg: cfg}
	sinktest.Check(t, h.Stored(t), recs, nil)
}

func TestKeepDuplicatesWritesRedeliveries(t *testing.T) {
	dir := t.TempDir()
	recs := sinktest.Place(sinktest.Dataset{Vehicles: 1, Ticks: 1}.Records(), 1, 0)
	b := open(t, files.Config{Dir: dir, KeepDuplicates: true})
	write(t, b, recs)
	write(t, b, recs)
	closeB(t, b)
	if n := len(readLines(t, dir)); n != 2*len(recs) {
		t.Fatalf("%d lines, want %d", n, 2*len(recs))
	}
}

func TestUndecodableRecordsAreRefused(t *testing.T) {
	dir := t.TempDir()
	b := open(t, files.Config{Dir: dir})
	good := sinktest.Place(sinktest.Dataset{Vehicles: 1, Ticks: 1}.Records(), 1, 0)
	batch := []sinks.Record{
		good[0],
		{Topic: "timeseries", Offset: 100, Value: []byte(`{"vin":`)},
		{Topic: "timeseries", Offset: 101, Value: []byte(`{"vin":"V","name":"speed"}`)}, // no time
		{Topic: "other", Offset: 5, Value: []byte(`not json`)},
		good[1],
	}
	err := b.WriteBatch(context.Background(), batch)
	var be *sinks.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 3 {
		t.Fatalf("WriteBatch = %v, want 3 refused records", err)
	}
	for i, f := range be.Failed {
		if want := i + 1; f.Index != want || sinks.Retryable(f.Err) {
			t.Errorf("failure %d: index %d retryable %v (%v)", i, f.Index, sinks.Retryable(f.Err), f.Err)
		}
	}
	if r := sinks.DeadLetterReason(be.Failed[0].Err); r != codecs.ReasonInvalidJSON {
		t.Errorf("reason %q", r)
	}
	closeB(t, b)
	if n := len(readLines(t, dir)); n != 2 {
		t.Fatalf("%d lines written, want the 2 good records", n)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  files.Config
		want string
	}{
		{files.Config{}, "Dir"},
		{files.Config{Dir: "x", MaxFileBytes: -1}, "MaxFileBytes"},
		{files.Config{Dir: "x", MaxFileBytes: 10}, "MaxFileBytes"},
		{files.Config{Dir: "x", AnomaliesTopic: "timeseries"}, "must differ"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want it to name %s", tc.cfg, err, tc.want)
		}
	}
	if err := (files.Config{Dir: "x"}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConnectFailsOnUnwritableDir(t *testing.T) {
	if os.Geteuid() == 0 {
		// root writes anywhere; use a path under a regular file instead.
		f := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		b, _ := files.New(files.Config{Dir: filepath.Join(f, "sub")})
		if err := b.Connect(context.Background()); err == nil || sinks.Retryable(err) {
			t.Fatalf("Connect = %v, want a permanent error", err)
		}
		return
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	b, _ := files.New(files.Config{Dir: filepath.Join(dir, "out")})
	if err := b.Connect(context.Background()); err == nil {
		t.Fatal("Connect succeeded on a read-only directory")
	}
}

// The files load with pandas, as the README promises (skipped, loudly, without python3-pandas).
func TestPandasReadsTheFiles(t *testing.T) {
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} { // Debian's python3-pandas is for /usr/bin/python3
		if exec.Command(p, "-c", "import pandas").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		t.Skip("SKIPPED: no python3 with pandas (apt-get install python3-pandas to run this test)")
	}
	dir := t.TempDir()
	b := open(t, files.Config{Dir: dir})
	recs := sinktest.Place(sinktest.Dataset{Vehicles: 2, Ticks: 5}.Records(), 2, 0)
	write(t, b, recs)
	closeB(t, b)
	script := `
import glob, sys
import pandas as pd
ts = pd.concat(pd.read_json(p, lines=True) for p in sorted(glob.glob(sys.argv[1] + "/timeseries/*.jsonl")))
ev = pd.concat(pd.read_json(p, lines=True) for p in sorted(glob.glob(sys.argv[1] + "/events/*.jsonl")))
speed = ts[ts["name"] == "vehicle_speed"]
print(len(ts), len(ev), sorted(ev["event"].unique()), speed["value"].astype(float).max(), str(pd.to_datetime(ts["time"]).dt.tz))
`
	out, err := exec.Command(python, "-c", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("pandas: %v\n%s", err, out)
	}
	var nts, nev int
	for _, r := range recs {
		if r.Topic == sinktest.TopicTimeseries {
			nts++
		} else {
			nev++
		}
	}
	want := fmt.Sprintf("%d %d ['anomaly', 'dtc'] 6.333333333333333 UTC", nts, nev)
	if got := strings.TrimSpace(string(out)); got != want {
		t.Fatalf("pandas read %q, want %q", got, want)
	}
}
