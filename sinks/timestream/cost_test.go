package timestream

import (
	"fmt"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
)

func TestEstimateCostByHand(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var ms []codecs.Measurement
	for _, vin := range []string{"V1", "V2"} {
		for i, name := range []string{"a", "bb", "ccc"} {
			ms = append(ms, codecs.Measurement{VIN: vin, TripID: "t1", Name: name, Value: codecs.Number(1), Time: t0.Add(time.Duration(i) * time.Millisecond)})
		}
	}
	ms = append(ms,
		codecs.Measurement{VIN: "V1", TripID: "t1", Name: "a", Value: codecs.Number(0), Time: t0.Add(-time.Second + time.Millisecond)}, // own bucket
		codecs.Measurement{VIN: "V1", TripID: "t1", Name: "a", Value: codecs.Number(2), Time: t0.Add(500 * time.Millisecond)},          // supersedes a
		codecs.Measurement{VIN: "", Name: "a", Value: codecs.Number(2), Time: t0},                                                      // skipped
	)
	got := EstimateCost(ms, Config{})
	// Records: V1@t0 {a,bb,ccc}, V2@t0 {a,bb,ccc}, V1@t0-1s {a}.
	// Record bytes = 8 time + 14 dims (vin+V1, trip_id+t1) + 7 "signals" + measures (name + 8):
	//   59, 59 and 8+14+7+9 = 38. One request: (59-14)+(59-14)+(38-14) = 114, plus each distinct
	//   dimension once (vin=V1 5, vin=V2 5, trip_id=t1 9) = 133 bytes → 1 write unit.
	// Naive: 8 single-measure records (8+14+len(name)+8 bytes each), one unit each unbatched;
	//   batched in one request: 8 records of 17/18/19 bytes without dims, 19 bytes of dims.
	want := Cost{
		Measurements: 9, Skipped: 1, Superseded: 1,
		Requests: 1, Records: 3, Measures: 7, MeasuresPerRecord: 7.0 / 3, Bytes: 133, WriteUnits: 1,
		Naive: NaiveCost{Records: 8, Requests: 8, WriteUnits: 8, BatchedRequests: 1, BatchedWriteUnits: 1},
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
}

func TestEstimateCostScales(t *testing.T) {
	// 200 vehicles, 16 signals and a location (two measures) at 1 Hz for a minute.
	ms := simulatedFleet(200, 60)
	c := EstimateCost(ms, Config{})
	if c.Records != 200*60 || c.Measures != 200*60*18 || c.MeasuresPerRecord != 18 {
		t.Errorf("records %d, measures %d", c.Records, c.Measures)
	}
	if c.Requests != (200*60+99)/100 {
		t.Errorf("requests %d", c.Requests)
	}
	if c.Naive.Records != len(ms)+200*60 { // a location is two records
		t.Errorf("naive records %d", c.Naive.Records)
	}
	if c.Saving() < 0.3 || c.WriteUnits >= c.Naive.BatchedWriteUnits || c.Naive.BatchedWriteUnits >= c.Naive.WriteUnits {
		t.Errorf("multi-measure %d units, naive batched %d, naive %d", c.WriteUnits, c.Naive.BatchedWriteUnits, c.Naive.WriteUnits)
	}
	wide := EstimateCost(ms, Config{Bucket: 10 * time.Second})
	if wide.Records >= c.Records {
		t.Errorf("10s buckets: %d records, 1s buckets: %d", wide.Records, c.Records)
	}
}

// simulatedFleet is seconds of 1 Hz telemetry (16 numeric signals and a location) for vins
// vehicles.
func simulatedFleet(vins, seconds int) []codecs.Measurement {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	names := []string{"steering_wheel_angle", "torque_at_transmission", "engine_speed", "vehicle_speed",
		"acceleration", "accelerator_pedal_position", "parking_brake_status", "brake_pedal_status",
		"transmission_gear_position", "gear_lever_position", "odometer", "ignition_status", "fuel_level",
		"fuel_consumed_since_restart", "oil_temp", "brake"}
	var ms []codecs.Measurement
	for s := 0; s < seconds; s++ {
		for v := 0; v < vins; v++ {
			vin := fmt.Sprintf("1FLEET%011d", v)
			trip := fmt.Sprintf("trip-%d", v)
			at := t0.Add(time.Duration(s)*time.Second + time.Duration(v%900)*time.Millisecond)
			for i, n := range names {
				ms = append(ms, codecs.Measurement{VIN: vin, TripID: trip, Name: n, Value: codecs.Number(float64(s*i) + 0.5), Time: at})
			}
			ms = append(ms, codecs.Measurement{VIN: vin, TripID: trip, Name: "location", Value: codecs.Location(42.29+float64(s)/1e4, -83.71), Time: at})
		}
	}
	return ms
}

// The estimate agrees with what the fake meters for the requests the backend really sends.
func TestEstimateCostMatchesWhatIsWritten(t *testing.T) {
	h := newHarness(t, Config{})
	ms := simulatedFleet(30, 5)
	shift := base().Sub(ms[0].Time)
	var batch []sinks.Record
	for i := range ms {
		ms[i].Time = ms[i].Time.Add(shift)
		batch = append(batch, h.measurement(ms[i]))
	}
	h.write(h.b, batch)
	est := EstimateCost(ms, Config{})
	got := h.fake.Metered(testDB, "telemetry")
	if got.Requests != est.Requests || got.Records != est.Records || got.Bytes != est.Bytes || got.WriteUnits != est.WriteUnits {
		t.Errorf("fake metered %+v, estimate %+v", got, est)
	}
}
