package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
)

// codecResult is one codec benchmark next to its encoding/json counterpart.
type codecResult struct {
	name            string
	bytes           int
	ns, stdNs       float64
	allocs, stdAllc int64
}

// naive* are what a decoder that trusts its input would use: encoding/json into plain structs
// (the same baselines as codecs/bench_test.go).
type naiveTelemetry struct {
	Name      string  `json:"name"`
	Value     any     `json:"value"`
	VIN       string  `json:"vin"`
	TripID    string  `json:"trip_id"`
	Timestamp string  `json:"timestamp"`
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

type naiveTick map[string]any

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

type naiveDTC struct {
	VIN       string `json:"vin"`
	TripID    string `json:"trip_id"`
	Name      string `json:"name"`
	Value     string `json:"value"`
	Timestamp string `json:"timestamp"`
}

type naiveMeasurement struct {
	VIN        string            `json:"vin"`
	TripID     string            `json:"trip_id,omitempty"`
	Name       string            `json:"name"`
	Value      any               `json:"value"`
	Time       time.Time         `json:"time"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
}

type naiveSignalState struct {
	Value any       `json:"value"`
	Time  time.Time `json:"time"`
}

type naiveVehicleState struct {
	VIN           string                        `json:"vin"`
	TripID        string                        `json:"trip_id,omitempty"`
	UpdatedAt     time.Time                     `json:"updated_at"`
	Signals       map[string]naiveSignalState   `json:"signals"`
	Stats         map[string]codecs.RollingStat `json:"stats,omitempty"`
	OpenAnomalies map[string]codecs.Anomaly     `json:"open_anomalies,omitempty"`
	Messages      int64                         `json:"messages"`
}

func bench(fn func() error) testing.BenchmarkResult {
	var failed error
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := fn(); err != nil {
				failed = err
				b.FailNow()
			}
		}
	})
	if failed != nil {
		fmt.Fprintf(os.Stderr, "bench: codec benchmark failed: %v\n", failed)
	}
	return r
}

func pair(name string, size int, ours, std func() error) codecResult {
	a, b := bench(ours), bench(std)
	return codecResult{name: name, bytes: size, ns: float64(a.NsPerOp()), stdNs: float64(b.NsPerOp()),
		allocs: a.AllocsPerOp(), stdAllc: b.AllocsPerOp()}
}

// runCodecs benchmarks decoding every payload fixture in dir and encoding the values the
// topology writes per message, each next to plain encoding/json, with testing.Benchmark.
func runCodecs(dir string, state *codecs.VehicleState) ([]codecResult, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no payload fixtures in %s (set -payloads): %v", dir, err)
	}
	sort.Strings(files)
	var out []codecResult
	for _, f := range files {
		msg, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		name := filepath.Base(f)
		switch {
		case strings.HasPrefix(name, "telemetry-"):
			out = append(out, pair("decode "+name, len(msg),
				func() error { _, err := codecs.DecodeTelemetry(msg); return err },
				func() error { var w naiveTelemetry; return json.Unmarshal(msg, &w) }))
		case strings.HasPrefix(name, "v3-"):
			out = append(out, pair("decode "+name, len(msg),
				func() error { _, err := codecs.DecodeTelemetry(msg); return err },
				func() error { var w naiveTick; return json.Unmarshal(msg, &w) }))
		case strings.HasPrefix(name, "trip-"):
			out = append(out, pair("decode "+name, len(msg),
				func() error { _, err := codecs.DecodeTrip(msg); return err },
				func() error { var w naiveTrip; return json.Unmarshal(msg, &w) }))
		case strings.HasPrefix(name, "dtc"):
			out = append(out, pair("decode "+name, len(msg),
				func() error { _, err := codecs.DecodeDTC(msg); return err },
				func() error { var w naiveDTC; return json.Unmarshal(msg, &w) }))
		}
	}

	m := codecs.Measurement{
		VIN: state.VIN, TripID: state.TripID, Name: codecs.SignalVehicleSpeed, Value: codecs.Number(64.2), Time: state.UpdatedAt,
		Dimensions: map[string]string{"trip_id": state.TripID},
	}
	mc := codecs.JSON[codecs.Measurement]{}
	mb, _ := mc.Encode(&m)
	nm := naiveMeasurement{VIN: m.VIN, TripID: m.TripID, Name: m.Name, Value: m.Value.Num, Time: m.Time, Dimensions: m.Dimensions}
	out = append(out, pair("encode Measurement", len(mb),
		func() error { _, err := mc.Encode(&m); return err },
		func() error { _, err := json.Marshal(&nm); return err }))

	sc := codecs.JSON[codecs.VehicleState]{}
	sb, err := sc.Encode(state)
	if err != nil {
		return nil, err
	}
	ns := naiveVehicleState{VIN: state.VIN, TripID: state.TripID, UpdatedAt: state.UpdatedAt, Signals: map[string]naiveSignalState{},
		Stats: state.Stats, OpenAnomalies: state.OpenAnomalies, Messages: state.Messages}
	for name, s := range state.Signals {
		var v any
		switch s.Value.Kind {
		case codecs.KindNumber:
			v = s.Value.Num
		case codecs.KindString:
			v = s.Value.Str
		case codecs.KindBool:
			v = s.Value.Bool
		case codecs.KindLocation:
			v = map[string]float64{"latitude": s.Value.Lat, "longitude": s.Value.Lon}
		}
		ns.Signals[name] = naiveSignalState{Value: v, Time: s.Time}
	}
	out = append(out, pair("encode VehicleState", len(sb),
		func() error { _, err := sc.Encode(state); return err },
		func() error { _, err := json.Marshal(&ns); return err }))
	out = append(out, pair("decode VehicleState", len(sb),
		func() error { _, err := sc.Decode(sb); return err },
		func() error { var w map[string]any; return json.Unmarshal(sb, &w) }))
	return out, nil
}
