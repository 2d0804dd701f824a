package simulator

import (
	"math"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
)

// The wire shapes, field for field in the order of the fixtures in shared/payloads.

// signalMsg is a v2 telemetry message: one signal, or the location with latitude/longitude and
// no value.
type signalMsg struct {
	Timestamp string   `json:"timestamp"`
	TripID    string   `json:"trip_id"`
	VIN       string   `json:"vin"`
	Name      string   `json:"name"`
	Value     any      `json:"value,omitempty"` // nil only for the location
	Latitude  *float64 `json:"latitude,omitempty"`
	Longitude *float64 `json:"longitude,omitempty"`
}

// tickMsg is a v3 telemetry message: every attribute of one tick, camelCase.
type tickMsg struct {
	Timestamp                string   `json:"timestamp"`
	TripID                   string   `json:"trip_id"`
	VIN                      string   `json:"VIN"`
	Brake                    float64  `json:"brake"`
	SteeringWheelAngle       float64  `json:"steeringWheelAngle"`
	TorqueAtTransmission     float64  `json:"torqueAtTransmission"`
	EngineSpeed              float64  `json:"engineSpeed"`
	VehicleSpeed             float64  `json:"vehicleSpeed"`
	Acceleration             float64  `json:"acceleration"`
	AcceleratorPedalPosition float64  `json:"acceleratorPedalPosition"`
	ParkingBrakeStatus       bool     `json:"parkingBrakeStatus"`
	BrakePedalStatus         bool     `json:"brakePedalStatus"`
	TransmissionGearPosition string   `json:"transmissionGearPosition"`
	GearLeverPosition        string   `json:"gearLeverPosition"`
	Odometer                 float64  `json:"odometer"`
	IgnitionStatus           string   `json:"ignitionStatus"`
	FuelLevel                float64  `json:"fuelLevel"`
	FuelConsumedSinceRestart float64  `json:"fuelConsumedSinceRestart"`
	OilTemp                  float64  `json:"oilTemp"`
	Location                 position `json:"location"`
	DeviceID                 string   `json:"_id_"`
}

type position struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

// tripMsg is a trip aggregate ("aggregated_telemetrics"); durations are in milliseconds.
type tripMsg struct {
	VehicleSpeedMean             float64 `json:"vehicle_speed_mean"`
	EngineSpeedMean              float64 `json:"engine_speed_mean"`
	TorqueAtTransmissionMean     float64 `json:"torque_at_transmission_mean"`
	OilTempMean                  float64 `json:"oil_temp_mean"`
	AcceleratorPedalPositionMean float64 `json:"accelerator_pedal_position_mean"`
	BrakeMean                    float64 `json:"brake_mean"`
	HighSpeedDuration            int64   `json:"high_speed_duration"`
	HighAccelerationEvent        int     `json:"high_acceleration_event"`
	HighBrakingEvent             int     `json:"high_braking_event"`
	IdleDuration                 int64   `json:"idle_duration"`
	StartTime                    string  `json:"start_time"`
	EndTime                      string  `json:"end_time,omitempty"`
	IgnitionStatus               string  `json:"ignition_status"`
	BrakePedalStatus             bool    `json:"brake_pedal_status"`
	TransmissionGearPosition     string  `json:"transmission_gear_position"`
	Odometer                     float64 `json:"odometer"`
	FuelLevel                    float64 `json:"fuel_level"`
	FuelConsumedSinceRestart     float64 `json:"fuel_consumed_since_restart"`
	Latitude                     float64 `json:"latitude"`
	Longitude                    float64 `json:"longitude"`
	Timestamp                    string  `json:"timestamp"`
	TripID                       string  `json:"trip_id"`
	VIN                          string  `json:"vin"`
	Name                         string  `json:"name"`
}

// dtcMsg is a diagnostic trouble code.
type dtcMsg struct {
	Timestamp string `json:"timestamp"`
	TripID    string `json:"trip_id"`
	VIN       string `json:"vin"`
	Name      string `json:"name"`
	Value     string `json:"value"`
}

// shadowReport is the vehicle's AWS IoT shadow update after a stop command.
type shadowReport struct {
	State struct {
		Reported struct {
			Engine         string `json:"engine"`
			IgnitionStatus string `json:"ignition_status"`
		} `json:"reported"`
	} `json:"state"`
	ClientToken string `json:"clientToken,omitempty"`
}

// shadowCommand is the part of a shadow update the simulator obeys.
type shadowCommand struct {
	State struct {
		Desired struct {
			Engine string `json:"engine"`
		} `json:"desired"`
	} `json:"state"`
	ClientToken string `json:"clientToken"`
}

// The v2 values of the string signals.
const (
	ignitionRun   = "run"
	ignitionOff   = "off"
	leverDrive    = "drive"
	leverPark     = "park"
	aggregateName = "aggregated_telemetrics"
	dtcName       = "dtc"
)

// reading is everything a vehicle reports in one tick, rounded the way the simulators send it.
type reading struct {
	state    State
	lever    string
	ignition string
	parking  bool
}

func (r reading) signals() []signalMsg {
	s := r.state
	lat, lon := round(s.Latitude, 6), round(s.Longitude, 6)
	return []signalMsg{
		{Name: codecs.SignalSteeringWheelAngle, Value: round(s.Steering, 1)},
		{Name: codecs.SignalTorqueAtTransmission, Value: round(s.Torque, 1)},
		{Name: codecs.SignalEngineSpeed, Value: round(s.EngineSpeed, 1)},
		{Name: codecs.SignalVehicleSpeed, Value: round(s.Speed, 1)},
		{Name: codecs.SignalAcceleration, Value: round(s.Acceleration, 4)},
		{Name: codecs.SignalAcceleratorPedalPosition, Value: round(s.Throttle, 1)},
		{Name: codecs.SignalParkingBrakeStatus, Value: r.parking},
		{Name: codecs.SignalBrakePedalStatus, Value: s.Brake > 0},
		{Name: codecs.SignalTransmissionGearPosition, Value: s.Gear.String()},
		{Name: codecs.SignalGearLeverPosition, Value: r.lever},
		{Name: codecs.SignalOdometer, Value: s.Odometer},
		{Name: codecs.SignalIgnitionStatus, Value: r.ignition},
		{Name: codecs.SignalFuelLevel, Value: s.FuelLevel},
		{Name: codecs.SignalFuelConsumedSinceRestart, Value: s.FuelUsed},
		{Name: codecs.SignalOilTemp, Value: round(s.OilTemp, 1)},
		{Name: codecs.SignalBrake, Value: round(s.Brake, 1)},
		{Name: codecs.SignalLocation, Latitude: &lat, Longitude: &lon},
	}
}

func (r reading) tick() tickMsg {
	s := r.state
	return tickMsg{
		Brake:                    round(s.Brake, 2),
		SteeringWheelAngle:       round(s.Steering, 2),
		TorqueAtTransmission:     round(s.Torque, 2),
		EngineSpeed:              round(s.EngineSpeed, 2),
		VehicleSpeed:             round(s.Speed, 2),
		Acceleration:             round(s.Acceleration, 4),
		AcceleratorPedalPosition: round(s.Throttle, 2),
		ParkingBrakeStatus:       r.parking,
		BrakePedalStatus:         s.Brake > 0,
		TransmissionGearPosition: s.Gear.String(),
		GearLeverPosition:        r.lever,
		Odometer:                 round(s.Odometer, 3),
		IgnitionStatus:           r.ignition,
		FuelLevel:                round(s.FuelLevel, 2),
		FuelConsumedSinceRestart: round(s.FuelUsed, 6),
		OilTemp:                  round(s.OilTemp, 1),
		Location:                 position{Latitude: round(s.Latitude, 6), Longitude: round(s.Longitude, 6)},
	}
}

// timestamp renders t the way vehicles do: UTC, space-separated, millisecond precision padded
// to nine digits.
func timestamp(t time.Time) string { return codecs.FormatTime(t.Truncate(time.Millisecond)) }

// rfc3339Millis renders a trip's start and end time as the v2 simulator does.
func rfc3339Millis(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

func round(x float64, digits int) float64 {
	p := math.Pow10(digits)
	r := math.Round(x*p) / p
	if r == 0 {
		return 0 // no "-0" on the wire
	}
	return r
}
