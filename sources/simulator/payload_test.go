package simulator

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixtureDir is shared/payloads: the folder sits beside the repository (in CI too).
const fixtureDir = "../../../shared/payloads"

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatalf("payload fixture %s: %v (shared/payloads must sit beside the repository)", name, err)
	}
	return b
}

// shape maps each key path of a JSON object to its JSON type.
func shape(t *testing.T, b []byte) map[string]string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	out := map[string]string{}
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			switch x := v.(type) {
			case map[string]any:
				out[prefix+k] = "object"
				walk(prefix+k+".", x)
			case string:
				out[prefix+k] = "string"
			case float64:
				out[prefix+k] = "number"
			case bool:
				out[prefix+k] = "bool"
			default:
				out[prefix+k] = "null"
			}
		}
	}
	walk("", m)
	return out
}

func sameShape(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, "missing "+k)
		} else if g != w {
			diffs = append(diffs, k+" is a "+g+", fixture has a "+w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, "extra "+k)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		t.Errorf("%s: shape differs from the fixture: %s", what, strings.Join(diffs, "; "))
	}
}

var spaceTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{9}$`)

func checkTimestamps(t *testing.T, b []byte) {
	t.Helper()
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if ts, _ := m["timestamp"].(string); !spaceTimestamp.MatchString(ts) {
		t.Errorf("timestamp %q is not YYYY-MM-DD HH:mm:ss.SSSSSSSSS: %s", ts, b)
	}
	for _, k := range []string{"start_time", "end_time"} {
		if v, ok := m[k].(string); ok {
			if _, err := time.Parse(time.RFC3339Nano, v); err != nil || !strings.HasSuffix(v, "Z") {
				t.Errorf("%s %q is not RFC 3339 in UTC: %s", k, v, b)
			}
		}
	}
}

// driveTrip runs one vehicle through a whole trip with a synthetic clock and returns every message
// by kind, and the telemetry of the first tick.
func driveTrip(t *testing.T, cfg Config) map[Kind][]message {
	t.Helper()
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	v := newVehicle(&cfg, cfg.dtcTable(), 0)
	now := time.Date(2021, 3, 6, 7, 40, 2, 454_000_000, time.UTC)
	out := map[Kind][]message{}
	for i := 0; i < 10000; i++ {
		msgs, err := v.tick(now, cfg.Interval.Seconds())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			out[m.kind] = append(out[m.kind], m)
		}
		if v.phase == phaseParked && len(out[KindTrip]) > 0 {
			return out // the first trip ended
		}
		now = now.Add(cfg.Interval)
	}
	t.Fatal("the trip did not end")
	return nil
}

func testConfig() Config {
	return Config{Vehicles: 1, Seed: 7, DTCEvery: time.Minute, TripLength: 10 * time.Minute}
}

func TestV2PayloadsMatchFixtures(t *testing.T) {
	out := driveTrip(t, testConfig())
	byName := map[string][]byte{}
	for _, m := range out[KindTelemetry] {
		var h struct{ Name string }
		_ = json.Unmarshal(m.payload, &h)
		byName[h.Name] = m.payload
		checkTimestamps(t, m.payload)
	}
	if len(byName) != 17 {
		t.Fatalf("telemetry carries %d signals, want the 17 of the v2 automotive module: %v", len(byName), byName)
	}
	for name, fix := range map[string]string{
		codecs.SignalVehicleSpeed:             "telemetry-vehicle-speed.json",
		codecs.SignalTransmissionGearPosition: "telemetry-gear.json",
		codecs.SignalBrakePedalStatus:         "telemetry-bool.json",
		codecs.SignalLocation:                 "telemetry-location.json",
	} {
		sameShape(t, name, shape(t, byName[name]), shape(t, fixture(t, fix)))
	}
	// Every other signal has the vehicle-speed shape with its own kind of value.
	for name, b := range byName {
		if name == codecs.SignalLocation {
			continue
		}
		kind, _ := codecs.SignalKind(name)
		want := shape(t, fixture(t, "telemetry-vehicle-speed.json"))
		want["value"] = map[codecs.Kind]string{codecs.KindNumber: "number", codecs.KindString: "string", codecs.KindBool: "bool"}[kind]
		sameShape(t, name, shape(t, b), want)
	}

	if len(out[KindDTC]) == 0 {
		t.Fatal("no DTC in a 10-minute trip with a DTC every minute")
	}
	for _, m := range out[KindDTC] {
		sameShape(t, "dtc", shape(t, m.payload), shape(t, fixture(t, "dtc.json")))
		checkTimestamps(t, m.payload)
	}

	trips := out[KindTrip]
	want := shape(t, fixture(t, "trip-aggregate.json"))
	for i, m := range trips {
		checkTimestamps(t, m.payload)
		got := shape(t, m.payload)
		if i == len(trips)-1 {
			if got["end_time"] != "string" {
				t.Errorf("the trip's last aggregate has no end_time: %s", m.payload)
			}
			delete(got, "end_time")
		}
		sameShape(t, "trip aggregate", got, want)
	}
}

func TestV3PayloadMatchesFixture(t *testing.T) {
	cfg := testConfig()
	cfg.Format = FormatV3
	out := driveTrip(t, cfg)
	want := shape(t, fixture(t, "v3-vehicle-tick.json"))
	for _, m := range out[KindTelemetry] {
		sameShape(t, "v3 tick", shape(t, m.payload), want)
		checkTimestamps(t, m.payload)
	}
	var tick struct {
		TripID string `json:"trip_id"`
		ID     string `json:"_id_"`
	}
	_ = json.Unmarshal(out[KindTelemetry][0].payload, &tick)
	if len(tick.TripID) != v3TripIDLength || len(tick.ID) != v3DeviceIDLength {
		t.Errorf("v3 ids %q and %q, want nanoid-style of %d and %d characters like the fixture", tick.TripID, tick.ID, v3TripIDLength, v3DeviceIDLength)
	}
}

// TestPayloadsDecode round-trips everything a vehicle sends through the codecs the processors
// use.
func TestPayloadsDecode(t *testing.T) {
	for _, format := range []Format{FormatV2, FormatV3} {
		cfg := testConfig()
		cfg.Format = format
		out := driveTrip(t, cfg)
		var vin, trip string
		for _, m := range out[KindTelemetry] {
			sigs, err := codecs.DecodeTelemetry(m.payload)
			if err != nil {
				t.Fatalf("%s: DecodeTelemetry: %v: %s", format, err, m.payload)
			}
			for _, s := range sigs {
				if _, known := codecs.SignalKind(s.Name); !known {
					t.Errorf("%s: signal %q is not one codecs knows", format, s.Name)
				}
				vin, trip = s.VIN, s.TripID
			}
			if format == FormatV3 && len(sigs) != 17 {
				t.Errorf("v3 tick decodes to %d signals, want 17", len(sigs))
			}
		}
		var ended bool
		for _, m := range out[KindTrip] {
			a, err := codecs.DecodeTrip(m.payload)
			if err != nil {
				t.Fatalf("%s: DecodeTrip: %v: %s", format, err, m.payload)
			}
			if a.VIN != vin || a.TripID != trip {
				t.Errorf("aggregate of %s/%s, telemetry of %s/%s", a.VIN, a.TripID, vin, trip)
			}
			if a.EndTime != nil {
				ended = true
				if !a.EndTime.After(a.StartTime) {
					t.Errorf("trip ends %v before it starts %v", a.EndTime, a.StartTime)
				}
			}
		}
		if !ended {
			t.Errorf("%s: no aggregate decodes with an end time", format)
		}
		for _, m := range out[KindDTC] {
			d, err := codecs.DecodeDTC(m.payload)
			if err != nil {
				t.Fatalf("DecodeDTC: %v: %s", err, m.payload)
			}
			if d.VIN != vin || d.TripID != trip {
				t.Errorf("dtc of %s/%s, telemetry of %s/%s", d.VIN, d.TripID, vin, trip)
			}
		}
	}
}

// TestGolden pins the first tick of a seeded vehicle, byte for byte: a change in the output
// must be deliberate (go test -run TestGolden -update).
func TestGolden(t *testing.T) {
	for _, format := range []Format{FormatV2, FormatV3} {
		cfg := Config{Vehicles: 1, Seed: 42, Format: format}.withDefaults()
		v := newVehicle(&cfg, cfg.dtcTable(), 0)
		now := time.Date(2026, 5, 4, 10, 21, 7, 250_000_000, time.UTC)
		var buf bytes.Buffer
		for i := 0; i < 3; i++ {
			msgs, err := v.tick(now.Add(time.Duration(i)*cfg.Interval), cfg.Interval.Seconds())
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				buf.WriteString(m.topic + " " + string(m.payload) + "\n")
			}
		}
		path := filepath.Join("testdata", "seed42-"+string(format)+".golden")
		if *update {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s output differs from %s (if deliberate: go test -run TestGolden -update)\ngot:\n%s", format, path, buf.Bytes())
		}
	}
}
