package codecs

import (
	"encoding/json"
	"time"
)

// Signal is one telemetry reading of one vehicle, decoded from any of the sources' shapes.
type Signal struct {
	VIN    string    `json:"vin"`
	TripID string    `json:"trip_id,omitempty"`
	Name   string    `json:"name"`
	Value  Value     `json:"value"`
	Time   time.Time `json:"time"`
}

// telemetryWire is the v2 single-signal shape (and the article's): name/value, or name
// "location" with latitude/longitude and no value.
type telemetryWire struct {
	Name      *string         `json:"name"`
	Value     json.RawMessage `json:"value"`
	VIN       string          `json:"vin"`
	TripID    string          `json:"trip_id"`
	Timestamp json.RawMessage `json:"timestamp"`
	Latitude  *float64        `json:"latitude"`
	Longitude *float64        `json:"longitude"`
}

// DecodeTelemetry decodes one telemetry message. The v2 shapes (one signal per message, the
// location variant) yield one Signal; the v3 per-tick object yields one Signal per attribute.
// It never panics; a message it cannot accept yields a *DecodeError.
func DecodeTelemetry(b []byte) ([]Signal, error) {
	if len(b) > MaxMessageBytes {
		return nil, decodeErr(ReasonTooLarge, "%d bytes, limit %d", len(b), MaxMessageBytes)
	}
	var w telemetryWire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, decodeErr(ReasonInvalidJSON, "%v", err)
	}
	if w.Name == nil {
		return decodeTick(b)
	}
	if !validVIN(w.VIN) {
		return nil, decodeErr(ReasonMissingVIN, "vin %q", truncate([]byte(w.VIN), 32))
	}
	ts, err := ParseTime(w.Timestamp)
	if err != nil {
		return nil, decodeErr(ReasonBadTimestamp, "%s", truncate(w.Timestamp, 40))
	}
	name, ok := CanonicalSignal(*w.Name)
	if !ok {
		return nil, decodeErr(ReasonBadName, "signal name %q", truncate([]byte(*w.Name), 32))
	}
	var v Value
	switch {
	case name == SignalLocation && len(w.Value) == 0:
		if w.Latitude == nil || w.Longitude == nil {
			return nil, decodeErr(ReasonWrongType, "location without latitude and longitude")
		}
		v = Location(*w.Latitude, *w.Longitude)
	case len(w.Value) == 0:
		return nil, decodeErr(ReasonWrongType, "signal %s has no value", name)
	default:
		if v, err = parseValue(w.Value); err != nil {
			return nil, decodeErr(ReasonWrongType, "signal %s: %v", name, err)
		}
	}
	if err := checkKind(name, v); err != nil {
		return nil, err
	}
	return []Signal{{VIN: w.VIN, TripID: w.TripID, Name: name, Value: v, Time: ts}}, nil
}

// tickMeta are the v3 tick's fields that are not signals.
var tickMeta = map[string]bool{"timestamp": true, "trip_id": true, "VIN": true, "vin": true, "_id_": true, "name": true}

// decodeTick decodes the v3 simulator's one-object-per-tick shape into signals.
func decodeTick(b []byte) ([]Signal, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, decodeErr(ReasonInvalidJSON, "%v", err)
	}
	var vin, trip string
	if raw, ok := m["VIN"]; ok {
		_ = json.Unmarshal(raw, &vin)
	} else if raw, ok := m["vin"]; ok {
		_ = json.Unmarshal(raw, &vin)
	}
	if !validVIN(vin) {
		return nil, decodeErr(ReasonMissingVIN, "vin %q", truncate([]byte(vin), 32))
	}
	if raw, ok := m["trip_id"]; ok {
		_ = json.Unmarshal(raw, &trip)
	}
	ts, err := ParseTime(m["timestamp"])
	if err != nil {
		return nil, decodeErr(ReasonBadTimestamp, "%s", truncate(m["timestamp"], 40))
	}
	signals := make([]Signal, 0, len(m))
	for key, raw := range m {
		if tickMeta[key] {
			continue
		}
		name, ok := CanonicalSignal(key)
		if !ok {
			return nil, decodeErr(ReasonBadName, "attribute %q", truncate([]byte(key), 32))
		}
		v, err := parseValue(raw)
		if err != nil {
			return nil, decodeErr(ReasonWrongType, "attribute %s: %v", key, err)
		}
		if v.Kind == KindNone {
			continue // null attribute: nothing measured this tick
		}
		if err := checkKind(name, v); err != nil {
			return nil, err
		}
		signals = append(signals, Signal{VIN: vin, TripID: trip, Name: name, Value: v, Time: ts})
	}
	if len(signals) == 0 {
		return nil, decodeErr(ReasonUnknownShape, "neither a named signal nor a tick with attributes")
	}
	sortSignals(signals)
	return signals, nil
}

// checkKind rejects a known signal carrying the wrong kind of value.
func checkKind(name string, v Value) error {
	want, known := SignalKind(name)
	if v.Kind == KindNone {
		return decodeErr(ReasonWrongType, "signal %s is null", name)
	}
	if known && v.Kind != want {
		return decodeErr(ReasonWrongType, "signal %s must be a %s, got a %s", name, want, v.Kind)
	}
	return nil
}
