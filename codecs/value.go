package codecs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Kind says which field of a Value holds the reading.
type Kind uint8

// The kinds of value a signal carries.
const (
	KindNone Kind = iota
	KindNumber
	KindString
	KindBool
	KindLocation
)

func (k Kind) String() string {
	switch k {
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	case KindBool:
		return "bool"
	case KindLocation:
		return "location"
	}
	return "none"
}

// Value is one reading: a number, a string, a boolean or a position.
// On the wire it is the plain JSON number, string or boolean, or
// {"latitude":…,"longitude":…} for a position.
type Value struct {
	Kind Kind
	Num  float64
	Str  string
	Bool bool
	Lat  float64
	Lon  float64
}

// Number, String, Bool and Location build Values.
func Number(f float64) Value          { return Value{Kind: KindNumber, Num: f} }
func String(s string) Value           { return Value{Kind: KindString, Str: s} }
func Bool(b bool) Value               { return Value{Kind: KindBool, Bool: b} }
func Location(lat, lon float64) Value { return Value{Kind: KindLocation, Lat: lat, Lon: lon} }

// Equal reports whether two values are the same reading.
func (v Value) Equal(o Value) bool { return v == o }

// String renders the value for logs and line protocol.
func (v Value) String() string {
	switch v.Kind {
	case KindNumber:
		return strconv.FormatFloat(v.Num, 'g', -1, 64)
	case KindString:
		return v.Str
	case KindBool:
		return strconv.FormatBool(v.Bool)
	case KindLocation:
		return strconv.FormatFloat(v.Lat, 'f', -1, 64) + "," + strconv.FormatFloat(v.Lon, 'f', -1, 64)
	}
	return ""
}

// MarshalJSON writes the plain JSON form.
func (v Value) MarshalJSON() ([]byte, error) { return v.appendJSON(nil), nil }

// appendJSON appends the plain JSON form; it never fails (NaN and ±Inf are null).
func (v Value) appendJSON(b []byte) []byte {
	switch v.Kind {
	case KindNumber:
		if !finite(v.Num) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, v.Num, 'g', -1, 64)
	case KindString:
		return appendJSONString(b, v.Str)
	case KindBool:
		return strconv.AppendBool(b, v.Bool)
	case KindLocation:
		if !finite(v.Lat) || !finite(v.Lon) {
			return append(b, "null"...) // as for a number: JSON has no NaN or infinity
		}
		b = append(b, `{"latitude":`...)
		b = strconv.AppendFloat(b, v.Lat, 'g', -1, 64)
		b = append(b, `,"longitude":`...)
		b = strconv.AppendFloat(b, v.Lon, 'g', -1, 64)
		return append(b, '}')
	}
	return append(b, "null"...)
}

// UnmarshalJSON reads the plain JSON form.
func (v *Value) UnmarshalJSON(b []byte) error {
	parsed, err := parseValue(b)
	if err != nil {
		return err
	}
	*v = parsed
	return nil
}

// parseValue reads a JSON number, string, boolean or {"latitude","longitude"} object.
func parseValue(b []byte) (Value, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return Value{}, fmt.Errorf("empty value")
	}
	switch b[0] {
	case 'n':
		return Value{}, nil
	case 't', 'f':
		switch string(b) {
		case "true":
			return Bool(true), nil
		case "false":
			return Bool(false), nil
		}
		var x bool
		if err := json.Unmarshal(b, &x); err != nil {
			return Value{}, err
		}
		return Bool(x), nil
	case '"':
		if s, ok := plainString(b); ok {
			return String(s), nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return Value{}, err
		}
		return String(s), nil
	case '{':
		var loc struct {
			Latitude  *float64 `json:"latitude"`
			Longitude *float64 `json:"longitude"`
		}
		if err := json.Unmarshal(b, &loc); err != nil {
			return Value{}, err
		}
		if loc.Latitude == nil || loc.Longitude == nil {
			return Value{}, fmt.Errorf("object value is not a location with latitude and longitude")
		}
		return Location(*loc.Latitude, *loc.Longitude), nil
	case '[':
		return Value{}, fmt.Errorf("value is an array")
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return Value{}, fmt.Errorf("value %q is not a finite number", truncate(b, 32))
	}
	return Number(f), nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
