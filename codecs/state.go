package codecs

import "time"

// TripState is what the trip-state group keeps per VIN: the newest trip aggregate by event time.
type TripState struct {
	VIN       string        `json:"vin"`
	TripID    string        `json:"trip_id"`
	StartTime time.Time     `json:"start_time"`
	EndTime   *time.Time    `json:"end_time,omitempty"`
	UpdatedAt time.Time     `json:"updated_at"`
	Latitude  float64       `json:"latitude"`
	Longitude float64       `json:"longitude"`
	Latest    TripAggregate `json:"latest"`
	// Trips counts the distinct trips seen for this vehicle.
	Trips int `json:"trips"`
}

// Ended reports whether the trip has ended.
func (t *TripState) Ended() bool { return t != nil && t.EndTime != nil }

// VehicleState is what the vehicle-state group keeps per VIN.
type VehicleState struct {
	VIN       string    `json:"vin"`
	TripID    string    `json:"trip_id,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
	// Signals holds the last value and event time of every signal.
	Signals map[string]SignalState `json:"signals"`
	// Stats holds rolling statistics per numeric signal, for outlier rules.
	Stats map[string]RollingStat `json:"stats,omitempty"`
	// OpenAnomalies holds the anomalies that started and have not cleared, by rule name.
	OpenAnomalies map[string]Anomaly `json:"open_anomalies,omitempty"`
	// Messages counts the signals applied.
	Messages int64 `json:"messages"`
}

// SignalState is the last reading of one signal.
type SignalState struct {
	Value Value     `json:"value"`
	Time  time.Time `json:"time"`
}

// RollingStat is an exponentially weighted mean and variance of a numeric signal.
type RollingStat struct {
	N    int64   `json:"n"`
	Mean float64 `json:"mean"`
	Var  float64 `json:"var"`
}

// DTCState is what the dtc-monitor group keeps per VIN: the trouble codes active in the current
// trip and the commands already issued, so a repeated code issues no second command.
type DTCState struct {
	VIN    string               `json:"vin"`
	TripID string               `json:"trip_id,omitempty"`
	Active map[string]ActiveDTC `json:"active"`
	// Commands maps the ids of the commands issued (newest MaxRememberedCommands) to when and
	// from which input record they were issued.
	Commands map[string]IssuedCommand `json:"commands,omitempty"`
}

// IssuedCommand records a command the dtc-monitor issued and the input record that issued it:
// when that same record is redelivered (the table write landed, the emit may not have), the
// command is emitted again with the same id instead of being taken for a duplicate.
type IssuedCommand struct {
	IssuedAt  time.Time `json:"issued_at"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
}

// MaxRememberedCommands bounds DTCState.Commands.
const MaxRememberedCommands = 64

// ActiveDTC is a trouble code seen in the current trip.
type ActiveDTC struct {
	Code      string    `json:"code"`
	TripID    string    `json:"trip_id,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Count     int       `json:"count"`
}
