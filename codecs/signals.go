package codecs

import "strings"

// Canonical names of the signals vehicles send (the v2 automotive module's names).
const (
	SignalSteeringWheelAngle       = "steering_wheel_angle"
	SignalTorqueAtTransmission     = "torque_at_transmission"
	SignalEngineSpeed              = "engine_speed"
	SignalVehicleSpeed             = "vehicle_speed"
	SignalAcceleration             = "acceleration"
	SignalAcceleratorPedalPosition = "accelerator_pedal_position"
	SignalParkingBrakeStatus       = "parking_brake_status"
	SignalBrakePedalStatus         = "brake_pedal_status"
	SignalTransmissionGearPosition = "transmission_gear_position"
	SignalGearLeverPosition        = "gear_lever_position"
	SignalOdometer                 = "odometer"
	SignalIgnitionStatus           = "ignition_status"
	SignalFuelLevel                = "fuel_level"
	SignalFuelConsumedSinceRestart = "fuel_consumed_since_restart"
	SignalOilTemp                  = "oil_temp"
	SignalBrake                    = "brake"
	SignalLocation                 = "location"
)

// knownSignals maps each canonical signal name to the kind of value it must carry.
var knownSignals = map[string]Kind{
	SignalSteeringWheelAngle:       KindNumber,
	SignalTorqueAtTransmission:     KindNumber,
	SignalEngineSpeed:              KindNumber,
	SignalVehicleSpeed:             KindNumber,
	SignalAcceleration:             KindNumber,
	SignalAcceleratorPedalPosition: KindNumber,
	SignalParkingBrakeStatus:       KindBool,
	SignalBrakePedalStatus:         KindBool,
	SignalTransmissionGearPosition: KindString,
	SignalGearLeverPosition:        KindString,
	SignalOdometer:                 KindNumber,
	SignalIgnitionStatus:           KindString,
	SignalFuelLevel:                KindNumber,
	SignalFuelConsumedSinceRestart: KindNumber,
	SignalOilTemp:                  KindNumber,
	SignalBrake:                    KindNumber,
	SignalLocation:                 KindLocation,
}

// signalAliases maps the other names sources use to canonical names: the article's "speed",
// and the v3 simulator's camelCase attributes.
var signalAliases = map[string]string{
	"speed":                    SignalVehicleSpeed,
	"steeringWheelAngle":       SignalSteeringWheelAngle,
	"torqueAtTransmission":     SignalTorqueAtTransmission,
	"engineSpeed":              SignalEngineSpeed,
	"vehicleSpeed":             SignalVehicleSpeed,
	"acceleratorPedalPosition": SignalAcceleratorPedalPosition,
	"parkingBrakeStatus":       SignalParkingBrakeStatus,
	"brakePedalStatus":         SignalBrakePedalStatus,
	"transmissionGearPosition": SignalTransmissionGearPosition,
	"gearLeverPosition":        SignalGearLeverPosition,
	"ignitionStatus":           SignalIgnitionStatus,
	"fuelLevel":                SignalFuelLevel,
	"fuelConsumedSinceRestart": SignalFuelConsumedSinceRestart,
	"oilTemp":                  SignalOilTemp,
}

// maxNameLen bounds signal names and VINs so a hostile message cannot grow state without limit.
const maxNameLen = 64

// MaxVINLen is the longest VIN ValidVIN accepts.
const MaxVINLen = maxNameLen

// CanonicalSignal returns the canonical name for a signal name a source sent: aliases are
// resolved, camelCase becomes snake_case and case is folded. ok is false for a name that is empty,
// too long, or holds characters other than letters, digits, '_', '-' and '.'.
func CanonicalSignal(name string) (canonical string, ok bool) {
	if c, found := signalAliases[name]; found {
		return c, true
	}
	if _, found := knownSignals[name]; found {
		return name, true
	}
	if name == "" || len(name) > maxNameLen {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z':
			if i > 0 && name[i-1] != '_' {
				b.WriteByte('_')
			}
			b.WriteByte(c + 'a' - 'A')
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '_', c == '-', c == '.':
			b.WriteByte(c)
		default:
			return "", false
		}
	}
	canonical = b.String()
	if c, found := signalAliases[canonical]; found {
		return c, true // "Speed" is the "speed" alias, not an unknown signal
	}
	if len(canonical) > maxNameLen {
		return "", false // snake_case grew the name past the bound
	}
	return canonical, true
}

// SignalKind returns the kind a known signal must carry; ok is false for signals fleetstream
// does not know, which are accepted with whatever kind they come with.
func SignalKind(canonical string) (Kind, bool) {
	k, ok := knownSignals[canonical]
	return k, ok
}

// ValidVIN accepts what real fleets and simulators send: 1 to 64 letters, digits, '-' or '_'.
// Simulator VINs break ISO 3779 (I, O, Q, no check digit) and are accepted on purpose.
func ValidVIN(vin string) bool {
	if vin == "" || len(vin) > maxNameLen {
		return false
	}
	for i := 0; i < len(vin); i++ {
		c := vin[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
