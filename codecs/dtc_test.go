package codecs

import (
	"strings"
	"testing"
)

// dtcMsg returns a diagnostic message of a fixed vehicle whose value is the raw JSON given.
func dtcMsg(value string) []byte {
	return []byte(`{"timestamp":"2021-03-06 08:14:33.087000000","trip_id":"trip-1","vin":"MQYK4Z8WGTJDFDA05","name":"dtc","value":` + value + `}`)
}

func TestDecodeDTCFixture(t *testing.T) {
	got, err := DecodeDTC(fixture(t, "dtc.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := DTC{VIN: "MQYK4Z8WGTJDFDA05", TripID: "a4c55e6e-a7eb-4c3e-b0a0-dfcace119e03", Code: "P0404", Time: utc(2021, 3, 6, 8, 14, 33, 87_000_000)}
	if got.VIN != want.VIN || got.TripID != want.TripID || got.Code != want.Code || !got.Time.Equal(want.Time) {
		t.Errorf("DecodeDTC = %+v, want %+v", got, want)
	}
	checkTime(t, got.Time)
}

func TestDecodeDTC(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{`"P0404"`, "P0404"},
		{`"p0404"`, "P0404"},
		{`"c0035"`, "C0035"},
		{`"b1a2f"`, "B1A2F"},
		{`"U0100"`, "U0100"},
		{`"P3FFF"`, "P3FFF"},
		{`" p0420 "`, "P0420"},
		{`"\tP0300\n"`, "P0300"},
		{`"\u0050\u0030404"`, "P0404"},
	} {
		t.Run(tc.value, func(t *testing.T) {
			got, err := DecodeDTC(dtcMsg(tc.value))
			if err != nil {
				t.Fatal(err)
			}
			if got.Code != tc.want || got.VIN != "MQYK4Z8WGTJDFDA05" || got.TripID != "trip-1" {
				t.Errorf("DecodeDTC(%s) = %+v, want code %s", tc.value, got, tc.want)
			}
		})
	}
	// Any of the three timestamp forms.
	for _, ts := range []string{`"2021-03-06T08:14:33.087Z"`, `1615018473087`, `"1615018473087"`} {
		got, err := DecodeDTC([]byte(`{"timestamp":` + ts + `,"vin":"X1","value":"P0404"}`))
		if err != nil || !got.Time.Equal(utc(2021, 3, 6, 8, 14, 33, 87_000_000)) {
			t.Errorf("timestamp %s: %v, %v", ts, got.Time, err)
		}
	}
}

func TestDecodeDTCRejects(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		reason Reason
	}{
		{"four characters", dtcMsg(`"P040"`), ReasonBadCode},
		{"six characters", dtcMsg(`"P04044"`), ReasonBadCode},
		{"unknown system", dtcMsg(`"X0404"`), ReasonBadCode},
		{"second character above 3", dtcMsg(`"P4000"`), ReasonBadCode},
		{"not hexadecimal", dtcMsg(`"P04G4"`), ReasonBadCode},
		{"lower-case letter that is not hexadecimal", dtcMsg(`"p0z04"`), ReasonBadCode},
		{"empty", dtcMsg(`""`), ReasonBadCode},
		{"null", dtcMsg(`null`), ReasonBadCode},
		{"two codes", dtcMsg(`"P0404 P0420"`), ReasonBadCode},
		{"full-width letters", dtcMsg(`"Ｐ0404"`), ReasonBadCode},
		{"dotless i that upper-cases to ASCII", dtcMsg(`"ı0404"`), ReasonBadCode},
		{"number", dtcMsg(`404`), ReasonWrongType},
		{"array", dtcMsg(`["P0404"]`), ReasonWrongType},
		{"object", dtcMsg(`{"code":"P0404"}`), ReasonWrongType},
		{"missing value", []byte(`{"timestamp":"2021-03-06 08:14:33","vin":"X1","name":"dtc"}`), ReasonWrongType},
		{"missing vin", []byte(`{"timestamp":"2021-03-06 08:14:33","name":"dtc","value":"P0404"}`), ReasonMissingVIN},
		{"hostile vin", []byte(`{"timestamp":"2021-03-06 08:14:33","vin":"X1'--","value":"P0404"}`), ReasonMissingVIN},
		{"bad timestamp", []byte(`{"timestamp":"06/03/2021","vin":"X1","value":"P0404"}`), ReasonBadTimestamp},
		{"invalid JSON", []byte(`{"vin":"X1",`), ReasonInvalidJSON},
		{"top-level array", []byte(`["P0404"]`), ReasonInvalidJSON},
		{"too large", dtcMsg(`"` + strings.Repeat("P", MaxMessageBytes) + `"`), ReasonTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeDTC(tc.in)
			assertReason(t, err, tc.reason)
		})
	}
}

func TestValidDTCCode(t *testing.T) {
	for code, want := range map[string]bool{
		"P0404": true, "C3FFF": true, "B0000": true, "U2ABC": true,
		"p0404": false, "P0404 ": false, "P040": false, "P4000": false, "A0404": false, "P0G00": false, "": false,
	} {
		if got := ValidDTCCode(code); got != want {
			t.Errorf("ValidDTCCode(%q) = %v, want %v", code, got, want)
		}
	}
}
