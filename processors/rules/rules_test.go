package rules

import (
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fleetstream/fleetstream/codecs"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadDefaultFile(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, Default()) {
		t.Errorf("testdata/default.yaml = %+v, want Default() %+v", s, Default())
	}
}

func TestLoadMissingFile(t *testing.T) {
	if _, err := Load(filepath.Join("testdata", "absent.yaml")); err == nil || !strings.Contains(err.Error(), "absent.yaml") {
		t.Errorf("Load(absent) = %v, want an error naming the file", err)
	}
}

func TestParseFillsDefaults(t *testing.T) {
	s, err := Parse([]byte(`
thresholds:
  - {name: hot, signal: oil_temp, op: above, threshold: 0}
outlier:
  signals: [engine_speed]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Set{
		Thresholds: []Rule{{Name: "hot", Signal: "oil_temp", Op: Above, Threshold: 0, Severity: "warning"}},
		Outlier: &Outlier{Name: DefaultOutlierName, Signals: []string{"engine_speed"}, ZScore: DefaultZScore,
			MinSamples: DefaultMinSamples, Alpha: DefaultAlpha, Severity: "info"},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Parse = %+v, want %+v", s, want)
	}
	if s.Alpha() != DefaultAlpha {
		t.Errorf("Alpha = %v", s.Alpha())
	}
}

func TestParseEmpty(t *testing.T) {
	for _, doc := range []string{"", "# nothing\n"} {
		s, err := Parse([]byte(doc))
		if err != nil || len(s.Thresholds) != 0 || s.Outlier != nil {
			t.Errorf("Parse(%q) = %+v, %v; want an empty set", doc, s, err)
		}
		if s.Alpha() != DefaultAlpha {
			t.Errorf("empty set alpha %v", s.Alpha())
		}
	}
}

// TestParseErrors checks that every error names the field and says what to do.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"not yaml", "thresholds: [", []string{"rules:"}},
		{"unknown field", "thresholds:\n  - {name: a, signal: oil_temp, op: above, threshold: 1, treshold: 2}", []string{"treshold"}},
		{"missing threshold", "thresholds:\n  - {name: a, signal: oil_temp, op: above}", []string{"thresholds[0].threshold: missing"}},
		{"bad op", "thresholds:\n  - {name: a, signal: oil_temp, op: greater, threshold: 1}", []string{"thresholds[0].op", `use "above" or "below"`}},
		{"camelCase signal", "thresholds:\n  - {name: a, signal: oilTemp, op: above, threshold: 1}", []string{"thresholds[0].signal", `use "oil_temp"`}},
		{"string signal", "thresholds:\n  - {name: a, signal: ignition_status, op: above, threshold: 1}", []string{"thresholds[0].signal", "carries a string"}},
		{"empty name", "thresholds:\n  - {signal: oil_temp, op: above, threshold: 1}", []string{"thresholds[0].name: empty"}},
		{"bad name", "thresholds:\n  - {name: Over Speed, signal: oil_temp, op: above, threshold: 1}", []string{"thresholds[0].name", "rename"}},
		{"duplicate name", "thresholds:\n  - {name: a, signal: oil_temp, op: above, threshold: 1}\n  - {name: a, signal: oil_temp, op: below, threshold: 0}",
			[]string{"thresholds[1].name", "already the name of thresholds[0]"}},
		{"bad severity", "thresholds:\n  - {name: a, signal: oil_temp, op: above, threshold: 1, severity: high}", []string{"thresholds[0].severity", "use info, warning or critical"}},
		{"negative hysteresis", "thresholds:\n  - {name: a, signal: oil_temp, op: above, threshold: 1, hysteresis: -1}", []string{"thresholds[0].hysteresis"}},
		{"outlier without signals", "outlier: {z_score: 3}", []string{"outlier.signals: empty"}},
		{"outlier alpha", "outlier: {signals: [oil_temp], alpha: 1.5}", []string{"outlier.alpha", "(0, 1]"}},
		{"outlier z", "outlier: {signals: [oil_temp], z_score: 0}", []string{"outlier.z_score"}},
		{"outlier samples", "outlier: {signals: [oil_temp], min_samples: 1}", []string{"outlier.min_samples"}},
		{"outlier hysteresis", "outlier: {signals: [oil_temp], z_score: 3, hysteresis: 3}", []string{"outlier.hysteresis"}},
		{"outlier repeated signal", "outlier: {signals: [oil_temp, oil_temp]}", []string{"outlier.signals[1]", "listed twice"}},
		{"outlier name clash", "thresholds:\n  - {name: outlier, signal: oil_temp, op: above, threshold: 1}\noutlier: {signals: [oil_temp]}",
			[]string{"outlier.name", "already the name of thresholds[0]"}},
		{"all errors at once", "thresholds:\n  - {name: a, signal: x y, op: over}",
			[]string{"thresholds[0].threshold", "thresholds[0].signal", "thresholds[0].op"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateZeroSeverity(t *testing.T) {
	s := Set{Thresholds: []Rule{{Name: "a", Signal: "oil_temp", Op: Above, Threshold: 1}}}
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "thresholds[0].severity") {
		t.Errorf("Validate = %v, want a severity error", err)
	}
	s.Thresholds[0].Threshold = math.NaN()
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "thresholds[0].threshold") {
		t.Errorf("Validate = %v, want a threshold error", err)
	}
}

// open returns a vehicle state with the anomalies keys open.
func open(keys ...string) *codecs.VehicleState {
	s := &codecs.VehicleState{OpenAnomalies: map[string]codecs.Anomaly{}}
	for _, k := range keys {
		s.OpenAnomalies[k] = codecs.Anomaly{Rule: k}
	}
	return s
}

func TestEvaluateThresholds(t *testing.T) {
	set := Set{Thresholds: Default().Thresholds}
	tests := []struct {
		name   string
		state  *codecs.VehicleState
		signal string
		value  float64
		want   []string // "<key> <state>"
	}{
		{"nil state below threshold", nil, "vehicle_speed", 120, nil},
		{"at threshold does not open", nil, "vehicle_speed", 180, nil},
		{"above opens", nil, "vehicle_speed", 180.5, []string{"overspeed open"}},
		{"open stays open above", open("overspeed"), "vehicle_speed", 200, nil},
		{"open stays open within hysteresis", open("overspeed"), "vehicle_speed", 176, nil},
		{"clears past hysteresis", open("overspeed"), "vehicle_speed", 175, []string{"overspeed cleared"}},
		{"other signal untouched", open("overspeed"), "engine_speed", 100, nil},
		{"over_rev opens", nil, "engine_speed", 6500, []string{"over_rev open"}},
		{"oil overheat opens", open("overspeed"), "oil_temp", 281, []string{"oil_overheat open"}},
		{"oil overheat clears", open("oil_overheat"), "oil_temp", 270, []string{"oil_overheat cleared"}},
		{"low fuel opens below", nil, "fuel_level", 4.9, []string{"low_fuel open"}},
		{"low fuel at threshold does not open", nil, "fuel_level", 5, nil},
		{"low fuel stays open within hysteresis", open("low_fuel"), "fuel_level", 6.9, nil},
		{"low fuel clears after refuel", open("low_fuel"), "fuel_level", 80, []string{"low_fuel cleared"}},
		{"unwatched signal", nil, "odometer", 1e9, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, tr := range set.Evaluate(tc.state, tc.signal, tc.value) {
				got = append(got, tr.Key+" "+string(tr.State))
				if tr.Value != tc.value || tr.Signal != tc.signal || tr.Severity == "" || tr.Message == "" {
					t.Errorf("transition %+v lacks value, signal, severity or message", tr)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Evaluate(%s=%v) = %v, want %v", tc.signal, tc.value, got, tc.want)
			}
		})
	}
}

func TestEvaluateOutlier(t *testing.T) {
	set := Set{Outlier: Default().Outlier}
	key := OutlierKey("outlier", "vehicle_speed")
	stats := func(n int64, mean, sd float64, openKeys ...string) *codecs.VehicleState {
		s := open(openKeys...)
		s.Stats = map[string]codecs.RollingStat{"vehicle_speed": {N: n, Mean: mean, Var: sd * sd}}
		return s
	}
	tests := []struct {
		name  string
		state *codecs.VehicleState
		value float64
		want  codecs.AnomalyState // "" for no transition
		z     float64
	}{
		{"too few samples", stats(29, 80, 2), 200, "", 0},
		{"enough samples, far off", stats(30, 80, 2), 90, codecs.AnomalyOpen, 5},
		{"far off below the mean", stats(30, 80, 2), 70, codecs.AnomalyOpen, 5},
		{"exactly at the limit", stats(30, 80, 2), 88, "", 0},
		{"no spread, on the mean", stats(100, 80, 0, key), 80, codecs.AnomalyCleared, 0},
		{"no spread, off the mean: no verdict", stats(100, 80, 0), 81, "", 0},
		{"open stays open within hysteresis", stats(40, 80, 2, key), 87, "", 0},
		{"open clears", stats(40, 80, 2, key), 86, codecs.AnomalyCleared, 3},
		{"no stats yet", nil, 500, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := set.Evaluate(tc.state, "vehicle_speed", tc.value)
			if tc.want == "" {
				if len(got) != 0 {
					t.Errorf("Evaluate = %+v, want nothing", got)
				}
				return
			}
			if len(got) != 1 || got[0].State != tc.want || got[0].Key != key || got[0].Rule != "outlier" ||
				math.Abs(got[0].Value-tc.z) > 1e-9 || got[0].Threshold != 4 {
				t.Errorf("Evaluate = %+v, want %s with z %v", got, tc.want, tc.z)
			}
		})
	}
	if got := set.Evaluate(stats(30, 80, 2), "fuel_level", 0); len(got) != 0 {
		t.Errorf("unwatched signal: %+v", got)
	}
}

// TestUpdateStat checks the EWMA recursion against a direct computation of the weighted mean
// and variance with weights alpha(1-alpha)^k.
func TestUpdateStat(t *testing.T) {
	const alpha = 0.1
	xs := []float64{10, 12, 9, 15, 11, 10, 30, 8, 12, 11}
	var st codecs.RollingStat
	for i, x := range xs {
		st = UpdateStat(st, x, alpha)
		if st.N != int64(i+1) {
			t.Fatalf("N = %d after %d values", st.N, i+1)
		}
	}
	// Direct: the first value has weight (1-alpha)^(n-1), the k-th newer ones alpha(1-alpha)^(n-1-k).
	n := len(xs)
	weights := make([]float64, n)
	for i := range xs {
		if i == 0 {
			weights[i] = math.Pow(1-alpha, float64(n-1))
		} else {
			weights[i] = alpha * math.Pow(1-alpha, float64(n-1-i))
		}
	}
	var mean, variance float64
	for i, x := range xs {
		mean += weights[i] * x
	}
	for i, x := range xs {
		variance += weights[i] * (x - mean) * (x - mean)
	}
	if math.Abs(st.Mean-mean) > 1e-9 || math.Abs(st.Var-variance) > 1e-9 {
		t.Errorf("UpdateStat mean %v var %v; direct mean %v var %v", st.Mean, st.Var, mean, variance)
	}

	var c codecs.RollingStat
	for i := 0; i < 50; i++ {
		c = UpdateStat(c, 42, alpha)
	}
	if c.Mean != 42 || c.Var != 0 {
		t.Errorf("constant signal: mean %v var %v", c.Mean, c.Var)
	}
}

// TestExtremeValues checks that values near the float64 limits neither overflow the statistics
// (JSON cannot hold an infinity, and the state must stay encodable) nor yield an infinite z-score.
func TestExtremeValues(t *testing.T) {
	st := UpdateStat(codecs.RollingStat{}, -1e308, 0.05)
	st = UpdateStat(st, 1e308, 0.05)
	if st.N != 1 || st.Mean != -1e308 || st.Var != 0 {
		t.Errorf("overflowing update changed the statistics: %+v", st)
	}
	if got := UpdateStat(st, math.Inf(1), 0.05); got != st {
		t.Errorf("infinite value changed the statistics: %+v", got)
	}
	if z, ok := ZScore(codecs.RollingStat{N: 50, Mean: -1e308, Var: 1e-300}, 1e308, 30); ok {
		t.Errorf("ZScore = %v, ok; want no verdict for an infinite score", z)
	}
	set := Default()
	state := &codecs.VehicleState{Stats: map[string]codecs.RollingStat{"vehicle_speed": {N: 50, Mean: -1e308, Var: 1e-300}}}
	for _, tr := range set.Evaluate(state, "vehicle_speed", 1e308) {
		if !finite(tr.Value) {
			t.Errorf("transition with a non-finite value: %+v", tr)
		}
	}
}
