package codecs

import (
	"bytes"
	"errors"
	"strconv"
	"time"
)

// spaceLayout is the vehicles' timestamp format: UTC, no zone, up to nanoseconds.
const spaceLayout = "2006-01-02 15:04:05.999999999"

// errBadTime is returned for a timestamp in none of the accepted formats.
var errBadTime = errors.New("timestamp is not 'YYYY-MM-DD HH:mm:ss.fffffffff', RFC 3339 or epoch milliseconds")

// errTimeRange is returned for a timestamp that parses but lies outside the years 1 to 9999.
var errTimeRange = errors.New("timestamp is outside the years 1 to 9999")

// ParseTime accepts the three timestamp forms vehicles send: "2018-02-15 08:20:18.000000000"
// (UTC, no zone), RFC 3339 with any fraction and zone, and epoch milliseconds (as a JSON number
// or a numeric string). The result is in UTC, not zero, and in the years 1 to 9999, so it can
// be written as JSON again.
func ParseTime(raw []byte) (time.Time, error) {
	t, err := parseTime(raw)
	if err != nil {
		return time.Time{}, err
	}
	// time.Time's MarshalJSON fails outside the years 0-9999: a decoded time out there would
	// make every later encode of the vehicle's state fail, and goka stops on a codec error.
	if t.IsZero() || t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, errTimeRange
	}
	return t, nil
}

func parseTime(raw []byte) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return time.Time{}, errBadTime
	}
	if raw[0] == '"' {
		if len(raw) < 2 || raw[len(raw)-1] != '"' {
			return time.Time{}, errBadTime
		}
		raw = raw[1 : len(raw)-1]
	}
	s := string(raw)
	if isDigits(s) {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, errBadTime
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	if len(s) > 10 && s[10] == ' ' {
		t, err := time.Parse(spaceLayout, s)
		if err != nil {
			return time.Time{}, errBadTime
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errBadTime
	}
	return t.UTC(), nil
}

// FormatTime renders t in the vehicles' space format, in UTC with nanoseconds.
func FormatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05.000000000")
}

func isDigits(s string) bool {
	if s == "" || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
