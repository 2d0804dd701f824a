package vehiclestate

import (
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors/rules"
)

var t0 = time.Date(2021, 3, 6, 8, 0, 0, 0, time.UTC)

func sig(name string, v codecs.Value, at time.Duration) codecs.Signal {
	return codecs.Signal{VIN: vin, TripID: trip, Name: name, Value: v, Time: t0.Add(at)}
}

func speed(v float64, at time.Duration) codecs.Signal {
	return sig(codecs.SignalVehicleSpeed, codecs.Number(v), at)
}

// fold applies messages one after the other and returns the last result and every anomaly.
func fold(prev *codecs.VehicleState, rs rules.Set, msgs ...[]codecs.Signal) (Result, []codecs.Anomaly) {
	var res Result
	var all []codecs.Anomaly
	state := prev
	for _, m := range msgs {
		res = Apply(state, m, nil, rs)
		state = res.State
		all = append(all, res.Anomalies...)
	}
	return res, all
}

func TestApply(t *testing.T) {
	tests := []struct {
		name      string
		msgs      [][]codecs.Signal
		speed     float64
		messages  int64
		statN     int64
		anomalies []string // "<rule> <state>"
		changed   bool     // of the last message
	}{
		{"first reading", [][]codecs.Signal{{speed(50, 0)}}, 50, 1, 1, nil, true},
		{"newer overwrites", [][]codecs.Signal{{speed(50, 0)}, {speed(60, time.Second)}}, 60, 2, 2, nil, true},
		{"older ignored", [][]codecs.Signal{{speed(50, time.Second)}, {speed(200, 0)}}, 50, 1, 1, nil, false},
		{"duplicate ignored", [][]codecs.Signal{{speed(50, 0)}, {speed(50, 0)}}, 50, 1, 1, nil, false},
		{"same time other value ignored", [][]codecs.Signal{{speed(50, 0)}, {speed(51, 0)}}, 50, 1, 1, nil, false},
		{"open and clear", [][]codecs.Signal{{speed(190, 0)}, {speed(100, time.Second)}}, 100, 2, 2, []string{"overspeed open", "overspeed cleared"}, true},
		{"older breach does not open", [][]codecs.Signal{{speed(100, time.Second)}, {speed(190, 0)}}, 100, 1, 1, nil, false},
		{"redelivered breach emits the same open again", [][]codecs.Signal{{speed(190, 0)}, {speed(190, 0)}}, 190, 1, 1, []string{"overspeed open", "overspeed open"}, false},
		{"two rules in one tick", [][]codecs.Signal{{
			sig(codecs.SignalEngineSpeed, codecs.Number(7000), 0), sig(codecs.SignalFuelLevel, codecs.Number(3), 0), speed(80, 0),
		}}, 80, 3, 1, []string{"over_rev open", "low_fuel open"}, true},
		{"non-numeric signals skip rules and stats", [][]codecs.Signal{{
			sig(codecs.SignalIgnitionStatus, codecs.String("run"), 0), sig(codecs.SignalLocation, codecs.Location(1, 2), 0),
		}}, 0, 2, 0, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, all := fold(nil, rules.Default(), tc.msgs...)
			var got []string
			for _, a := range all {
				got = append(got, a.Rule+" "+string(a.State))
			}
			s := res.State
			if s.Signals[codecs.SignalVehicleSpeed].Value.Num != tc.speed || s.Messages != tc.messages ||
				s.Stats[codecs.SignalVehicleSpeed].N != tc.statN || !reflect.DeepEqual(got, tc.anomalies) || res.Changed != tc.changed {
				t.Errorf("speed %v messages %d statN %d anomalies %v changed %v; want %v %d %d %v %v",
					s.Signals[codecs.SignalVehicleSpeed].Value.Num, s.Messages, s.Stats[codecs.SignalVehicleSpeed].N, got, res.Changed,
					tc.speed, tc.messages, tc.statN, tc.anomalies, tc.changed)
			}
			if s.VIN != vin || s.TripID != trip {
				t.Errorf("vin %q trip %q", s.VIN, s.TripID)
			}
		})
	}
}

func TestAnomalyIDs(t *testing.T) {
	_, all := fold(nil, rules.Default(), []codecs.Signal{speed(190, 0)}, []codecs.Signal{speed(100, time.Second)},
		[]codecs.Signal{speed(190, 2*time.Second)})
	if len(all) != 3 {
		t.Fatalf("anomalies %+v", all)
	}
	open, cleared, reopened := all[0], all[1], all[2]
	if open.ID != cleared.ID || open.ID != AnomalyID(vin, "overspeed", t0) || !cleared.StartedAt.Equal(t0) || !cleared.Time.Equal(t0.Add(time.Second)) {
		t.Errorf("open %+v and cleared %+v must share id and start", open, cleared)
	}
	if reopened.ID == open.ID {
		t.Error("a new anomaly reused the id of the previous one")
	}
	if again, _ := fold(nil, rules.Default(), []codecs.Signal{speed(190, 0)}); again.Anomalies[0].ID != open.ID {
		t.Error("anomaly id is not deterministic")
	}
}

func TestOutlier(t *testing.T) {
	var msgs [][]codecs.Signal
	for i := 0; i < 40; i++ {
		msgs = append(msgs, []codecs.Signal{speed(80+float64(i%3), time.Duration(i)*time.Second)})
	}
	msgs = append(msgs, []codecs.Signal{speed(150, 40*time.Second)})
	res, all := fold(nil, rules.Default(), msgs...)
	if len(all) != 1 || all[0].Rule != "outlier" || all[0].State != codecs.AnomalyOpen || all[0].Value <= 4 {
		t.Fatalf("anomalies %+v, want one outlier opening", all)
	}
	if _, ok := res.State.OpenAnomalies[rules.OutlierKey("outlier", codecs.SignalVehicleSpeed)]; !ok {
		t.Errorf("open anomalies %+v", res.State.OpenAnomalies)
	}
	// Before min_samples nothing is an outlier.
	if _, early := fold(nil, rules.Default(), msgs[0], msgs[1], msgs[2], []codecs.Signal{speed(150, time.Hour)}); len(early) != 0 {
		t.Errorf("outlier before min_samples: %+v", early)
	}
}

func TestApplyDoesNotModifyPrev(t *testing.T) {
	prev, _ := fold(nil, rules.Default(), []codecs.Signal{speed(190, 0)})
	before, _ := json.Marshal(prev.State)
	Apply(prev.State, []codecs.Signal{speed(100, time.Second), sig("new_signal", codecs.Number(1), time.Second)}, nil, rules.Default())
	after, _ := json.Marshal(prev.State)
	if string(before) != string(after) {
		t.Errorf("prev changed:\n%s\n%s", before, after)
	}
}

func TestMaxSignals(t *testing.T) {
	var tick []codecs.Signal
	for i := 0; i < MaxSignals+10; i++ {
		tick = append(tick, sig(fmt.Sprintf("custom_%03d", i), codecs.Number(1), 0))
	}
	res := Apply(nil, tick, nil, rules.Set{})
	if len(res.State.Signals) != MaxSignals || len(res.Measurements) != MaxSignals+10 {
		t.Errorf("kept %d signals, emitted %d measurements; want %d and %d", len(res.State.Signals), len(res.Measurements), MaxSignals, MaxSignals+10)
	}
}

func TestMeasurements(t *testing.T) {
	tripState := &codecs.TripState{TripID: trip, StartTime: t0.Add(-time.Hour)}
	loc := sig(codecs.SignalLocation, codecs.Location(38.9, -77.2), 0)
	tests := []struct {
		name   string
		sig    codecs.Signal
		tripID string
		trip   *codecs.TripState
		want   []codecs.Measurement
	}{
		{"number with trip start", speed(50, 0), trip, tripState, []codecs.Measurement{
			{VIN: vin, TripID: trip, Name: "vehicle_speed", Value: codecs.Number(50), Time: t0,
				Dimensions: map[string]string{"trip_id": trip, "trip_start": "2021-03-06T07:00:00Z"}},
		}},
		{"other trip's state adds no start", speed(50, 0), trip, &codecs.TripState{TripID: "old", StartTime: t0}, []codecs.Measurement{
			{VIN: vin, TripID: trip, Name: "vehicle_speed", Value: codecs.Number(50), Time: t0, Dimensions: map[string]string{"trip_id": trip}},
		}},
		{"no trip", speed(50, 0), "", nil, []codecs.Measurement{
			{VIN: vin, Name: "vehicle_speed", Value: codecs.Number(50), Time: t0},
		}},
		{"location splits", loc, trip, nil, []codecs.Measurement{
			{VIN: vin, TripID: trip, Name: "latitude", Value: codecs.Number(38.9), Time: t0, Dimensions: map[string]string{"trip_id": trip}},
			{VIN: vin, TripID: trip, Name: "longitude", Value: codecs.Number(-77.2), Time: t0, Dimensions: map[string]string{"trip_id": trip}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Measurements(tc.sig, tc.tripID, tc.trip); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Measurements = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}
