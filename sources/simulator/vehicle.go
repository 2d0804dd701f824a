package simulator

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Kind is the kind of a vehicle message; it labels the messages metric.
type Kind string

// The kinds of message a vehicle publishes.
const (
	KindTelemetry Kind = "telemetry"
	KindTrip      Kind = "trip"
	KindDTC       Kind = "dtc"
	// KindShadow is the shadow report after a command; it is not counted as vehicle data.
	KindShadow Kind = "shadow"
)

// Trip thresholds of the v2 simulator (shared/payloads/README.md).
const (
	HighSpeedKmh     = 112.6 // above: high-speed duration
	IdleKmh          = 1.0   // at or below, engine running: idle duration
	HighAcceleration = 12.0  // km/h/s, at or above: a high-acceleration event
	HighBraking      = -16.0 // km/h/s, below: a high-braking event
)

const (
	refuelBelowPct   = 20.0
	maxPauseTicks    = 5
	tripLengthJitter = 0.25
	initialOdoMaxMi  = 40000
	initialSpreadKm  = 15
	v3TripIDLength   = 21
	v3DeviceIDLength = 7
	engineStop       = "stop"
	engineStopped    = "stopped"
)

// message is one publish: its kind, topic, key (the VIN) and payload.
type message struct {
	kind    Kind
	topic   string
	vin     string
	payload []byte
}

// phase is where a vehicle is in its life.
type phase int

const (
	phaseParked  phase = iota // between trips; the next one starts after pauseS
	phaseDriving              // on a trip, engine running
	phaseOff                  // stopped by command; stays parked until told to start
)

// command is the engine state a shadow update asks for.
type command struct {
	engine      string
	clientToken string
}

// vehicle is one simulated car: its physics, its trip and what it has already sent. One
// goroutine at a time uses it.
type vehicle struct {
	cfg      *Config
	codes    []string
	index    int // position in the fleet
	vin      string
	deviceID string
	rng      *rand.Rand

	state  State
	phase  phase
	pauseS float64
	trip   tripStats

	// pending is a command received since the last tick.
	pending *command
	// stopping is true while a stop command is obeyed; stopToken is its clientToken.
	stopping  bool
	stopToken string
}

// tripStats accumulates a trip's aggregate.
type tripStats struct {
	id                           string
	start                        time.Time
	elapsedS, lengthS, sinceAggS float64
	n                            int
	speed, rpm, torque, oil      float64 // sums for the means
	throttle, brake              float64
	highSpeedMs, idleMs          float64
	highAccel, highBrake         int
	inHighAccel, inHighBrake     bool
	dtcSent                      map[string]bool
}

// add accounts for the reading s that closes dt seconds of the trip.
func (t *tripStats) add(s State, dt float64) {
	t.n++
	t.speed += s.Speed
	t.rpm += s.EngineSpeed
	t.torque += s.Torque
	t.oil += s.OilTemp
	t.throttle += s.Throttle
	t.brake += s.Brake
	if s.Speed > HighSpeedKmh {
		t.highSpeedMs += dt * 1000
	}
	if s.Running && s.Speed <= IdleKmh {
		t.idleMs += dt * 1000
	}
	accel, brake := s.Acceleration >= HighAcceleration, s.Acceleration < HighBraking
	if accel && !t.inHighAccel {
		t.highAccel++
	}
	if brake && !t.inHighBrake {
		t.highBrake++
	}
	t.inHighAccel, t.inHighBrake = accel, brake
}

func (t *tripStats) mean(sum float64) float64 {
	if t.n == 0 {
		return 0
	}
	return sum / float64(t.n)
}

func newVehicle(cfg *Config, codes []string, i int) *vehicle {
	rng := vehicleRNG(cfg.Seed, i)
	v := &vehicle{cfg: cfg, codes: codes, rng: rng, vin: newVIN(rng), deviceID: newNanoID(rng, v3DeviceIDLength)}
	lat, lon := Destination(cfg.OriginLatitude, cfg.OriginLongitude, rng.Float64()*360, rng.Float64()*initialSpreadKm)
	v.state = State{
		Latitude:  lat,
		Longitude: lon,
		Bearing:   rng.Float64() * 360,
		Odometer:  5 + rng.Float64()*initialOdoMaxMi,
		FuelLevel: 40 + rng.Float64()*60,
		OilTemp:   AmbientOilTemp,
	}
	return v // parked with no pause: the first trip starts on the first tick
}

// tick advances the vehicle by dt seconds to now and returns what it sends.
func (v *vehicle) tick(now time.Time, dt float64) ([]message, error) {
	if c := v.pending; c != nil {
		v.pending = nil
		if out, handled, err := v.obey(*c); handled || err != nil {
			return out, err
		}
	}

	switch v.phase {
	case phaseOff:
		v.state = Step(v.state, dt, v.rng) // cools down where it stands
		if v.cfg.RepairAfter > 0 {
			if v.pauseS -= dt; v.pauseS <= 0 {
				v.phase, v.pauseS, v.stopping, v.stopToken = phaseParked, 0, false, ""
				v.cfg.Logger.Info("vehicle repaired, back on the road", "vin", v.vin)
			}
		}
		return nil, nil
	case phaseParked:
		v.state = Step(v.state, dt, v.rng)
		if v.pauseS -= dt; v.pauseS > 0 {
			return nil, nil
		}
		v.startTrip(now)
		v.trip.add(v.state, 0)
		return v.telemetry(now, nil)
	}

	v.state = Step(v.state, dt, v.rng)
	v.trip.elapsedS += dt
	v.trip.sinceAggS += dt
	if v.trip.elapsedS >= v.trip.lengthS {
		v.state.Stop = true // pull over: the trip ends once the car stands
	}
	ending := v.state.Stop && v.state.Speed == 0
	if ending {
		v.switchOff()
	}
	v.trip.add(v.state, dt)

	out, err := v.telemetry(now, nil)
	if err != nil {
		return nil, err
	}
	if !ending {
		m, ok, err := v.maybeDTC(now, dt)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, m)
		}
	}
	if ending || v.trip.sinceAggS >= v.cfg.AggregateEvery.Seconds() {
		m, err := v.aggregate(now, ending)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
		v.trip.sinceAggS = 0
	}
	if !ending {
		return out, nil
	}
	if v.stopping {
		v.phase, v.pauseS = phaseOff, v.cfg.RepairAfter.Seconds()
		m, err := v.shadowReport()
		if err != nil {
			return nil, err
		}
		v.cfg.Logger.Info("vehicle stopped by command", "vin", v.vin, "trip_id", v.trip.id)
		return append(out, m), nil
	}
	v.phase = phaseParked
	v.pauseS = float64(1+v.rng.IntN(maxPauseTicks)) * v.cfg.Interval.Seconds()
	return out, nil
}

// obey applies a command. handled is true when the tick has nothing more to do.
func (v *vehicle) obey(c command) (out []message, handled bool, err error) {
	switch c.engine {
	case engineStop:
		v.stopToken = c.clientToken
		if v.phase == phaseDriving {
			v.stopping = true
			v.state.Stop = true // brake to a standstill over the next ticks, then end the trip
			return nil, false, nil
		}
		// Already standing: stay off and confirm at once (again, if asked again).
		first := v.phase != phaseOff
		if first {
			v.pauseS = v.cfg.RepairAfter.Seconds()
		}
		v.phase, v.stopping = phaseOff, true
		m, err := v.shadowReport()
		if err != nil {
			return nil, true, err
		}
		if first {
			v.cfg.Logger.Info("vehicle stopped by command", "vin", v.vin)
		}
		return []message{m}, true, nil
	case "start", ignitionRun:
		if v.phase == phaseOff {
			v.phase, v.pauseS, v.stopping, v.stopToken = phaseParked, 0, false, ""
			v.cfg.Logger.Info("vehicle started by command", "vin", v.vin)
		}
	}
	return nil, false, nil
}

// startTrip starts the engine on a new trip; a low tank is filled first.
func (v *vehicle) startTrip(now time.Time) {
	id := newUUID(v.rng)
	if v.cfg.Format == FormatV3 {
		id = newNanoID(v.rng, v3TripIDLength)
	}
	length := v.cfg.TripLength.Seconds() * (1 - tripLengthJitter + 2*tripLengthJitter*v.rng.Float64())
	v.trip = tripStats{id: id, start: now, lengthS: math.Max(length, v.cfg.Interval.Seconds()), dtcSent: map[string]bool{}}
	if v.state.FuelLevel < refuelBelowPct {
		v.state.FuelLevel = 100
	}
	s := &v.state
	s.Running, s.Stop = true, false
	s.FuelUsed, s.Acceleration, s.Cruise, s.Target, s.SegmentS, s.DwellS = 0, 0, 0, 0, 0, 0
	s.Gear = GearFor(0)
	s.EngineSpeed = EngineSpeed(0, s.Gear)
	s.Torque = idleTorque * gearRatio[s.Gear]
	s.Brake, s.Throttle = 20, 0 // holding the car until the driver pulls away
	v.phase = phaseDriving
}

// switchOff turns the engine off at a standstill.
func (v *vehicle) switchOff() {
	s := &v.state
	s.Running = false
	s.Throttle, s.Brake, s.Gear, s.EngineSpeed, s.Torque, s.Acceleration = 0, 0, 0, 0, 0, 0
}

func (v *vehicle) reading() reading {
	r := reading{state: v.state, lever: leverDrive, ignition: ignitionRun}
	if !v.state.Running {
		r.lever, r.ignition, r.parking = leverPark, ignitionOff, true
	}
	return r
}

// telemetry appends this tick's telemetry: one message per signal (v2) or one tick (v3).
func (v *vehicle) telemetry(now time.Time, out []message) ([]message, error) {
	ts := timestamp(now)
	topic := v.cfg.Topics.resolve(v.cfg.Topics.Telemetry, v.vin)
	r := v.reading()
	if v.cfg.Format == FormatV3 {
		t := r.tick()
		t.Timestamp, t.TripID, t.VIN, t.DeviceID = ts, v.trip.id, v.vin, v.deviceID
		b, err := encode(t)
		if err != nil {
			return nil, err
		}
		return append(out, message{kind: KindTelemetry, topic: topic, vin: v.vin, payload: b}), nil
	}
	for _, s := range r.signals() {
		s.Timestamp, s.TripID, s.VIN = ts, v.trip.id, v.vin
		b, err := encode(s)
		if err != nil {
			return nil, err
		}
		out = append(out, message{kind: KindTelemetry, topic: topic, vin: v.vin, payload: b})
	}
	return out, nil
}

// maybeDTC draws whether a trouble code comes up in the last dt seconds (a Poisson process
// with mean DTCEvery) and which one, each code at most once per trip.
func (v *vehicle) maybeDTC(now time.Time, dt float64) (message, bool, error) {
	if v.cfg.DTCEvery <= 0 || len(v.trip.dtcSent) >= len(v.codes) {
		return message{}, false, nil
	}
	if v.rng.Float64() >= 1-math.Exp(-dt/v.cfg.DTCEvery.Seconds()) {
		return message{}, false, nil
	}
	var fresh []string
	for _, c := range v.codes {
		if !v.trip.dtcSent[c] {
			fresh = append(fresh, c)
		}
	}
	code := fresh[v.rng.IntN(len(fresh))]
	v.trip.dtcSent[code] = true
	b, err := encode(dtcMsg{Timestamp: timestamp(now), TripID: v.trip.id, VIN: v.vin, Name: dtcName, Value: code})
	if err != nil {
		return message{}, false, err
	}
	return message{kind: KindDTC, topic: v.cfg.Topics.resolve(v.cfg.Topics.DTC, v.vin), vin: v.vin, payload: b}, true, nil
}

// aggregate is the trip so far; the last one of a trip carries end_time.
func (v *vehicle) aggregate(now time.Time, final bool) (message, error) {
	t, s := &v.trip, v.state
	m := tripMsg{
		VehicleSpeedMean:             t.mean(t.speed),
		EngineSpeedMean:              t.mean(t.rpm),
		TorqueAtTransmissionMean:     t.mean(t.torque),
		OilTempMean:                  t.mean(t.oil),
		AcceleratorPedalPositionMean: t.mean(t.throttle),
		BrakeMean:                    t.mean(t.brake),
		HighSpeedDuration:            int64(math.Round(t.highSpeedMs)),
		HighAccelerationEvent:        t.highAccel,
		HighBrakingEvent:             t.highBrake,
		IdleDuration:                 int64(math.Round(t.idleMs)),
		StartTime:                    rfc3339Millis(t.start),
		IgnitionStatus:               v.reading().ignition,
		BrakePedalStatus:             s.Brake > 0,
		TransmissionGearPosition:     s.Gear.String(),
		Odometer:                     s.Odometer,
		FuelLevel:                    s.FuelLevel,
		FuelConsumedSinceRestart:     s.FuelUsed,
		Latitude:                     round(s.Latitude, 6),
		Longitude:                    round(s.Longitude, 6),
		Timestamp:                    timestamp(now),
		TripID:                       t.id,
		VIN:                          v.vin,
		Name:                         aggregateName,
	}
	if final {
		m.EndTime = rfc3339Millis(now)
	}
	b, err := encode(m)
	if err != nil {
		return message{}, err
	}
	return message{kind: KindTrip, topic: v.cfg.Topics.resolve(v.cfg.Topics.Trip, v.vin), vin: v.vin, payload: b}, nil
}

// shadowReport confirms a stop command on the vehicle's shadow topic.
func (v *vehicle) shadowReport() (message, error) {
	var r shadowReport
	r.State.Reported.Engine = engineStopped
	r.State.Reported.IgnitionStatus = ignitionOff
	r.ClientToken = v.stopToken
	b, err := encode(r)
	if err != nil {
		return message{}, err
	}
	return message{kind: KindShadow, topic: v.cfg.Topics.resolve(v.cfg.ShadowTopic, v.vin), vin: v.vin, payload: b}, nil
}

// parseCommand reads the desired engine state of a shadow update; ok is false for updates
// that ask nothing of the engine (such as the vehicle's own reports).
func parseCommand(payload []byte) (command, bool) {
	var c shadowCommand
	if err := json.Unmarshal(payload, &c); err != nil || c.State.Desired.Engine == "" {
		return command{}, false
	}
	return command{engine: c.State.Desired.Engine, clientToken: c.ClientToken}, true
}

func encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("simulator: encode %T: %w", v, err)
	}
	return b, nil
}
