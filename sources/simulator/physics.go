package simulator

import (
	"math"
	"math/rand/v2"
)

// Physical limits and constants of the simulated car. Units follow the v2 simulator: km/h,
// km/h per second, rpm, Nm, °F, percent, miles and US gallons.
const (
	// MaxSpeed is the top speed in km/h.
	MaxSpeed = 200.0
	// IdleRPM is the engine speed at a standstill with the engine running.
	IdleRPM = 750.0
	// TankGallons is the fuel tank's capacity.
	TankGallons = 14.0
	// AmbientOilTemp is the oil temperature of a cold engine, in °F.
	AmbientOilTemp = 68.0
	// OperatingOilTemp is the oil temperature of a warm engine at light load, in °F.
	OperatingOilTemp = 212.0

	kmPerMile     = 1.609344
	earthRadiusKm = 6371.0088
	wheelbaseM    = 2.8
	steeringRatio = 15.0
	maxSubstep    = 0.5  // seconds: Step integrates in slices no longer than this
	stopBrake     = 8.0  // km/h/s: a calm stop, well short of a hard-braking event
	maxLateral    = 2.0  // m/s²: how hard the driver corners
	maxYawRate    = 0.4  // rad/s: the sharpest turn, at walking pace
	idleTorque    = 15.0 // Nm from the engine when the driver is off the throttle
)

// steeringLimit is the steering wheel angle (degrees) that corners at maxLateral at speed
// km/h, up to full lock.
func steeringLimit(speed float64) float64 {
	mps := speed / 3.6
	if mps < 1 {
		return 420
	}
	return math.Min(420, deg(math.Atan(maxLateral*wheelbaseM/(mps*mps)))*steeringRatio)
}

// Gear is a transmission gear: 0 is neutral (parked), 1 to 6 the forward gears.
type Gear int

// gearNames are the v2 simulator's transmission_gear_position values.
var gearNames = [...]string{"neutral", "first", "second", "third", "fourth", "fifth", "sixth"}

// String returns the v2 name of the gear ("neutral", "first", …, "sixth").
func (g Gear) String() string {
	if g < 0 || int(g) >= len(gearNames) {
		return "neutral"
	}
	return gearNames[g]
}

// gearTop is the highest speed (km/h) driven in each gear; rpmPerKmh converts speed to engine
// speed in that gear; gearRatio multiplies engine torque into transmission torque.
var (
	gearTop   = [...]float64{0, 15, 30, 50, 70, 95, math.Inf(1)}
	rpmPerKmh = [...]float64{0, 130, 75, 50, 36, 27, 21}
	gearRatio = [...]float64{0, 3.6, 2.2, 1.5, 1.1, 0.9, 0.75}
)

// GearFor is the gear an automatic transmission holds at speed km/h: first at a standstill
// (engine running, lever in drive) up to sixth above 95 km/h.
func GearFor(speed float64) Gear {
	for g := 1; g < len(gearTop); g++ {
		if speed <= gearTop[g] {
			return Gear(g)
		}
	}
	return 6
}

// EngineSpeed is the engine speed (rpm) at speed km/h in gear g with the engine running.
func EngineSpeed(speed float64, g Gear) float64 {
	if g <= 0 || int(g) >= len(rpmPerKmh) {
		return IdleRPM
	}
	return math.Max(IdleRPM, speed*rpmPerKmh[g])
}

// State is one car at one instant: what the driver wants, what the car does, and where it is.
// Step advances it; it holds no references, so a copy is a snapshot.
type State struct {
	// Running is true while the engine runs (ignition "run"); a car that is not running stands
	// still and cools down.
	Running bool
	// Stop tells the driver to brake calmly to a standstill and stay there: the end of a trip or
	// a stop command.
	Stop bool

	Speed        float64 // km/h, 0 to MaxSpeed
	Acceleration float64 // km/h per second over the last Step
	Throttle     float64 // accelerator pedal, percent
	Brake        float64 // brake pedal, percent
	Steering     float64 // steering wheel angle, degrees, positive to the right
	Gear         Gear
	EngineSpeed  float64 // rpm
	Torque       float64 // torque at the transmission, Nm
	OilTemp      float64 // °F
	Odometer     float64 // miles, never decreasing
	FuelLevel    float64 // percent of TankGallons, never increasing within Step
	FuelUsed     float64 // gallons since the engine started
	Latitude     float64 // degrees
	Longitude    float64 // degrees
	Bearing      float64 // degrees clockwise from north, [0, 360)

	// The driver: the segment's cruising speed and the speed wanted now (wandering around it),
	// how long the segment lasts, how long to wait at the current stop, and whether this
	// segment is driven aggressively.
	Cruise     float64
	Target     float64
	SegmentS   float64
	DwellS     float64
	Aggressive bool
}

// Step advances s by dt seconds of driving, drawing the driver's choices from rng. It is pure:
// the result depends only on its arguments, so invariants can be checked over many seeds. The
// invariants: the odometer never falls; fuel never rises; speed stays within [0, MaxSpeed]; a
// running car is in GearFor(Speed) at EngineSpeed(Speed, Gear); the position moves along the
// bearing by the distance driven (haversine), which the odometer adds up.
func Step(s State, dt float64, rng *rand.Rand) State {
	if !(dt > 0) {
		return s
	}
	start := s.Speed
	for left := dt; left > 1e-9; {
		h := math.Min(left, maxSubstep)
		s = substep(s, h, rng)
		left -= h
	}
	s.Acceleration = (s.Speed - start) / dt
	return s
}

// substep integrates h seconds (at most maxSubstep).
func substep(s State, h float64, rng *rand.Rand) State {
	if !s.Running {
		s.Speed, s.Throttle, s.Brake, s.Gear, s.EngineSpeed, s.Torque = 0, 0, 0, 0, 0, 0
		s.OilTemp = approach(s.OilTemp, AmbientOilTemp, h, 1800)
		return s
	}
	s = drive(s, h, rng)

	v0 := s.Speed
	a := accelerationFor(s)
	v1 := clamp(v0+a*h, 0, MaxSpeed)
	if s.Target == 0 && v1 < 1.5 && a <= 0 {
		v1 = 0 // creep to a halt instead of approaching zero forever
	}
	a = (v1 - v0) / h
	s.Speed = v1

	switch {
	case a > 0.3:
		s.Throttle = clamp(12+a*5+v1*0.15, 0, 100)
		s.Brake = 0
	case a < -0.5:
		s.Throttle = 0
		s.Brake = clamp(-a*5, 1, 100)
	case v1 > 0:
		s.Throttle = clamp(8+v1*0.18, 0, 100) // holding speed against drag
		s.Brake = 0
	default:
		s.Throttle = 0
		s.Brake = 20 // holding the car at a standstill
	}

	s.Gear = GearFor(v1)
	s.EngineSpeed = EngineSpeed(v1, s.Gear)
	engineTorque := idleTorque
	if s.Throttle > 0 {
		engineTorque = 40 + 2.6*s.Throttle
	}
	s.Torque = engineTorque * gearRatio[s.Gear]

	// Steering: a mean-reverting random walk within what the speed allows (steeringLimit).
	limit := steeringLimit(v1)
	s.Steering = clamp(s.Steering*math.Exp(-h/6)+rng.NormFloat64()*math.Sqrt(h)*math.Min(limit, 25)/4, -limit, limit)

	// Move along the bearing by the distance driven, turning with the steering (bicycle model).
	km := (v0 + v1) / 2 * h / 3600
	if km > 0 {
		mps := km * 1000 / h
		yawRate := clamp(mps/wheelbaseM*math.Tan(rad(s.Steering/steeringRatio)), -maxYawRate, maxYawRate)
		half := deg(yawRate*h) / 2
		s.Bearing = math.Mod(s.Bearing+half+360, 360) // half the turn before the move…
		s.Latitude, s.Longitude = Destination(s.Latitude, s.Longitude, s.Bearing, km)
		s.Bearing = math.Mod(s.Bearing+half+360, 360) // …and half after it
		s.Odometer += km / kmPerMile
	}

	// Fuel: distance at an economy that worsens with throttle and far from 80 km/h, plus idle.
	mpg := math.Max(8, 34-0.15*s.Throttle-0.06*math.Abs(v1-80))
	gallons := km/kmPerMile/mpg + 0.25*h/3600
	gallons = math.Min(gallons, s.FuelLevel/100*TankGallons)
	s.FuelUsed += gallons
	s.FuelLevel = math.Max(0, s.FuelLevel-gallons/TankGallons*100)
	if s.FuelLevel == 0 {
		s.Stop = true // out of fuel: roll to a stop
	}

	s.OilTemp = approach(s.OilTemp, OperatingOilTemp+0.3*s.Throttle, h, 240)
	return s
}

// drive lets the driver pick the target speed: road segments of city, arterial or highway
// speed, stops at junctions, and the odd aggressive segment with hard acceleration and braking.
func drive(s State, h float64, rng *rand.Rand) State {
	if s.Stop {
		s.Target, s.DwellS, s.Aggressive = 0, 0, false
		return s
	}
	if s.DwellS > 0 {
		s.Target = 0
		if s.Speed == 0 {
			s.DwellS -= h
		}
		if s.DwellS > 0 {
			return s
		}
		s.SegmentS = 0 // the light turned green: pick the next segment
	}
	s.SegmentS -= h
	if s.SegmentS > 0 {
		// Traffic: the wanted speed wanders around the cruising speed.
		s.Target = clamp(s.Target+(s.Cruise-s.Target)*h/8+rng.NormFloat64()*math.Sqrt(h)*2, 0.5*s.Cruise, math.Min(1.2*s.Cruise, MaxSpeed))
		return s
	}
	s.SegmentS = 30 + rng.Float64()*150
	s.Aggressive = rng.Float64() < 0.12
	switch r := rng.Float64(); {
	case r < 0.55:
		s.Cruise = 30 + rng.Float64()*30 // city
	case r < 0.85:
		s.Cruise = 60 + rng.Float64()*30 // arterial
	default:
		s.Cruise = 100 + rng.Float64()*30 // highway, sometimes above the high-speed threshold
	}
	s.Target = s.Cruise
	if rng.Float64() < 0.3 {
		s.DwellS = 5 + rng.Float64()*35 // a junction first
		s.Target = 0
	}
	return s
}

// accelerationFor is the acceleration (km/h/s) the driver asks for to reach the target.
func accelerationFor(s State) float64 {
	maxAccel := math.Max(2, 10-s.Speed*0.06)
	maxBrake := 10.0
	if s.Aggressive {
		maxAccel, maxBrake = 15, 22
	}
	if s.Stop {
		maxBrake = stopBrake
	}
	diff := s.Target - s.Speed
	if s.Target == 0 {
		return -math.Min(maxBrake, math.Max(3, s.Speed*0.6))
	}
	return clamp(diff*0.6, -maxBrake, maxAccel)
}

// Destination returns the point reached from (lat, lon) after km kilometres along bearing
// (degrees) on a spherical Earth.
func Destination(lat, lon, bearing, km float64) (float64, float64) {
	φ1, λ1, θ := rad(lat), rad(lon), rad(bearing)
	δ := km / earthRadiusKm
	φ2 := math.Asin(math.Sin(φ1)*math.Cos(δ) + math.Cos(φ1)*math.Sin(δ)*math.Cos(θ))
	λ2 := λ1 + math.Atan2(math.Sin(θ)*math.Sin(δ)*math.Cos(φ1), math.Cos(δ)-math.Sin(φ1)*math.Sin(φ2))
	return deg(φ2), math.Mod(deg(λ2)+540, 360) - 180
}

// Haversine returns the great-circle distance in kilometres between two points.
func Haversine(lat1, lon1, lat2, lon2 float64) float64 {
	dφ, dλ := rad(lat2-lat1), rad(lon2-lon1)
	a := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(rad(lat1))*math.Cos(rad(lat2))*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * earthRadiusKm * math.Asin(math.Min(1, math.Sqrt(a)))
}

func rad(d float64) float64 { return d * math.Pi / 180 }
func deg(r float64) float64 { return r * 180 / math.Pi }

func clamp(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }

// approach moves x toward target with time constant tau seconds.
func approach(x, target, h, tau float64) float64 {
	return x + (target-x)*(1-math.Exp(-h/tau))
}
