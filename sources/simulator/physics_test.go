package simulator

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestStepInvariants drives cars over many random seeds, step lengths and stop orders, and
// checks the physics after every step.
func TestStepInvariants(t *testing.T) {
	seeds, steps := 300, 400
	if testing.Short() {
		seeds = 50
	}
	var hardAccel, hardBrake, highSpeed int
	for seed := 0; seed < seeds; seed++ {
		rng := rand.New(rand.NewPCG(uint64(seed), 42))
		s := State{Running: true, Latitude: rng.Float64()*120 - 60, Longitude: rng.Float64()*360 - 180,
			Bearing: rng.Float64() * 360, Odometer: rng.Float64() * 1000, FuelLevel: 5 + rng.Float64()*95, OilTemp: AmbientOilTemp}
		for i := 0; i < steps; i++ {
			dt := 0.05 + rng.Float64()*4.95
			if rng.Float64() < 0.01 {
				s.Stop = !s.Stop && s.FuelLevel > 0
			}
			prev := s
			s = Step(s, dt, rng)
			checkStep(t, seed, i, prev, s, dt)
			if s.Acceleration >= HighAcceleration {
				hardAccel++
			}
			if s.Acceleration < HighBraking {
				hardBrake++
			}
			if s.Speed > HighSpeedKmh {
				highSpeed++
			}
		}
	}
	// The driver must produce what the trip aggregates count, or they are always zero.
	if hardAccel == 0 || hardBrake == 0 || highSpeed == 0 {
		t.Errorf("over %d seeds: %d hard accelerations, %d hard brakings, %d high-speed steps; want some of each", seeds, hardAccel, hardBrake, highSpeed)
	}
}

func checkStep(t *testing.T, seed, i int, prev, s State, dt float64) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d step %d (dt %.3fs): "+format+"\nprev %+v\nnext %+v", append([]any{seed, i, dt}, append(args, prev, s)...)...)
	}
	if s.Odometer < prev.Odometer {
		fail("odometer fell from %v to %v", prev.Odometer, s.Odometer)
	}
	if s.FuelLevel > prev.FuelLevel || s.FuelLevel < 0 {
		fail("fuel went from %v to %v", prev.FuelLevel, s.FuelLevel)
	}
	if s.FuelUsed < prev.FuelUsed {
		fail("fuel used fell from %v to %v", prev.FuelUsed, s.FuelUsed)
	}
	if s.Speed < 0 || s.Speed > MaxSpeed || math.IsNaN(s.Speed) {
		fail("speed %v outside [0, %v]", s.Speed, MaxSpeed)
	}
	if s.Running {
		if s.Gear != GearFor(s.Speed) {
			fail("gear %v at %v km/h, want %v", s.Gear, s.Speed, GearFor(s.Speed))
		}
		if s.EngineSpeed != EngineSpeed(s.Speed, s.Gear) || s.EngineSpeed < IdleRPM || s.EngineSpeed > 6000 {
			fail("engine speed %v at %v km/h in %v", s.EngineSpeed, s.Speed, s.Gear)
		}
		if s.Torque <= 0 || s.Torque > 1200 {
			fail("torque %v", s.Torque)
		}
	}
	if s.Throttle > 0 && s.Brake > 0 {
		fail("throttle %v and brake %v at once", s.Throttle, s.Brake)
	}
	if want := (s.Speed - prev.Speed) / dt; math.Abs(s.Acceleration-want) > 1e-9 {
		fail("acceleration %v, speed change says %v", s.Acceleration, want)
	}
	// The position moves by the distance driven: the odometer's increase, at most the top
	// speed of the step times dt, and (a chord of a gentle curve) not much less.
	km := (s.Odometer - prev.Odometer) * kmPerMile
	moved := Haversine(prev.Latitude, prev.Longitude, s.Latitude, s.Longitude)
	// Within the step the speed may have peaked above both ends, by at most the hardest
	// acceleration (15 km/h/s) for the whole step.
	if maxKm := (math.Max(prev.Speed, s.Speed) + 15*dt) * dt / 3600; km > maxKm+1e-9 {
		fail("drove %v km in %vs, more than top speed allows (%v km)", km, dt, maxKm)
	}
	θ := maxYawRate * dt / 2 // a chord of an arc turning at most maxYawRate
	if moved > km*1.0001+1e-9 || moved < km*math.Sin(θ)/θ*0.999-1e-9 {
		fail("position moved %v km, odometer %v km", moved, km)
	}
	if s.Latitude < -90 || s.Latitude > 90 || s.Longitude < -180 || s.Longitude > 180 {
		fail("position %v,%v off the map", s.Latitude, s.Longitude)
	}
}

func TestStepStopsAndStays(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		s := State{Running: true, FuelLevel: 80, OilTemp: AmbientOilTemp}
		for i := 0; i < 100; i++ {
			s = Step(s, 2, rng)
		}
		s.Stop = true
		fast := s.Speed
		var stoppedAfter float64
		for i := 0; s.Speed > 0; i++ {
			if i > 100 {
				t.Fatalf("seed %d: still at %v km/h 200s after the stop order from %v km/h", seed, s.Speed, fast)
			}
			s = Step(s, 2, rng)
			stoppedAfter += 2
			if s.Acceleration < HighBraking {
				t.Fatalf("seed %d: stopping braked at %v km/h/s, a hard-braking event", seed, s.Acceleration)
			}
		}
		if limit := fast/stopBrake*1.5 + 4; stoppedAfter > limit {
			t.Errorf("seed %d: took %vs to stop from %v km/h, want at most %vs", seed, stoppedAfter, fast, limit)
		}
		odo := s.Odometer
		for i := 0; i < 20; i++ {
			s = Step(s, 2, rng)
		}
		if s.Speed != 0 || s.Odometer != odo {
			t.Errorf("seed %d: stopped car moved: %v km/h, odometer %v -> %v", seed, s.Speed, odo, s.Odometer)
		}
	}
}

func TestOilWarmsUpAndCools(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	s := State{Running: true, FuelLevel: 90, OilTemp: AmbientOilTemp}
	prev := s.OilTemp
	for i := 0; i < 900; i++ { // 30 minutes
		s = Step(s, 2, rng)
		if i < 60 && s.OilTemp < prev {
			t.Fatalf("cold oil cooled while warming up: %v -> %v", prev, s.OilTemp)
		}
		prev = s.OilTemp
	}
	if s.OilTemp < OperatingOilTemp-10 || s.OilTemp > OperatingOilTemp+40 {
		t.Errorf("oil at %v°F after 30 minutes, want near %v°F", s.OilTemp, OperatingOilTemp)
	}
	s.Running = false
	for i := 0; i < 1800; i++ {
		s = Step(s, 2, rng)
	}
	if s.OilTemp > 120 {
		t.Errorf("oil at %v°F after an hour parked, want cooling toward %v°F", s.OilTemp, AmbientOilTemp)
	}
}

func TestStepIgnoresNonPositiveDt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	s := State{Running: true, Speed: 50, FuelLevel: 50}
	for _, dt := range []float64{0, -1, math.NaN()} {
		if got := Step(s, dt, rng); got != s {
			t.Errorf("Step(dt=%v) changed the state", dt)
		}
	}
}

func TestGearFor(t *testing.T) {
	for _, tc := range []struct {
		speed float64
		want  Gear
	}{{0, 1}, {15, 1}, {15.1, 2}, {49, 3}, {69, 4}, {95, 5}, {95.1, 6}, {MaxSpeed, 6}} {
		if got := GearFor(tc.speed); got != tc.want {
			t.Errorf("GearFor(%v) = %v, want %v", tc.speed, got, tc.want)
		}
	}
	// Engine speed stays in a plausible band over the whole range.
	for v := 0.0; v <= MaxSpeed; v += 0.5 {
		if rpm := EngineSpeed(v, GearFor(v)); rpm < IdleRPM || rpm > 5000 {
			t.Errorf("%v km/h: %v rpm", v, rpm)
		}
	}
}

func TestDestinationHaversine(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for i := 0; i < 1000; i++ {
		lat, lon := rng.Float64()*160-80, rng.Float64()*360-180
		km := rng.Float64() * 50
		lat2, lon2 := Destination(lat, lon, rng.Float64()*360, km)
		if got := Haversine(lat, lon, lat2, lon2); math.Abs(got-km) > 1e-6 {
			t.Fatalf("moved %v km from %v,%v, haversine says %v", km, lat, lon, got)
		}
	}
}
