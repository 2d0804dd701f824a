package codecs

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// AnomalyState says whether an anomaly starts or clears.
type AnomalyState string

// Anomalies are emitted when they open and when they clear, not for every message in between.
const (
	AnomalyOpen    AnomalyState = "open"
	AnomalyCleared AnomalyState = "cleared"
)

// Anomaly is a rule's verdict on a vehicle's signal, on the anomalies topic.
type Anomaly struct {
	ID        string       `json:"id"`
	VIN       string       `json:"vin"`
	TripID    string       `json:"trip_id,omitempty"`
	Rule      string       `json:"rule"`
	Signal    string       `json:"signal"`
	State     AnomalyState `json:"state"`
	Severity  string       `json:"severity"`
	Value     float64      `json:"value"`
	Threshold float64      `json:"threshold"`
	Message   string       `json:"message,omitempty"`
	StartedAt time.Time    `json:"started_at"`
	Time      time.Time    `json:"time"`
}

// DTCEvent is a decoded, classified trouble code with the vehicle's context, on dtc-events.
type DTCEvent struct {
	ID          string    `json:"id"`
	VIN         string    `json:"vin"`
	TripID      string    `json:"trip_id,omitempty"`
	Code        string    `json:"code"`
	System      string    `json:"system"`
	Generic     bool      `json:"generic"`
	Severity    string    `json:"severity"`
	Description string    `json:"description,omitempty"`
	StopWorthy  bool      `json:"stop_worthy"`
	CommandID   string    `json:"command_id,omitempty"`
	Repeat      bool      `json:"repeat,omitempty"`
	Time        time.Time `json:"time"`
	Speed       *float64  `json:"speed,omitempty"`
	Latitude    *float64  `json:"latitude,omitempty"`
	Longitude   *float64  `json:"longitude,omitempty"`
}

// CommandEngineStop is the action of a STOP command.
const CommandEngineStop = "engine_stop"

// Command is an instruction for one vehicle, on the commands topic. Its ID is deterministic
// (see CommandID), so sinks can drop a command they already delivered.
type Command struct {
	ID       string    `json:"id"`
	VIN      string    `json:"vin"`
	Action   string    `json:"action"`
	Reason   string    `json:"reason"`
	Code     string    `json:"code,omitempty"`
	TripID   string    `json:"trip_id,omitempty"`
	IssuedAt time.Time `json:"issued_at"`
}

// CommandID derives a command's id from what makes it unique: the vehicle, the trip, the cause
// and the action. Redelivery and replay compute the same id.
func CommandID(vin, tripID, cause, action string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{vin, tripID, cause, action}, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// Measurement is one signal value enriched with trip dimensions, on the timeseries topic.
type Measurement struct {
	VIN        string            `json:"vin"`
	TripID     string            `json:"trip_id,omitempty"`
	Name       string            `json:"name"`
	Value      Value             `json:"value"`
	Time       time.Time         `json:"time"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
}

// DeadLetter carries a message a stage could not decode or deliver: the original bytes, where
// they came from, and why.
type DeadLetter struct {
	Topic     string    `json:"topic"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Key       string    `json:"key"`
	Value     []byte    `json:"value"`
	Reason    Reason    `json:"reason"`
	Detail    string    `json:"detail,omitempty"`
	Stage     string    `json:"stage"`
	Time      time.Time `json:"time"`
}
