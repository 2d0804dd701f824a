package codecs

import (
	"encoding/json"
	"testing"
	"time"
)

// The benchmarks measure each codec next to a stdlib baseline: plain encoding/json into a
// map[string]any or a naive struct. The baselines validate nothing, so the difference is the
// price of tolerant decoding (shape detection, VIN and name checks, timestamp forms, kinds).
//
//	go test -run='^$' -bench=. -benchmem ./codecs

// naiveTelemetry is what a decoder that trusts its input would use.
type naiveTelemetry struct {
	Name      string  `json:"name"`
	Value     any     `json:"value"`
	VIN       string  `json:"vin"`
	TripID    string  `json:"trip_id"`
	Timestamp string  `json:"timestamp"`
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

func BenchmarkDecodeTelemetry(b *testing.B) {
	for _, name := range []string{"telemetry-speed.json", "telemetry-gear.json", "telemetry-location.json", "v3-vehicle-tick.json"} {
		msg := fixture(b, name)
		b.Run(name+"/codecs", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if _, err := DecodeTelemetry(msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/stdlib-map", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				var m map[string]any
				if err := json.Unmarshal(msg, &m); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/stdlib-struct", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				var w naiveTelemetry
				if err := json.Unmarshal(msg, &w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// naiveTrip is the trip aggregate with its timestamps left as strings.
type naiveTrip struct {
	VIN                          string  `json:"vin"`
	TripID                       string  `json:"trip_id"`
	Timestamp                    string  `json:"timestamp"`
	StartTime                    string  `json:"start_time"`
	EndTime                      string  `json:"end_time"`
	VehicleSpeedMean             float64 `json:"vehicle_speed_mean"`
	EngineSpeedMean              float64 `json:"engine_speed_mean"`
	TorqueAtTransmissionMean     float64 `json:"torque_at_transmission_mean"`
	OilTempMean                  float64 `json:"oil_temp_mean"`
	AcceleratorPedalPositionMean float64 `json:"accelerator_pedal_position_mean"`
	BrakeMean                    float64 `json:"brake_mean"`
	HighSpeedDuration            float64 `json:"high_speed_duration"`
	HighAccelerationEvent        float64 `json:"high_acceleration_event"`
	HighBrakingEvent             float64 `json:"high_braking_event"`
	IdleDuration                 float64 `json:"idle_duration"`
	IgnitionStatus               string  `json:"ignition_status"`
	BrakePedalStatus             bool    `json:"brake_pedal_status"`
	TransmissionGearPosition     string  `json:"transmission_gear_position"`
	Odometer                     float64 `json:"odometer"`
	FuelLevel                    float64 `json:"fuel_level"`
	FuelConsumedSinceRestart     float64 `json:"fuel_consumed_since_restart"`
	Latitude                     float64 `json:"latitude"`
	Longitude                    float64 `json:"longitude"`
}

func BenchmarkDecodeTrip(b *testing.B) {
	msg := fixture(b, "trip-aggregate.json")
	b.Run("codecs", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			if _, err := DecodeTrip(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib-map", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(msg, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib-struct", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			var w naiveTrip
			if err := json.Unmarshal(msg, &w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecodeDTC(b *testing.B) {
	msg := fixture(b, "dtc.json")
	b.Run("codecs", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			if _, err := DecodeDTC(msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib-map", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(msg, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stdlib-struct", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			var w struct {
				VIN       string `json:"vin"`
				TripID    string `json:"trip_id"`
				Name      string `json:"name"`
				Value     string `json:"value"`
				Timestamp string `json:"timestamp"`
			}
			if err := json.Unmarshal(msg, &w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func benchMeasurement() Measurement {
	return Measurement{
		VIN: "5JO226H6QR3J3T7TI", TripID: "c6bacef5-1bfc-4a72-8261-6c1272772f13",
		Name: SignalVehicleSpeed, Value: Number(64.2), Time: utc(2021, 3, 6, 8, 13, 5, 112_000_000),
		Dimensions: map[string]string{"trip_id": "c6bacef5-1bfc-4a72-8261-6c1272772f13", "ignition_status": "run"},
	}
}

// naiveMeasurement carries its value as any, the way a codec without a Value type would.
type naiveMeasurement struct {
	VIN        string            `json:"vin"`
	TripID     string            `json:"trip_id,omitempty"`
	Name       string            `json:"name"`
	Value      any               `json:"value"`
	Time       time.Time         `json:"time"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
}

func BenchmarkEncodeMeasurement(b *testing.B) {
	m := benchMeasurement()
	codec := JSON[Measurement]{}
	b.Run("codecs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.Encode(&m); err != nil {
				b.Fatal(err)
			}
		}
	})
	n := naiveMeasurement{VIN: m.VIN, TripID: m.TripID, Name: m.Name, Value: m.Value.Num, Time: m.Time, Dimensions: m.Dimensions}
	b.Run("stdlib-struct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&n); err != nil {
				b.Fatal(err)
			}
		}
	})
	mm := map[string]any{"vin": m.VIN, "trip_id": m.TripID, "name": m.Name, "value": m.Value.Num, "time": m.Time, "dimensions": m.Dimensions}
	b.Run("stdlib-map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(mm); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchVehicleState is a vehicle-state table value after a v3 tick: every known signal, rolling
// statistics of the numeric ones and one open anomaly.
func benchVehicleState(b *testing.B) VehicleState {
	sigs, err := DecodeTelemetry(fixture(b, "v3-vehicle-tick.json"))
	if err != nil {
		b.Fatal(err)
	}
	st := VehicleState{
		VIN: sigs[0].VIN, TripID: sigs[0].TripID, UpdatedAt: sigs[0].Time, Messages: 1234,
		Signals: map[string]SignalState{}, Stats: map[string]RollingStat{},
		OpenAnomalies: map[string]Anomaly{"oil_temp_high": {
			ID: "a1", VIN: sigs[0].VIN, Rule: "oil_temp_high", Signal: SignalOilTemp, State: AnomalyOpen,
			Severity: "warning", Value: 261.2, Threshold: 250, StartedAt: sigs[0].Time, Time: sigs[0].Time,
		}},
	}
	for _, s := range sigs {
		st.Signals[s.Name] = SignalState{Value: s.Value, Time: s.Time}
		if s.Value.Kind == KindNumber {
			st.Stats[s.Name] = RollingStat{N: 1000, Mean: s.Value.Num, Var: 1.5}
		}
	}
	return st
}

// naiveSignalState carries its value as any.
type naiveSignalState struct {
	Value any       `json:"value"`
	Time  time.Time `json:"time"`
}

type naiveVehicleState struct {
	VIN           string                      `json:"vin"`
	TripID        string                      `json:"trip_id,omitempty"`
	UpdatedAt     time.Time                   `json:"updated_at"`
	Signals       map[string]naiveSignalState `json:"signals"`
	Stats         map[string]RollingStat      `json:"stats,omitempty"`
	OpenAnomalies map[string]Anomaly          `json:"open_anomalies,omitempty"`
	Messages      int64                       `json:"messages"`
}

func BenchmarkEncodeVehicleState(b *testing.B) {
	st := benchVehicleState(b)
	codec := JSON[VehicleState]{}
	b.Run("codecs", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.Encode(&st); err != nil {
				b.Fatal(err)
			}
		}
	})
	n := naiveVehicleState{VIN: st.VIN, TripID: st.TripID, UpdatedAt: st.UpdatedAt, Signals: map[string]naiveSignalState{},
		Stats: st.Stats, OpenAnomalies: st.OpenAnomalies, Messages: st.Messages}
	for name, s := range st.Signals {
		var v any
		switch s.Value.Kind {
		case KindNumber:
			v = s.Value.Num
		case KindString:
			v = s.Value.Str
		case KindBool:
			v = s.Value.Bool
		case KindLocation:
			v = map[string]float64{"latitude": s.Value.Lat, "longitude": s.Value.Lon}
		}
		n.Signals[name] = naiveSignalState{Value: v, Time: s.Time}
	}
	b.Run("stdlib-struct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(&n); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Decoding is what a table lookup and every update pays; measure it too.
	enc, err := codec.Encode(&st)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decode/codecs", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			if _, err := codec.Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/stdlib-map", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(enc)))
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(enc, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
