package codecs

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want time.Time
	}{
		{"space format with nanoseconds", `"2018-02-15 08:20:18.000000000"`, utc(2018, 2, 15, 8, 20, 18, 0)},
		{"space format with all nine digits", `"2021-03-06 08:13:05.123456789"`, utc(2021, 3, 6, 8, 13, 5, 123456789)},
		{"space format with milliseconds", `"2021-03-06 08:13:05.112"`, utc(2021, 3, 6, 8, 13, 5, 112_000_000)},
		{"space format with one digit", `"2021-03-06 08:13:05.1"`, utc(2021, 3, 6, 8, 13, 5, 100_000_000)},
		{"space format without fraction", `"2021-03-06 08:13:05"`, utc(2021, 3, 6, 8, 13, 5, 0)},
		{"RFC 3339 Z with milliseconds", `"2021-03-06T07:40:02.454Z"`, utc(2021, 3, 6, 7, 40, 2, 454_000_000)},
		{"RFC 3339 Z without fraction", `"2021-03-06T07:40:02Z"`, utc(2021, 3, 6, 7, 40, 2, 0)},
		{"RFC 3339 with nanoseconds", `"2021-03-06T07:40:02.123456789Z"`, utc(2021, 3, 6, 7, 40, 2, 123456789)},
		{"RFC 3339 positive offset", `"2021-03-06T09:40:02.454123+02:00"`, utc(2021, 3, 6, 7, 40, 2, 454_123_000)},
		{"RFC 3339 negative half-hour offset", `"2021-03-06T02:10:02-05:30"`, utc(2021, 3, 6, 7, 40, 2, 0)},
		{"RFC 3339 offset crossing midnight", `"2021-03-06T23:30:00-01:00"`, utc(2021, 3, 7, 0, 30, 0, 0)},
		{"epoch milliseconds number", `1615018385112`, utc(2021, 3, 6, 8, 13, 5, 112_000_000)},
		{"epoch milliseconds string", `"1615018385112"`, utc(2021, 3, 6, 8, 13, 5, 112_000_000)},
		{"epoch zero", `0`, utc(1970, 1, 1, 0, 0, 0, 0)},
		{"epoch with surrounding space", " 1615018385112\n", utc(2021, 3, 6, 8, 13, 5, 112_000_000)},
		{"last millisecond of year 9999", `253402300799999`, utc(9999, 12, 31, 23, 59, 59, 999_000_000)},
		{"first second of year 1", `"0001-01-01T00:00:01Z"`, utc(1, 1, 1, 0, 0, 1, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseTime([]byte(tc.raw))
			if err != nil {
				t.Fatalf("ParseTime(%s): %v", tc.raw, err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("ParseTime(%s) = %v, want %v", tc.raw, got, tc.want)
			}
			checkTime(t, got)
		})
	}
}

func TestParseTimeRejects(t *testing.T) {
	for _, raw := range []string{
		``, ` `, `null`, `""`, `"`, `"2021-03-06 08:13:05`, `true`, `{}`, `[]`,
		`"yesterday"`, `"2021-03-06"`, `"08:13:05"`, `"2021-03-06T08:13:05"`, `"2021-03-06 08:13:05Z"`,
		`"2021-03-06 08:13:05 +0000"`, `"2021/03/06 08:13:05"`, `"2021-3-6 8:13:05"`, `"2021-02-30 08:13:05"`,
		`"2021-03-06 24:00:00"`, `"2021-03-06 08:60:00"`, `"2021-03-06T08:13:05+25:00"`, `"Sat, 06 Mar 2021 08:13:05 GMT"`,
		`-1`, `"-1"`, `1615018385112.5`, `1.6e12`, `"1615018385112 "`, `1615018385112000000`, `"0x1F"`,
		// Outside the years 1 to 9999: time.Time cannot be written as JSON there.
		`253402300800000`, `999999999999999999`, `"0001-01-01T00:30:00+01:00"`, `"9999-12-31T23:59:59-01:00"`,
		// The zero time means "unset" everywhere downstream.
		`"0001-01-01 00:00:00"`, `"0001-01-01T00:00:00Z"`,
	} {
		if got, err := ParseTime([]byte(raw)); err == nil {
			t.Errorf("ParseTime(%q) = %v, want an error", raw, got)
		}
	}
}

func TestFormatTime(t *testing.T) {
	in := time.Date(2021, 3, 6, 9, 13, 5, 112_000_000, time.FixedZone("CET", 3600))
	if got, want := FormatTime(in), "2021-03-06 08:13:05.112000000"; got != want {
		t.Errorf("FormatTime = %q, want %q", got, want)
	}
	back, err := ParseTime([]byte(`"` + FormatTime(in) + `"`))
	if err != nil || !back.Equal(in) {
		t.Errorf("ParseTime(FormatTime(t)) = %v, %v; want %v", back, err, in)
	}
}
