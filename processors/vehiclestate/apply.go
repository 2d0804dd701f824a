package vehiclestate

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors/rules"
)

// MaxSignals bounds the distinct signals kept per vehicle, so a vehicle sending ever new
// attribute names cannot grow its state without limit. Signals beyond it still go to
// timeseries; they are not kept and no rule sees them.
const MaxSignals = 128

// Dimension names of measurements.
const (
	DimensionTripID    = "trip_id"
	DimensionTripStart = "trip_start"
)

// Measurement names a location becomes.
const (
	MeasurementLatitude  = "latitude"
	MeasurementLongitude = "longitude"
)

// Result is what one telemetry message does to a vehicle.
type Result struct {
	// State is the vehicle's new state; it is prev, untouched, when Changed is false.
	State   *codecs.VehicleState
	Changed bool
	// Measurements go to timeseries, one per signal (two for a location), in signal order.
	Measurements []codecs.Measurement
	// Anomalies go to anomalies: the ones that opened or cleared, and the ones a duplicate
	// reading opened, emitted again.
	Anomalies []codecs.Anomaly
}

// Apply folds decoded signals of one vehicle into its state (prev, nil for a vehicle not seen
// yet), with trip the joined trip state (nil when unknown), and evaluates rs on every numeric
// signal newer than the stored reading. It does not modify prev.
func Apply(prev *codecs.VehicleState, signals []codecs.Signal, trip *codecs.TripState, rs rules.Set) Result {
	return applyTo(prev, clone(prev, signals), signals, trip, rs)
}

// applyOwned is Apply for a prev that nothing else holds, such as the state goka decodes
// afresh for every message: it folds the signals into prev itself rather than into a copy,
// saving the copy of three maps per message. prev ends up as the new state when Changed, and
// otherwise as it was (its nil maps made empty, which encodes the same).
func applyOwned(prev *codecs.VehicleState, signals []codecs.Signal, trip *codecs.TripState, rs rules.Set) Result {
	if prev == nil {
		return Apply(nil, signals, trip, rs)
	}
	if prev.Signals == nil {
		prev.Signals = map[string]codecs.SignalState{}
	}
	if prev.Stats == nil {
		prev.Stats = map[string]codecs.RollingStat{}
	}
	if prev.OpenAnomalies == nil {
		prev.OpenAnomalies = map[string]codecs.Anomaly{}
	}
	return applyTo(prev, prev, signals, trip, rs)
}

// applyTo applies signals to state, which is prev or a copy of it.
func applyTo(prev, state *codecs.VehicleState, signals []codecs.Signal, trip *codecs.TripState, rs rules.Set) Result {
	res := Result{State: state}
	alpha := rs.Alpha()
	for _, sig := range signals {
		tripID := sig.TripID
		if tripID == "" {
			tripID = state.TripID
		}
		res.Measurements = append(res.Measurements, Measurements(sig, tripID, trip)...)

		stored, seen := state.Signals[sig.Name]
		switch {
		case seen && sig.Time.Before(stored.Time):
			continue // out of order: a reading older than the one kept
		case seen && sig.Time.Equal(stored.Time):
			if sig.Value.Equal(stored.Value) {
				res.Anomalies = append(res.Anomalies, openedBy(state, sig)...)
			}
			continue
		case !seen && len(state.Signals) >= MaxSignals:
			continue
		}

		if sig.Value.Kind == codecs.KindNumber {
			for _, t := range rs.Evaluate(state, sig.Name, sig.Value.Num) {
				res.Anomalies = append(res.Anomalies, transition(state, t, sig, tripID))
			}
			state.Stats[sig.Name] = rules.UpdateStat(state.Stats[sig.Name], sig.Value.Num, alpha)
		}
		state.Signals[sig.Name] = codecs.SignalState{Value: sig.Value, Time: sig.Time}
		state.Messages++
		if !sig.Time.Before(state.UpdatedAt) {
			state.UpdatedAt = sig.Time
			if sig.TripID != "" {
				state.TripID = sig.TripID
			}
		}
		res.Changed = true
	}
	if !res.Changed {
		res.State = prev
	}
	return res
}

// clone copies prev so Apply can change it, or starts the state of a new vehicle.
func clone(prev *codecs.VehicleState, signals []codecs.Signal) *codecs.VehicleState {
	s := &codecs.VehicleState{}
	if prev != nil {
		*s = *prev
	} else if len(signals) > 0 {
		s.VIN = signals[0].VIN
	}
	s.Signals = maps.Clone(s.Signals)
	s.Stats = maps.Clone(s.Stats)
	s.OpenAnomalies = maps.Clone(s.OpenAnomalies)
	if s.Signals == nil {
		s.Signals = map[string]codecs.SignalState{}
	}
	if s.Stats == nil {
		s.Stats = map[string]codecs.RollingStat{}
	}
	if s.OpenAnomalies == nil {
		s.OpenAnomalies = map[string]codecs.Anomaly{}
	}
	return s
}

// transition records a rule's transition in state and returns the anomaly to emit.
func transition(state *codecs.VehicleState, t rules.Transition, sig codecs.Signal, tripID string) codecs.Anomaly {
	a := codecs.Anomaly{
		VIN: state.VIN, TripID: tripID, Rule: t.Rule, Signal: t.Signal, State: t.State,
		Severity: t.Severity, Value: t.Value, Threshold: t.Threshold, Message: t.Message,
		StartedAt: sig.Time, Time: sig.Time,
	}
	if t.State == codecs.AnomalyCleared {
		if opened, ok := state.OpenAnomalies[t.Key]; ok {
			a.StartedAt = opened.StartedAt
		}
		delete(state.OpenAnomalies, t.Key)
		a.ID = AnomalyID(state.VIN, t.Key, a.StartedAt)
		return a
	}
	a.ID = AnomalyID(state.VIN, t.Key, a.StartedAt)
	state.OpenAnomalies[t.Key] = a
	return a
}

// openedBy returns the open anomalies that reading sig opened, in key order.
func openedBy(state *codecs.VehicleState, sig codecs.Signal) []codecs.Anomaly {
	var out []codecs.Anomaly
	for _, key := range sortedKeys(state.OpenAnomalies) {
		a := state.OpenAnomalies[key]
		if a.Signal == sig.Name && a.StartedAt.Equal(sig.Time) {
			out = append(out, a)
		}
	}
	return out
}

// AnomalyID derives an anomaly's id from the vehicle, the rule's key (rules.Transition.Key) and
// the time the anomaly started; its open and clear events share it.
func AnomalyID(vin, ruleKey string, startedAt time.Time) string {
	sum := sha256.Sum256([]byte(vin + "\x00" + ruleKey + "\x00" + strconv.FormatInt(startedAt.UnixNano(), 10)))
	return hex.EncodeToString(sum[:16])
}

// Measurements returns the measurements of one signal: one, or latitude and longitude for a
// location. Dimensions carry trip_id and, when trip is the state of that same trip, trip_start.
func Measurements(sig codecs.Signal, tripID string, trip *codecs.TripState) []codecs.Measurement {
	var dims map[string]string
	if tripID != "" {
		dims = map[string]string{DimensionTripID: tripID}
		if trip != nil && trip.TripID == tripID && !trip.StartTime.IsZero() {
			dims[DimensionTripStart] = trip.StartTime.UTC().Format(time.RFC3339Nano)
		}
	}
	m := codecs.Measurement{VIN: sig.VIN, TripID: tripID, Name: sig.Name, Value: sig.Value, Time: sig.Time, Dimensions: dims}
	if sig.Value.Kind != codecs.KindLocation {
		return []codecs.Measurement{m}
	}
	lat, lon := m, m
	lat.Name, lat.Value = MeasurementLatitude, codecs.Number(sig.Value.Lat)
	lon.Name, lon.Value = MeasurementLongitude, codecs.Number(sig.Value.Lon)
	lon.Dimensions = maps.Clone(dims)
	return []codecs.Measurement{lat, lon}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
