package codecs

import (
	"encoding/json"
	"strings"
	"time"
)

// DTC is one diagnostic trouble code a vehicle reported.
type DTC struct {
	VIN    string    `json:"vin"`
	TripID string    `json:"trip_id,omitempty"`
	Code   string    `json:"code"`
	Time   time.Time `json:"time"`
}

type dtcWire struct {
	Name      string          `json:"name"`
	Value     json.RawMessage `json:"value"`
	VIN       string          `json:"vin"`
	TripID    string          `json:"trip_id"`
	Timestamp json.RawMessage `json:"timestamp"`
}

// DecodeDTC decodes a diagnostic message ({"name":"dtc","value":"P0404",…}). The code is
// upper-cased and must be an OBD-II code: P, C, B or U and four hexadecimal digits.
func DecodeDTC(b []byte) (DTC, error) {
	if len(b) > MaxMessageBytes {
		return DTC{}, decodeErr(ReasonTooLarge, "%d bytes, limit %d", len(b), MaxMessageBytes)
	}
	var w dtcWire
	if err := json.Unmarshal(b, &w); err != nil {
		return DTC{}, decodeErr(ReasonInvalidJSON, "%v", err)
	}
	if !ValidVIN(w.VIN) {
		return DTC{}, decodeErr(ReasonMissingVIN, "vin %q", truncate([]byte(w.VIN), 32))
	}
	ts, err := ParseTime(w.Timestamp)
	if err != nil {
		return DTC{}, decodeErr(ReasonBadTimestamp, "%s", truncate(w.Timestamp, 40))
	}
	var code string
	if err := json.Unmarshal(w.Value, &code); err != nil {
		return DTC{}, decodeErr(ReasonWrongType, "dtc value must be a string code")
	}
	code = strings.ToUpper(strings.TrimSpace(code))
	if !ValidDTCCode(code) {
		return DTC{}, decodeErr(ReasonBadCode, "%q is not an OBD-II code", truncate([]byte(code), 16))
	}
	return DTC{VIN: w.VIN, TripID: w.TripID, Code: code, Time: ts}, nil
}

// ValidDTCCode reports whether code is an OBD-II trouble code: P, C, B or U followed by four
// hexadecimal digits (the second character 0-3).
func ValidDTCCode(code string) bool {
	if len(code) != 5 {
		return false
	}
	switch code[0] {
	case 'P', 'C', 'B', 'U':
	default:
		return false
	}
	if code[1] < '0' || code[1] > '3' {
		return false
	}
	for i := 2; i < 5; i++ {
		c := code[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}
