package rules

import (
	"fmt"
	"math"
	"strconv"

	"github.com/fleetstream/fleetstream/codecs"
)

// Transition is an anomaly opening or clearing.
type Transition struct {
	// Key identifies the anomaly in codecs.VehicleState.OpenAnomalies: the rule name for a
	// threshold rule, "<outlier name>:<signal>" for the outlier rule.
	Key      string
	Rule     string
	Signal   string
	State    codecs.AnomalyState
	Severity string
	// Value is the signal's value for a threshold rule and its z-score for the outlier rule;
	// Threshold is what Value was compared with.
	Value     float64
	Threshold float64
	Message   string
}

// OutlierKey returns the OpenAnomalies key of the outlier rule name on signal.
func OutlierKey(name, signal string) string { return name + ":" + signal }

// Evaluate returns the anomalies that open or clear when signal takes value, given the
// vehicle's state before the value is applied: its open anomalies and the signal's rolling
// statistics (the outlier rule scores value against the statistics of the values before it).
// Transitions come in rule order, thresholds first. Evaluate neither modifies state nor keeps
// any; state may be nil.
func (s Set) Evaluate(state *codecs.VehicleState, signal string, value float64) []Transition {
	var open map[string]codecs.Anomaly
	var stat codecs.RollingStat
	if state != nil {
		open = state.OpenAnomalies
		stat = state.Stats[signal]
	}
	var out []Transition
	for _, r := range s.Thresholds {
		if r.Signal != signal {
			continue
		}
		_, isOpen := open[r.Name]
		if t, ok := r.evaluate(isOpen, value); ok {
			out = append(out, t)
		}
	}
	if o := s.Outlier; o != nil && o.watches(signal) {
		key := OutlierKey(o.Name, signal)
		_, isOpen := open[key]
		if t, ok := o.evaluate(isOpen, signal, value, stat); ok {
			t.Key = key
			out = append(out, t)
		}
	}
	return out
}

// evaluate returns the rule's transition, if any, for value given whether it is open.
func (r Rule) evaluate(isOpen bool, value float64) (Transition, bool) {
	var breached, back bool
	switch r.Op {
	case Above:
		breached, back = value > r.Threshold, value <= r.Threshold-r.Hysteresis
	case Below:
		breached, back = value < r.Threshold, value >= r.Threshold+r.Hysteresis
	default:
		return Transition{}, false
	}
	t := Transition{Key: r.Name, Rule: r.Name, Signal: r.Signal, Severity: r.Severity, Value: value, Threshold: r.Threshold}
	switch {
	case !isOpen && breached:
		t.State = codecs.AnomalyOpen
		t.Message = fmt.Sprintf("%s %s %s %s", r.Signal, num(value), r.Op, num(r.Threshold))
	case isOpen && back:
		t.State = codecs.AnomalyCleared
		t.Message = fmt.Sprintf("%s %s back within %s", r.Signal, num(value), num(r.Threshold))
	default:
		return Transition{}, false
	}
	return t, true
}

func (o *Outlier) watches(signal string) bool {
	for _, s := range o.Signals {
		if s == signal {
			return true
		}
	}
	return false
}

// evaluate scores value against stat. With fewer than MinSamples values, or no spread yet and
// a value off the mean, there is no verdict and nothing changes.
func (o *Outlier) evaluate(isOpen bool, signal string, value float64, stat codecs.RollingStat) (Transition, bool) {
	z, ok := ZScore(stat, value, o.MinSamples)
	if !ok {
		return Transition{}, false
	}
	t := Transition{Rule: o.Name, Signal: signal, Severity: o.Severity, Value: z, Threshold: o.ZScore}
	switch {
	case !isOpen && z > o.ZScore:
		t.State = codecs.AnomalyOpen
		t.Message = fmt.Sprintf("%s %s is %s standard deviations from its mean %s", signal, num(value), num(round(z)), num(round(stat.Mean)))
	case isOpen && z <= o.ZScore-o.Hysteresis:
		t.State = codecs.AnomalyCleared
		t.Message = fmt.Sprintf("%s %s is back within %s standard deviations", signal, num(value), num(o.ZScore))
	default:
		return Transition{}, false
	}
	return t, true
}

// ZScore returns how many standard deviations value is from stat's mean; ok is false before
// minSamples values or when the statistics have no spread and value is off the mean.
func ZScore(stat codecs.RollingStat, value float64, minSamples int64) (z float64, ok bool) {
	if stat.N < minSamples {
		return 0, false
	}
	diff := math.Abs(value - stat.Mean)
	sd := math.Sqrt(stat.Var)
	if sd == 0 || !finite(sd) || !finite(stat.Mean) {
		return 0, diff == 0 && finite(stat.Mean)
	}
	z = diff / sd
	return z, finite(z)
}

// UpdateStat folds x into stat: an exponentially weighted mean and variance where alpha is the
// weight of x (Finch, "Incremental calculation of weighted mean and variance", 2009). The first
// value sets the mean. A value that would overflow the statistics (|x| near math.MaxFloat64) is
// left out: the state is JSON, which has no infinities, and an unencodable state would stop the
// processor.
func UpdateStat(stat codecs.RollingStat, x, alpha float64) codecs.RollingStat {
	if !finite(x) {
		return stat
	}
	if stat.N == 0 {
		return codecs.RollingStat{N: 1, Mean: x}
	}
	diff := x - stat.Mean
	incr := alpha * diff
	next := codecs.RollingStat{
		N:    stat.N + 1,
		Mean: stat.Mean + incr,
		Var:  (1 - alpha) * (stat.Var + diff*incr),
	}
	if !finite(next.Mean) || !finite(next.Var) {
		return stat
	}
	return next
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func round(f float64) float64 { return math.Round(f*100) / 100 }
