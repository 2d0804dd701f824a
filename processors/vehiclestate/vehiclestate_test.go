package vehiclestate

import (
	"bytes"
	"sort"
	"strings"
	"testing"

	"github.com/lovoo/goka/tester"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors"
	"github.com/fleetstream/fleetstream/processors/internal/processortest"
	"github.com/fleetstream/fleetstream/processors/tripstate"
)

const (
	vin  = "5JO226H6QR3J3T7TI"
	trip = "c6bacef5-1bfc-4a72-8261-6c1272772f13"
)

type harness struct {
	tt                       *tester.Tester
	series, anomalies, deads *tester.QueueTracker
}

// start runs vehicle-state, and trip-state beside it for the join, under one tester.
func start(t *testing.T, cfg Config) *harness {
	tt := tester.New(t)
	processortest.Start(t, tt, tripstate.Define(tripstate.DefaultConfig()), Define(cfg))
	return &harness{
		tt:        tt,
		series:    tt.NewQueueTracker(string(cfg.Timeseries)),
		anomalies: tt.NewQueueTracker(string(cfg.Anomalies)),
		deads:     tt.NewQueueTracker(string(cfg.DeadLetters)),
	}
}

func (h *harness) state(t *testing.T, key string) *codecs.VehicleState {
	t.Helper()
	s, _ := h.tt.TableValue(Table, key).(*codecs.VehicleState)
	return s
}

func measurements(q *tester.QueueTracker) []*codecs.Measurement {
	var out []*codecs.Measurement
	for _, v := range processortest.Drain(q) {
		out = append(out, v.(*codecs.Measurement))
	}
	return out
}

// TestFixtures consumes every telemetry fixture and checks the state kept and the measurements
// emitted, including the trip_start dimension from the joined trip-state table.
func TestFixtures(t *testing.T) {
	h := start(t, DefaultConfig())
	// Trip state of the v2 vehicle, so its measurements carry trip_start.
	h.tt.Consume("trips", vin, processortest.Payload(t, "trip-aggregate.json"))

	tests := []struct {
		file         string
		key          string
		signals      []string // kept in state after this message (cumulative per VIN)
		measurements []string
		tripStart    string
	}{
		{"telemetry-speed.json", "1NXBR32E84Z995078", []string{"vehicle_speed"}, []string{"vehicle_speed"}, ""},
		{"telemetry-vehicle-speed.json", vin, []string{"vehicle_speed"}, []string{"vehicle_speed"}, "2021-03-06T07:40:02.454Z"},
		{"telemetry-gear.json", vin, []string{"transmission_gear_position", "vehicle_speed"}, []string{"transmission_gear_position"}, "2021-03-06T07:40:02.454Z"},
		{"telemetry-bool.json", vin, []string{"brake_pedal_status", "transmission_gear_position", "vehicle_speed"}, []string{"brake_pedal_status"}, "2021-03-06T07:40:02.454Z"},
		{"telemetry-location.json", vin, []string{"brake_pedal_status", "location", "transmission_gear_position", "vehicle_speed"}, []string{"latitude", "longitude"}, "2021-03-06T07:40:02.454Z"},
		{"v3-vehicle-tick.json", "WDD2QF7SK5N7D0KR3", []string{
			"acceleration", "accelerator_pedal_position", "brake", "brake_pedal_status", "engine_speed", "fuel_consumed_since_restart",
			"fuel_level", "gear_lever_position", "ignition_status", "location", "odometer", "oil_temp", "parking_brake_status",
			"steering_wheel_angle", "torque_at_transmission", "transmission_gear_position", "vehicle_speed",
		}, []string{
			"acceleration", "accelerator_pedal_position", "brake", "brake_pedal_status", "engine_speed", "fuel_consumed_since_restart",
			"fuel_level", "gear_lever_position", "ignition_status", "latitude", "longitude", "odometer", "oil_temp", "parking_brake_status",
			"steering_wheel_angle", "torque_at_transmission", "transmission_gear_position", "vehicle_speed",
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			payload := processortest.Payload(t, tc.file)
			h.tt.Consume("telemetry", tc.key, payload)
			if dl := processortest.Drain(h.deads); len(dl) != 0 {
				t.Fatalf("dead letters %+v", dl[0])
			}
			s := h.state(t, tc.key)
			if s == nil || s.VIN != tc.key {
				t.Fatalf("state %+v", s)
			}
			var kept []string
			for name := range s.Signals {
				kept = append(kept, name)
			}
			sort.Strings(kept)
			if strings.Join(kept, ",") != strings.Join(tc.signals, ",") {
				t.Errorf("signals kept %v, want %v", kept, tc.signals)
			}
			var names []string
			for _, m := range measurements(h.series) {
				names = append(names, m.Name)
				if m.VIN != tc.key || m.TripID == "" || m.Dimensions[DimensionTripID] != m.TripID || m.Time.IsZero() {
					t.Errorf("measurement %+v lacks vin, trip or time", m)
				}
				if m.Dimensions[DimensionTripStart] != tc.tripStart {
					t.Errorf("measurement %s trip_start %q, want %q", m.Name, m.Dimensions[DimensionTripStart], tc.tripStart)
				}
			}
			sort.Strings(names)
			if strings.Join(names, ",") != strings.Join(tc.measurements, ",") {
				t.Errorf("measurements %v, want %v", names, tc.measurements)
			}
		})
	}
	if loc := h.state(t, vin).Signals["location"].Value; loc.Lat != 38.938734 || loc.Lon != -77.269385 {
		t.Errorf("location kept %+v", loc)
	}
}

// TestSequence drives one vehicle through an anomaly's life, duplicates, out-of-order readings
// and poison messages, checking emits, state and metrics after each message.
func TestSequence(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := DefaultConfig()
	cfg.Metrics = processors.NewMetrics(reg)
	h := start(t, cfg)
	base := processortest.Payload(t, "telemetry-vehicle-speed.json")
	speed := func(value any, ts string) []byte {
		return processortest.Set(t, base, "value", value, "timestamp", ts)
	}

	type want struct {
		measurements int
		anomaly      codecs.AnomalyState // "" for none
		speed        float64             // vehicle_speed kept
		messages     int64
		deadLetter   codecs.Reason
	}
	steps := []struct {
		name  string
		key   string
		value []byte
		want  want
	}{
		{"fixture", vin, base, want{1, "", 64.2, 1, ""}},
		{"overspeed opens", vin, speed(190, "2021-03-06 08:13:06"), want{1, codecs.AnomalyOpen, 190, 2, ""}},
		{"redelivered reading emits the open anomaly again", vin, speed(190, "2021-03-06 08:13:06"), want{1, codecs.AnomalyOpen, 190, 2, ""}},
		{"still above: nothing emitted", vin, speed(195, "2021-03-06 08:13:07"), want{1, "", 195, 3, ""}},
		{"within hysteresis: still open", vin, speed(177, "2021-03-06 08:13:07.5"), want{1, "", 177, 4, ""}},
		{"older reading: timeseries only", vin, speed(10, "2021-03-06 08:13:03"), want{1, "", 177, 4, ""}},
		{"garbage", vin, []byte("garbage"), want{0, "", 177, 4, codecs.ReasonInvalidJSON}},
		{"no vin", vin, processortest.Modify(t, base, func(m map[string]any) { delete(m, "vin") }), want{0, "", 177, 4, codecs.ReasonMissingVIN}},
		{"wrong value type", vin, speed("fast", "2021-03-06 08:13:09"), want{0, "", 177, 4, codecs.ReasonWrongType}},
		{"key mismatch", "OTHERVIN000000000", speed(300, "2021-03-06 08:13:09"), want{0, "", 177, 4, codecs.ReasonKeyMismatch}},
		{"overspeed clears", vin, speed(170, "2021-03-06 08:13:08"), want{1, codecs.AnomalyCleared, 170, 5, ""}},
		{"string signal", vin, processortest.Payload(t, "telemetry-gear.json"), want{1, "", 170, 6, ""}},
	}

	var openID string
	for _, step := range steps {
		offset := h.tt.NewQueueTracker("telemetry").Hwm()
		h.tt.Consume("telemetry", step.key, step.value)
		w := step.want

		if got := len(measurements(h.series)); got != w.measurements {
			t.Errorf("%s: %d measurements, want %d", step.name, got, w.measurements)
		}
		anomalies := processortest.Drain(h.anomalies)
		switch {
		case w.anomaly == "" && len(anomalies) != 0:
			t.Errorf("%s: unexpected anomalies %+v", step.name, anomalies)
		case w.anomaly != "":
			if len(anomalies) != 1 {
				t.Fatalf("%s: %d anomalies, want 1", step.name, len(anomalies))
			}
			a := anomalies[0].(*codecs.Anomaly)
			if openID == "" {
				openID = a.ID
			}
			if a.State != w.anomaly || a.Rule != "overspeed" || a.ID != openID || a.ID == "" || a.VIN != vin || a.TripID != trip ||
				a.Threshold != 180 || a.Severity != processors.SeverityWarning {
				t.Errorf("%s: anomaly %+v, want %s with id %s", step.name, a, w.anomaly, openID)
			}
		}
		s := h.state(t, vin)
		if s.Signals["vehicle_speed"].Value.Num != w.speed || s.Messages != w.messages {
			t.Errorf("%s: speed %v messages %d, want %v %d", step.name, s.Signals["vehicle_speed"].Value.Num, s.Messages, w.speed, w.messages)
		}

		letters := processortest.Drain(h.deads)
		if w.deadLetter == "" {
			if len(letters) != 0 {
				t.Errorf("%s: unexpected dead letter %+v", step.name, letters[0])
			}
			continue
		}
		if len(letters) != 1 {
			t.Fatalf("%s: %d dead letters, want 1", step.name, len(letters))
		}
		dl := letters[0].(*codecs.DeadLetter)
		if dl.Reason != w.deadLetter || dl.Stage != string(Group) || dl.Topic != "telemetry" || dl.Key != step.key ||
			dl.Offset != offset || !bytes.Equal(dl.Value, step.value) {
			t.Errorf("%s: dead letter %+v, want reason %s at offset %d with the original bytes", step.name, dl, w.deadLetter, offset)
		}
	}
	if s := h.state(t, vin); len(s.OpenAnomalies) != 0 {
		t.Errorf("open anomalies left: %+v", s.OpenAnomalies)
	}
	if keys := h.tt.GetTableKeys(Table); len(keys) != 1 {
		t.Errorf("table keys %v, want only %s", keys, vin)
	}

	for _, m := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"fleetstream_anomalies_total", map[string]string{"rule": "overspeed", "state": "open"}, 2},
		{"fleetstream_anomalies_total", map[string]string{"rule": "overspeed", "state": "cleared"}, 1},
		{"fleetstream_dead_letters_total", map[string]string{"group": "vehicle-state", "reason": "invalid_json"}, 1},
		{"fleetstream_dead_letters_total", map[string]string{"group": "vehicle-state", "reason": "key_mismatch"}, 1},
		{"fleetstream_event_time_lag_seconds", map[string]string{"group": "vehicle-state"}, 8},
	} {
		if got := processortest.MetricValue(t, reg, m.name, m.labels); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	cfg := DefaultConfig()
	cfg.Timeseries, cfg.TripTable = "", ""
	cfg.Rules.Thresholds[0].Op = "over"
	err := cfg.Validate()
	for _, w := range []string{"Timeseries is empty", "TripTable is empty", "thresholds[0].op"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate = %v, want it to name %q", err, w)
		}
	}
}

// TestExtremeValues sends readings near the float64 limits: the state must stay encodable
// (JSON has no infinities), or goka would stop the processor on the next table write.
func TestExtremeValues(t *testing.T) {
	h := start(t, DefaultConfig())
	base := processortest.Payload(t, "telemetry-vehicle-speed.json")
	for i, v := range []float64{1e308, -1e308, 1e308, -1.7e308} {
		ts := "2021-03-06 08:13:0" + string(rune('5'+i))
		h.tt.Consume("telemetry", vin, processortest.Set(t, base, "value", v, "timestamp", ts))
	}
	h.tt.Consume("telemetry", vin, processortest.Set(t, base, "value", 50, "timestamp", "2021-03-06 08:14:00"))
	s := h.state(t, vin)
	if s.Signals["vehicle_speed"].Value.Num != 50 || s.Messages != 5 {
		t.Errorf("state after extreme values %+v", s.Signals["vehicle_speed"])
	}
	if dl := processortest.Drain(h.deads); len(dl) != 0 {
		t.Errorf("dead letters %+v", dl)
	}
}
