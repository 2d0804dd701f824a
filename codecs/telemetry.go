package codecs

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
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
	if !ValidVIN(w.VIN) {
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

// decodeTick decodes the v3 simulator's one-object-per-tick shape into signals. b is a message
// json.Unmarshal accepted into telemetryWire: a JSON object, or null.
func decodeTick(b []byte) ([]Signal, error) {
	var buf [32]member
	members, ok := objectMembers(b, buf[:0])
	if !ok {
		// Not reached for what json.Unmarshal accepted; kept so that a scanner mistake
		// decodes slowly instead of misreading.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, decodeErr(ReasonInvalidJSON, "%v", err)
		}
		members = members[:0]
		for _, k := range slices.Sorted(maps.Keys(m)) {
			members = append(members, member{key: k, raw: m[k]})
		}
	}
	// Attributes are taken in the message's order, the last of a repeated key winning (as a
	// map would), so the signals and the first error do not depend on chance.
	members = lastByKey(members)
	var vinRaw, vinUpper, tripRaw, tsRaw []byte
	for _, m := range members {
		switch m.key {
		case "VIN":
			vinUpper = m.raw
		case "vin":
			vinRaw = m.raw
		case "trip_id":
			tripRaw = m.raw
		case "timestamp":
			tsRaw = m.raw
		}
	}
	if vinUpper != nil {
		vinRaw = vinUpper
	}
	vin := jsonString(vinRaw)
	if !ValidVIN(vin) {
		return nil, decodeErr(ReasonMissingVIN, "vin %q", truncate([]byte(vin), 32))
	}
	trip := jsonString(tripRaw)
	ts, err := ParseTime(tsRaw)
	if err != nil {
		return nil, decodeErr(ReasonBadTimestamp, "%s", truncate(tsRaw, 40))
	}
	// Attributes are checked in the message's order and come out ordered by name, those of
	// the same name in the message's order.
	var buf2 [32]attribute
	attrs := buf2[:0]
	for _, m := range members {
		if tickMeta[m.key] {
			continue
		}
		name, ok := CanonicalSignal(m.key)
		if !ok {
			return nil, decodeErr(ReasonBadName, "attribute %q", truncate([]byte(m.key), 32))
		}
		v, err := parseValue(m.raw)
		if err != nil {
			return nil, decodeErr(ReasonWrongType, "attribute %s: %v", m.key, err)
		}
		if v.Kind == KindNone {
			continue // null attribute: nothing measured this tick
		}
		if err := checkKind(name, v); err != nil {
			return nil, err
		}
		attrs = append(attrs, attribute{name: name, value: v})
	}
	if len(attrs) == 0 {
		return nil, decodeErr(ReasonUnknownShape, "neither a named signal nor a tick with attributes")
	}
	slices.SortStableFunc(attrs, func(a, b attribute) int { return strings.Compare(a.name, b.name) })
	signals := make([]Signal, len(attrs))
	for i, a := range attrs {
		signals[i] = Signal{VIN: vin, TripID: trip, Name: a.name, Value: a.value, Time: ts}
	}
	return signals, nil
}

// attribute is one signal of a tick, before it becomes a Signal.
type attribute struct {
	name  string
	value Value
}

// jsonString returns the string a raw JSON value holds, or "" for null, a missing value or
// anything that is not a string.
func jsonString(raw []byte) string {
	if s, ok := plainString(raw); ok {
		return s
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
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

// member is one member of a JSON object: its key, unquoted, and its value as raw JSON.
type member struct {
	key string
	raw []byte
}

// objectMembers appends the members of the JSON object b to dst, in order, in one pass and
// without copying values; null yields none. It is for input that json.Unmarshal accepted: ok
// is false for anything else it notices, and then the caller decodes b another way.
func objectMembers(b []byte, dst []member) (_ []member, ok bool) {
	i := skipSpace(b, 0)
	if i < len(b) && b[i] == 'n' {
		return dst, i+4 <= len(b) && string(b[i:i+4]) == "null" && skipSpace(b, i+4) == len(b)
	}
	if i >= len(b) || b[i] != '{' {
		return dst, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return dst, skipSpace(b, i+1) == len(b)
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return dst, false
		}
		end := skipString(b, i)
		if end < 0 {
			return dst, false
		}
		key, ok := plainString(b[i:end])
		if !ok {
			if err := json.Unmarshal(b[i:end], &key); err != nil {
				return dst, false
			}
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return dst, false
		}
		start := skipSpace(b, i+1)
		end = skipValue(b, start)
		if end < 0 {
			return dst, false
		}
		dst = append(dst, member{key: key, raw: b[start:end]})
		i = skipSpace(b, end)
		if i >= len(b) {
			return dst, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return dst, skipSpace(b, i+1) == len(b)
		default:
			return dst, false
		}
	}
}

// lastByKey keeps the last of each repeated key, as decoding into a map would, and otherwise
// the members' order.
func lastByKey(ms []member) []member {
	later := func(i int) bool { // whether a later member has the same key
		for _, m := range ms[i+1:] {
			if m.key == ms[i].key {
				return true
			}
		}
		return false
	}
	if len(ms) > 64 { // a hostile message with thousands of keys must not cost n²
		last := make(map[string]int, len(ms))
		for i, m := range ms {
			last[m.key] = i
		}
		later = func(i int) bool { return last[ms[i].key] != i }
	}
	out := ms[:0]
	for i, m := range ms {
		if !later(i) {
			out = append(out, m)
		}
	}
	return out
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the JSON string starting at b[i], or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				if i = skipString(b, i); i < 0 {
					return -1
				}
				i-- // the loop's i++ steps past the closing quote
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	}
	start := i
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if i == start {
				return -1
			}
			return i
		}
		i++
	}
	return -1 // a member's value is always followed by ',' or '}'
}

// plainString returns the content of a JSON string that needs no unquoting: no escapes, no
// control characters, valid UTF-8. ok is false for anything else, which json.Unmarshal then
// decodes (replacing invalid UTF-8 as it always does).
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	for _, c := range inner {
		if c < 0x20 || c == '"' || c == '\\' {
			return "", false
		}
	}
	if !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}
