package codecs

import (
	"encoding/json"
	"time"
)

// TripAggregate is a vehicle's summary of its trip so far (name "aggregated_telemetrics"): means
// of the main signals, counts and durations of driving events, and the latest readings. The last
// aggregate of a trip carries EndTime.
type TripAggregate struct {
	VIN                          string     `json:"vin"`
	TripID                       string     `json:"trip_id"`
	Time                         time.Time  `json:"time"`
	StartTime                    time.Time  `json:"start_time"`
	EndTime                      *time.Time `json:"end_time,omitempty"`
	VehicleSpeedMean             float64    `json:"vehicle_speed_mean"`
	EngineSpeedMean              float64    `json:"engine_speed_mean"`
	TorqueAtTransmissionMean     float64    `json:"torque_at_transmission_mean"`
	OilTempMean                  float64    `json:"oil_temp_mean"`
	AcceleratorPedalPositionMean float64    `json:"accelerator_pedal_position_mean"`
	BrakeMean                    float64    `json:"brake_mean"`
	HighSpeedDuration            float64    `json:"high_speed_duration"`
	HighAccelerationEvents       float64    `json:"high_acceleration_event"`
	HighBrakingEvents            float64    `json:"high_braking_event"`
	IdleDuration                 float64    `json:"idle_duration"`
	IgnitionStatus               string     `json:"ignition_status,omitempty"`
	BrakePedalStatus             bool       `json:"brake_pedal_status"`
	TransmissionGearPosition     string     `json:"transmission_gear_position,omitempty"`
	Odometer                     float64    `json:"odometer"`
	FuelLevel                    float64    `json:"fuel_level"`
	FuelConsumedSinceRestart     float64    `json:"fuel_consumed_since_restart"`
	Latitude                     float64    `json:"latitude"`
	Longitude                    float64    `json:"longitude"`
}

// tripWire is the wire shape: timestamps arrive in several formats and numbers may be missing.
type tripWire struct {
	Name                         string          `json:"name"`
	VIN                          string          `json:"vin"`
	TripID                       string          `json:"trip_id"`
	Timestamp                    json.RawMessage `json:"timestamp"`
	StartTime                    json.RawMessage `json:"start_time"`
	EndTime                      json.RawMessage `json:"end_time"`
	VehicleSpeedMean             float64         `json:"vehicle_speed_mean"`
	EngineSpeedMean              float64         `json:"engine_speed_mean"`
	TorqueAtTransmissionMean     float64         `json:"torque_at_transmission_mean"`
	OilTempMean                  float64         `json:"oil_temp_mean"`
	AcceleratorPedalPositionMean float64         `json:"accelerator_pedal_position_mean"`
	BrakeMean                    float64         `json:"brake_mean"`
	HighSpeedDuration            float64         `json:"high_speed_duration"`
	HighAccelerationEvent        float64         `json:"high_acceleration_event"`
	HighBrakingEvent             float64         `json:"high_braking_event"`
	IdleDuration                 float64         `json:"idle_duration"`
	IgnitionStatus               string          `json:"ignition_status"`
	BrakePedalStatus             bool            `json:"brake_pedal_status"`
	TransmissionGearPosition     string          `json:"transmission_gear_position"`
	Odometer                     float64         `json:"odometer"`
	FuelLevel                    float64         `json:"fuel_level"`
	FuelConsumedSinceRestart     float64         `json:"fuel_consumed_since_restart"`
	Latitude                     float64         `json:"latitude"`
	Longitude                    float64         `json:"longitude"`
}

// DecodeTrip decodes a trip aggregate. It never panics; a message it cannot accept yields a
// *DecodeError. A missing or null start_time is taken from the aggregate's own time.
func DecodeTrip(b []byte) (TripAggregate, error) {
	if len(b) > MaxMessageBytes {
		return TripAggregate{}, decodeErr(ReasonTooLarge, "%d bytes, limit %d", len(b), MaxMessageBytes)
	}
	var w tripWire
	if err := json.Unmarshal(b, &w); err != nil {
		return TripAggregate{}, decodeErr(ReasonInvalidJSON, "%v", err)
	}
	if !ValidVIN(w.VIN) {
		return TripAggregate{}, decodeErr(ReasonMissingVIN, "vin %q", truncate([]byte(w.VIN), 32))
	}
	if w.TripID == "" || len(w.TripID) > 128 {
		return TripAggregate{}, decodeErr(ReasonUnknownShape, "trip aggregate without a trip_id")
	}
	ts, err := ParseTime(w.Timestamp)
	if err != nil {
		return TripAggregate{}, decodeErr(ReasonBadTimestamp, "timestamp %s", truncate(w.Timestamp, 40))
	}
	start := ts
	if len(w.StartTime) > 0 && string(w.StartTime) != "null" {
		if start, err = ParseTime(w.StartTime); err != nil {
			return TripAggregate{}, decodeErr(ReasonBadTimestamp, "start_time %s", truncate(w.StartTime, 40))
		}
	}
	a := TripAggregate{
		VIN: w.VIN, TripID: w.TripID, Time: ts, StartTime: start,
		VehicleSpeedMean: w.VehicleSpeedMean, EngineSpeedMean: w.EngineSpeedMean,
		TorqueAtTransmissionMean: w.TorqueAtTransmissionMean, OilTempMean: w.OilTempMean,
		AcceleratorPedalPositionMean: w.AcceleratorPedalPositionMean, BrakeMean: w.BrakeMean,
		HighSpeedDuration: w.HighSpeedDuration, HighAccelerationEvents: w.HighAccelerationEvent,
		HighBrakingEvents: w.HighBrakingEvent, IdleDuration: w.IdleDuration,
		IgnitionStatus: w.IgnitionStatus, BrakePedalStatus: w.BrakePedalStatus,
		TransmissionGearPosition: w.TransmissionGearPosition, Odometer: w.Odometer,
		FuelLevel: w.FuelLevel, FuelConsumedSinceRestart: w.FuelConsumedSinceRestart,
		Latitude: w.Latitude, Longitude: w.Longitude,
	}
	if len(w.EndTime) > 0 && string(w.EndTime) != "null" {
		end, err := ParseTime(w.EndTime)
		if err != nil {
			return TripAggregate{}, decodeErr(ReasonBadTimestamp, "end_time %s", truncate(w.EndTime, 40))
		}
		a.EndTime = &end
	}
	return a, nil
}
