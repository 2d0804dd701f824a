package rules

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors"
)

// Op is how a threshold rule compares a value with its threshold.
type Op string

// The operators of threshold rules.
const (
	Above Op = "above" // opens when value > threshold
	Below Op = "below" // opens when value < threshold
)

// Rule is a threshold rule: it opens an anomaly when Signal goes Above or Below Threshold and
// clears it when the value is back within Threshold by at least Hysteresis.
type Rule struct {
	Name       string  `yaml:"name"`
	Signal     string  `yaml:"signal"`
	Op         Op      `yaml:"op"`
	Threshold  float64 `yaml:"threshold"`
	Severity   string  `yaml:"severity"`
	Hysteresis float64 `yaml:"hysteresis,omitempty"`
}

// Outlier is the outlier rule: for each of Signals, it opens an anomaly when the value is more
// than ZScore standard deviations from the signal's exponentially weighted mean, once MinSamples
// values were seen, and clears it when the z-score is back at or below ZScore - Hysteresis.
// Alpha is the weight of the newest sample in the rolling statistics.
type Outlier struct {
	Name       string   `yaml:"name"`
	Signals    []string `yaml:"signals"`
	ZScore     float64  `yaml:"z_score"`
	MinSamples int64    `yaml:"min_samples"`
	Alpha      float64  `yaml:"alpha"`
	Severity   string   `yaml:"severity"`
	Hysteresis float64  `yaml:"hysteresis,omitempty"`
}

// Set is the rules a vehicle-state group evaluates. The zero Set has no rules.
type Set struct {
	Thresholds []Rule   `yaml:"thresholds"`
	Outlier    *Outlier `yaml:"outlier,omitempty"`
}

// Defaults of the outlier rule, used by Default and for fields a YAML file leaves out.
const (
	DefaultOutlierName = "outlier"
	DefaultZScore      = 4
	DefaultMinSamples  = 30
	DefaultAlpha       = 0.05
)

// Default returns the built-in rules: overspeed (vehicle_speed above 180 km/h), over_rev
// (engine_speed above 6000 rpm), oil_overheat (oil_temp above 280 °F), low_fuel (fuel_level
// below 5 %), and the outlier rule over vehicle_speed, engine_speed and oil_temp (z-score above
// 4 after 30 samples, alpha 0.05).
func Default() Set {
	return Set{
		Thresholds: []Rule{
			{Name: "overspeed", Signal: codecs.SignalVehicleSpeed, Op: Above, Threshold: 180, Severity: processors.SeverityWarning, Hysteresis: 5},
			{Name: "over_rev", Signal: codecs.SignalEngineSpeed, Op: Above, Threshold: 6000, Severity: processors.SeverityWarning, Hysteresis: 250},
			{Name: "oil_overheat", Signal: codecs.SignalOilTemp, Op: Above, Threshold: 280, Severity: processors.SeverityCritical, Hysteresis: 10},
			{Name: "low_fuel", Signal: codecs.SignalFuelLevel, Op: Below, Threshold: 5, Severity: processors.SeverityWarning, Hysteresis: 2},
		},
		Outlier: &Outlier{
			Name:       DefaultOutlierName,
			Signals:    []string{codecs.SignalVehicleSpeed, codecs.SignalEngineSpeed, codecs.SignalOilTemp},
			ZScore:     DefaultZScore,
			MinSamples: DefaultMinSamples,
			Alpha:      DefaultAlpha,
			Severity:   processors.SeverityInfo,
			Hysteresis: 1,
		},
	}
}

// Load reads a rule set from a YAML file (see Parse).
func Load(path string) (Set, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Set{}, fmt.Errorf("rules: %w", err)
	}
	s, err := Parse(b)
	if err != nil {
		return Set{}, fmt.Errorf("rules file %s: %w", path, err)
	}
	return s, nil
}

// fileSet is the YAML shape: pointers tell a missing field from a zero one.
type fileSet struct {
	Thresholds []fileRule   `yaml:"thresholds"`
	Outlier    *fileOutlier `yaml:"outlier"`
}

type fileRule struct {
	Name       string   `yaml:"name"`
	Signal     string   `yaml:"signal"`
	Op         Op       `yaml:"op"`
	Threshold  *float64 `yaml:"threshold"`
	Severity   string   `yaml:"severity"`
	Hysteresis float64  `yaml:"hysteresis"`
}

type fileOutlier struct {
	Name       string   `yaml:"name"`
	Signals    []string `yaml:"signals"`
	ZScore     *float64 `yaml:"z_score"`
	MinSamples *int64   `yaml:"min_samples"`
	Alpha      *float64 `yaml:"alpha"`
	Severity   string   `yaml:"severity"`
	Hysteresis float64  `yaml:"hysteresis"`
}

// Parse reads a rule set from YAML (the shape is in the package documentation), fills the
// defaults of fields left out (severity warning for thresholds; the outlier rule's name,
// z_score, min_samples, alpha and severity info) and validates it. Unknown fields are errors, so
// a misspelt field does not silently fall back to a default. An empty document is an empty Set.
func Parse(b []byte) (Set, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f fileSet
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return Set{}, nil
		}
		return Set{}, fmt.Errorf("rules: %w", err)
	}
	var s Set
	var errs []error
	for i, r := range f.Thresholds {
		rule := Rule{Name: r.Name, Signal: r.Signal, Op: r.Op, Severity: r.Severity, Hysteresis: r.Hysteresis}
		if r.Threshold == nil {
			errs = append(errs, fmt.Errorf("rules: thresholds[%d].threshold: missing; set the value %s is compared with", i, r.Signal))
		} else {
			rule.Threshold = *r.Threshold
		}
		if rule.Severity == "" {
			rule.Severity = processors.SeverityWarning
		}
		s.Thresholds = append(s.Thresholds, rule)
	}
	if o := f.Outlier; o != nil {
		out := &Outlier{Name: o.Name, Signals: o.Signals, ZScore: DefaultZScore, MinSamples: DefaultMinSamples,
			Alpha: DefaultAlpha, Severity: o.Severity, Hysteresis: o.Hysteresis}
		if out.Name == "" {
			out.Name = DefaultOutlierName
		}
		if o.ZScore != nil {
			out.ZScore = *o.ZScore
		}
		if o.MinSamples != nil {
			out.MinSamples = *o.MinSamples
		}
		if o.Alpha != nil {
			out.Alpha = *o.Alpha
		}
		if out.Severity == "" {
			out.Severity = processors.SeverityInfo
		}
		s.Outlier = out
	}
	if err := errors.Join(append(errs, s.Validate())...); err != nil {
		return Set{}, err
	}
	return s, nil
}

// Validate reports every field that is wrong, each error naming the field and the fix.
func (s Set) Validate() error {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("rules: %s: %s", field, fmt.Sprintf(format, args...)))
	}
	names := map[string]string{}
	checkName := func(field, name string) {
		switch {
		case name == "":
			fail(field, "empty; give the rule a unique name such as overspeed")
		case !validName(name):
			fail(field, "%q holds characters other than a-z, 0-9, '_' and '-'; rename it (it is a metric label)", name)
		case names[name] != "":
			fail(field, "%q is already the name of %s; names must be unique", name, names[name])
		default:
			names[name] = field
		}
	}
	for i, r := range s.Thresholds {
		at := fmt.Sprintf("thresholds[%d]", i)
		checkName(at+".name", r.Name)
		if msg := checkSignal(r.Signal); msg != "" {
			fail(at+".signal", "%s", msg)
		}
		if r.Op != Above && r.Op != Below {
			fail(at+".op", "%q is not an operator; use %q or %q", r.Op, Above, Below)
		}
		if !finite(r.Threshold) {
			fail(at+".threshold", "%v is not a finite number", r.Threshold)
		}
		if !processors.ValidSeverity(r.Severity) {
			fail(at+".severity", "%q is not a severity; use info, warning or critical", r.Severity)
		}
		if !finite(r.Hysteresis) || r.Hysteresis < 0 {
			fail(at+".hysteresis", "%v must be zero or a positive number in the signal's unit", r.Hysteresis)
		}
	}
	if o := s.Outlier; o != nil {
		checkName("outlier.name", o.Name)
		if len(o.Signals) == 0 {
			fail("outlier.signals", "empty; list the numeric signals to watch, e.g. [vehicle_speed, engine_speed, oil_temp], or remove the outlier section")
		}
		seen := map[string]bool{}
		for i, sig := range o.Signals {
			if msg := checkSignal(sig); msg != "" {
				fail(fmt.Sprintf("outlier.signals[%d]", i), "%s", msg)
			} else if seen[sig] {
				fail(fmt.Sprintf("outlier.signals[%d]", i), "%s is listed twice; remove the repeat", sig)
			}
			seen[sig] = true
		}
		if !finite(o.ZScore) || o.ZScore <= 0 {
			fail("outlier.z_score", "%v must be a positive number of standard deviations, e.g. 4", o.ZScore)
		}
		if o.MinSamples < 2 {
			fail("outlier.min_samples", "%d is too few to estimate a deviation; use 2 or more, e.g. 30", o.MinSamples)
		}
		if !(o.Alpha > 0 && o.Alpha <= 1) {
			fail("outlier.alpha", "%v must be in (0, 1], e.g. 0.05", o.Alpha)
		}
		if !processors.ValidSeverity(o.Severity) {
			fail("outlier.severity", "%q is not a severity; use info, warning or critical", o.Severity)
		}
		if !finite(o.Hysteresis) || o.Hysteresis < 0 || (o.ZScore > 0 && o.Hysteresis >= o.ZScore) {
			fail("outlier.hysteresis", "%v must be zero or positive and below z_score (%v)", o.Hysteresis, o.ZScore)
		}
	}
	return errors.Join(errs...)
}

// Alpha returns the weight of the newest sample in the rolling statistics: the outlier rule's
// alpha, or DefaultAlpha without an outlier rule.
func (s Set) Alpha() float64 {
	if s.Outlier != nil && s.Outlier.Alpha > 0 && s.Outlier.Alpha <= 1 {
		return s.Outlier.Alpha
	}
	return DefaultAlpha
}

// checkSignal returns what is wrong with a rule's signal name, or "".
func checkSignal(sig string) string {
	if sig == "" {
		return "empty; name the signal the rule watches, e.g. vehicle_speed"
	}
	canonical, ok := codecs.CanonicalSignal(sig)
	if !ok {
		return fmt.Sprintf("%q is not a signal name; use a snake_case name such as vehicle_speed", sig)
	}
	if canonical != sig {
		return fmt.Sprintf("%q is not the canonical name; use %q", sig, canonical)
	}
	if kind, known := codecs.SignalKind(sig); known && kind != codecs.KindNumber {
		return fmt.Sprintf("%s carries a %s; rules compare numbers", sig, kind)
	}
	return ""
}

func validName(name string) bool {
	if len(name) > 64 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
