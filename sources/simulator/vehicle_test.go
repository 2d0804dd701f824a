package simulator

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
)

// testVehicle is vehicle 0 of cfg on a synthetic clock.
type testVehicle struct {
	t   *testing.T
	v   *vehicle
	cfg *Config
	now time.Time
}

func newTestVehicle(t *testing.T, cfg Config) *testVehicle {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	cfg = cfg.withDefaults()
	return &testVehicle{t: t, v: newVehicle(&cfg, cfg.dtcTable(), 0), cfg: &cfg, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (tv *testVehicle) tick() []message {
	tv.t.Helper()
	msgs, err := tv.v.tick(tv.now, tv.cfg.Interval.Seconds())
	if err != nil {
		tv.t.Fatal(err)
	}
	tv.now = tv.now.Add(tv.cfg.Interval)
	return msgs
}

func decodeTrip(t *testing.T, m message) codecs.TripAggregate {
	t.Helper()
	a, err := codecs.DecodeTrip(m.payload)
	if err != nil {
		t.Fatalf("%v: %s", err, m.payload)
	}
	return a
}

// TestTripsOverTime drives one vehicle through several trips: aggregates every AggregateEvery
// and at the end, new trip ids, nothing sent while parked, the odometer never falling and
// each trouble code at most once per trip.
func TestTripsOverTime(t *testing.T) {
	cfg := Config{Vehicles: 1, Seed: 11, TripLength: 8 * time.Minute, DTCEvery: 20 * time.Second, DTCCodes: []string{"P0420", "p0171", "C0035"}}
	tv := newTestVehicle(t, cfg)
	type trip struct {
		aggregates []codecs.TripAggregate
		dtcs       map[string]int
		ticks      int
	}
	trips := map[string]*trip{}
	var order []string
	odo := 0.0
	silentTicks := 0
	for i := 0; len(order) < 4 && i < 5000; i++ {
		msgs := tv.tick()
		if len(msgs) == 0 {
			silentTicks++
			if tv.v.phase != phaseParked {
				t.Fatalf("tick %d: a vehicle in phase %d sent nothing", i, tv.v.phase)
			}
			continue
		}
		for _, m := range msgs {
			switch m.kind {
			case KindTelemetry:
				sigs, err := codecs.DecodeTelemetry(m.payload)
				if err != nil {
					t.Fatal(err)
				}
				s := sigs[0]
				tr := trips[s.TripID]
				if tr == nil {
					tr = &trip{dtcs: map[string]int{}}
					trips[s.TripID] = tr
					order = append(order, s.TripID)
				}
				if s.Name == codecs.SignalOdometer {
					tr.ticks++
					if s.Value.Num < odo {
						t.Fatalf("odometer fell from %v to %v", odo, s.Value.Num)
					}
					odo = s.Value.Num
				}
			case KindDTC:
				d, err := codecs.DecodeDTC(m.payload)
				if err != nil {
					t.Fatal(err)
				}
				trips[d.TripID].dtcs[d.Code]++
			case KindTrip:
				a := decodeTrip(t, m)
				trips[a.TripID].aggregates = append(trips[a.TripID].aggregates, a)
			}
		}
	}
	if silentTicks == 0 {
		t.Error("the vehicle never paused between trips")
	}
	for n, id := range order[:len(order)-1] { // the last trip is still running
		tr := trips[id]
		aggs := tr.aggregates
		if len(aggs) < 2 {
			t.Fatalf("trip %d: %d aggregates", n, len(aggs))
		}
		last := aggs[len(aggs)-1]
		if last.EndTime == nil || last.IgnitionStatus != ignitionOff {
			t.Errorf("trip %d: last aggregate has end_time %v, ignition %q; want an end and off", n, last.EndTime, last.IgnitionStatus)
		}
		for k, a := range aggs[:len(aggs)-1] {
			if a.EndTime != nil {
				t.Errorf("trip %d: aggregate %d of %d has an end_time", n, k, len(aggs))
			}
			if got := a.Time.Sub(a.StartTime); got != time.Duration(k+1)*tv.cfg.AggregateEvery {
				t.Errorf("trip %d: aggregate %d at %s into the trip, want every %s", n, k, got, tv.cfg.AggregateEvery)
			}
		}
		dur := last.EndTime.Sub(last.StartTime)
		if dur < 6*time.Minute || dur > 11*time.Minute {
			t.Errorf("trip %d lasted %s, want 8m ±25%% plus the time to stop", n, dur)
		}
		if last.Odometer <= aggs[0].Odometer || last.FuelLevel > aggs[0].FuelLevel || last.FuelConsumedSinceRestart <= 0 {
			t.Errorf("trip %d: odometer %v→%v, fuel %v→%v, consumed %v", n, aggs[0].Odometer, last.Odometer, aggs[0].FuelLevel, last.FuelLevel, last.FuelConsumedSinceRestart)
		}
		if last.VehicleSpeedMean <= 5 || last.EngineSpeedMean < IdleRPM/2 || last.OilTempMean <= AmbientOilTemp {
			t.Errorf("trip %d: implausible means %+v", n, last)
		}
		if last.IdleDuration <= 0 || last.IdleDuration > dur.Seconds()*1000 {
			t.Errorf("trip %d: idle %v ms in %s", n, last.IdleDuration, dur)
		}
		if len(tr.dtcs) == 0 {
			t.Errorf("trip %d: no DTC in %s with one every 20s", n, dur)
		}
		for code, count := range tr.dtcs {
			if count != 1 || (code != "P0420" && code != "P0171" && code != "C0035") {
				t.Errorf("trip %d: code %s sent %d times; want only the configured codes, once each", n, code, count)
			}
		}
	}
}

// TestEventsOverAFleet checks that the trip aggregates' event counters see events at all.
func TestEventsOverAFleet(t *testing.T) {
	var highSpeed, accel, brake float64
	for seed := int64(0); seed < 30; seed++ {
		tv := newTestVehicle(t, Config{Vehicles: 1, Seed: seed, TripLength: 15 * time.Minute})
		for i := 0; i < 600; i++ {
			for _, m := range tv.tick() {
				if m.kind == KindTrip {
					if a := decodeTrip(t, m); a.EndTime != nil {
						highSpeed += a.HighSpeedDuration
						accel += a.HighAccelerationEvents
						brake += a.HighBrakingEvents
					}
				}
			}
		}
	}
	if highSpeed == 0 || accel == 0 || brake == 0 {
		t.Errorf("30 vehicles saw %v ms at high speed, %v hard accelerations, %v hard brakings; want some of each", highSpeed, accel, brake)
	}
}

// TestStopCommand: a driving vehicle told to stop brakes to a standstill over the next ticks,
// switches off, ends its trip, reports its shadow, logs it, and sends nothing more.
func TestStopCommand(t *testing.T) {
	var logs bytes.Buffer
	cfg := Config{Vehicles: 1, Seed: 5, TripLength: time.Hour, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	tv := newTestVehicle(t, cfg)
	for i := 0; i < 200 || tv.v.state.Speed < 40; i++ {
		tv.tick()
	}
	tripID := tv.v.trip.id
	tv.v.pending = &command{engine: "stop", clientToken: "cmd-123"}
	prevSpeed := tv.v.state.Speed
	var final *codecs.TripAggregate
	var report []byte
	var lastTelemetry []codecs.Signal
	for i := 0; report == nil; i++ {
		if i > 60 {
			t.Fatalf("no shadow report 60 ticks after the stop command (speed %v)", tv.v.state.Speed)
		}
		for _, m := range tv.tick() {
			switch m.kind {
			case KindTelemetry:
				sigs, _ := codecs.DecodeTelemetry(m.payload)
				lastTelemetry = append(lastTelemetry, sigs...)
			case KindTrip:
				a := decodeTrip(t, m)
				final = &a
			case KindShadow:
				if m.topic != "$aws/things/"+tv.v.vin+"/shadow/update" {
					t.Errorf("shadow report on %q", m.topic)
				}
				report = m.payload
			}
		}
		if s := tv.v.state; s.Speed > prevSpeed || s.Acceleration < HighBraking {
			t.Fatalf("after the stop command speed went %v → %v (%v km/h/s)", prevSpeed, s.Speed, s.Acceleration)
		}
		prevSpeed = tv.v.state.Speed
	}
	if want := `{"state":{"reported":{"engine":"stopped","ignition_status":"off"}},"clientToken":"cmd-123"}`; string(report) != want {
		t.Errorf("shadow report %s, want %s", report, want)
	}
	if final == nil || final.EndTime == nil || final.TripID != tripID || final.IgnitionStatus != ignitionOff {
		t.Errorf("final aggregate %+v; want trip %s ended with ignition off", final, tripID)
	}
	got := map[string]codecs.Value{}
	for _, s := range lastTelemetry[len(lastTelemetry)-17:] {
		got[s.Name] = s.Value
	}
	if got[codecs.SignalIgnitionStatus].Str != ignitionOff || got[codecs.SignalVehicleSpeed].Num != 0 ||
		got[codecs.SignalEngineSpeed].Num != 0 || !got[codecs.SignalParkingBrakeStatus].Bool || got[codecs.SignalGearLeverPosition].Str != leverPark {
		t.Errorf("last telemetry %v; want standing, engine off, parking brake on, lever in park", got)
	}
	if !strings.Contains(logs.String(), `"msg":"vehicle stopped by command"`) || !strings.Contains(logs.String(), `"vin":"`+tv.v.vin+`"`) {
		t.Errorf("log lacks the stop with the VIN:\n%s", logs.String())
	}
	for i := 0; i < 1000; i++ {
		if msgs := tv.tick(); len(msgs) > 0 {
			t.Fatalf("a vehicle stopped by command sent %s", msgs[0].payload)
		}
	}

	// A second stop is confirmed again; a start begins a new trip.
	tv.v.pending = &command{engine: "stop"}
	if msgs := tv.tick(); len(msgs) != 1 || msgs[0].kind != KindShadow {
		t.Errorf("a repeated stop sent %d messages, want one shadow report", len(msgs))
	}
	tv.v.pending = &command{engine: "start"}
	msgs := tv.tick()
	if len(msgs) == 0 {
		t.Fatal("a start command did not start the vehicle")
	}
	if sigs, _ := codecs.DecodeTelemetry(msgs[0].payload); sigs[0].TripID == tripID {
		t.Error("the restarted vehicle kept its old trip id")
	}
}

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		payload string
		want    command
		ok      bool
	}{
		{`{"state":{"desired":{"engine":"stop"}},"clientToken":"abc"}`, command{engine: "stop", clientToken: "abc"}, true},
		{`{"state":{"reported":{"engine":"stopped","ignition_status":"off"}}}`, command{}, false},
		{`not json`, command{}, false},
		{`{"state":{"desired":{"lights":"on"}}}`, command{}, false},
	} {
		got, ok := parseCommand([]byte(tc.payload))
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseCommand(%s) = %+v, %v; want %+v, %v", tc.payload, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSeedRepeats(t *testing.T) {
	run := func(seed int64) (vins []string, payloads []string) {
		s, err := New(Config{Vehicles: 5, Seed: seed}, PublisherFunc(nil))
		if err != nil {
			t.Fatal(err)
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, v := range s.vehicles {
			for i := 0; i < 50; i++ {
				msgs, _ := v.tick(now, 2)
				for _, m := range msgs {
					payloads = append(payloads, string(m.payload))
				}
			}
		}
		return s.VINs(), payloads
	}
	v1, p1 := run(99)
	v2, p2 := run(99)
	v3, _ := run(100)
	if strings.Join(v1, ",") != strings.Join(v2, ",") || strings.Join(p1, "\n") != strings.Join(p2, "\n") {
		t.Error("the same seed gave different fleets")
	}
	if strings.Join(v1, ",") == strings.Join(v3, ",") {
		t.Error("different seeds gave the same VINs")
	}
	for _, vin := range v1 {
		if len(vin) != 17 || strings.Trim(vin, vinAlphabet) != "" {
			t.Errorf("VIN %q is not 17 characters of A-Z0-9", vin)
		}
	}
	var trip struct {
		TripID string `json:"trip_id"`
	}
	_ = json.Unmarshal([]byte(p1[0]), &trip)
	if len(trip.TripID) != 36 || trip.TripID[14] != '4' {
		t.Errorf("trip id %q is not a v4 UUID", trip.TripID)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Vehicles: 1}
	if err := ok.Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	for _, tc := range []struct {
		mutate func(*Config)
		field  string
	}{
		{func(c *Config) { c.Vehicles = 0 }, "Vehicles"},
		{func(c *Config) { c.Interval = time.Microsecond }, "Interval"},
		{func(c *Config) { c.DTCEvery = -time.Second }, "DTCEvery"},
		{func(c *Config) { c.Format = "v4" }, "Format"},
		{func(c *Config) { c.TripLength = time.Second }, "TripLength"},
		{func(c *Config) { c.AggregateEvery = time.Second }, "AggregateEvery"},
		{func(c *Config) { c.Rate = -1 }, "Rate"},
		{func(c *Config) { c.DTCCodes = []string{"X1234"} }, "DTCCodes"},
		{func(c *Config) { c.Topics = Topics{Telemetry: "t"} }, "Topics.Trip"},
		{func(c *Config) { c.ShadowTopic = "$aws/things/shadow" }, "ShadowTopic"},
		{func(c *Config) { c.OriginLatitude = 95 }, "origin"},
	} {
		c := ok
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("want an error naming %s, got %v", tc.field, err)
		}
	}
	if _, err := New(ok, nil); err == nil {
		t.Error("New without a publisher succeeded")
	}
}

func TestRepairAfterBringsAStoppedCarBack(t *testing.T) {
	cfg := Config{Vehicles: 1, Seed: 9, TripLength: time.Hour, RepairAfter: 10 * time.Second}
	tv := newTestVehicle(t, cfg)
	for i := 0; i < 50 || tv.v.state.Speed < 20; i++ {
		tv.tick()
	}
	tv.v.pending = &command{engine: "stop", clientToken: "cmd-1"}
	for i := 0; tv.v.phase != phaseOff; i++ {
		if i > 60 {
			t.Fatal("car did not stop")
		}
		tv.tick()
	}
	stoppedTrip := tv.v.trip.id
	// RepairAfter is 10 s, i.e. 5 ticks of the default 2 s: silent while off, then a new trip.
	for i := 0; i < 4; i++ {
		if out := tv.tick(); len(out) != 0 || tv.v.phase != phaseOff {
			t.Fatalf("tick %d after the stop: phase %v, %d messages; want silent and off", i, tv.v.phase, len(out))
		}
	}
	for i := 0; tv.v.phase != phaseDriving; i++ {
		if i > 10 {
			t.Fatalf("car still %v long after RepairAfter", tv.v.phase)
		}
		tv.tick()
	}
	if tv.v.trip.id == stoppedTrip {
		t.Error("the repaired car drives on the trip it was stopped on; want a new trip")
	}
}
