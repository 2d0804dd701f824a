package codecs

import (
	"errors"
	"strings"
	"testing"
)

// v2 returns a v2 single-signal message of a fixed vehicle with the given name and value
// fields (raw JSON) and timestamp (raw JSON).
func v2(name, value, timestamp string) []byte {
	return []byte(`{"timestamp":` + timestamp + `,"trip_id":"trip-1","vin":"5JO226H6QR3J3T7TI","name":` + name + `,"value":` + value + `}`)
}

const tickTime = `"2026-05-04 10:21:07.250000000"`

// tick returns a v3 tick of a fixed vehicle with the given extra attributes (raw JSON members).
func tick(attrs string) []byte {
	return []byte(`{"timestamp":` + tickTime + `,"trip_id":"t3","VIN":"WDD2QF7SK5N7D0KR3",` + attrs + `,"_id_":"Xk3_pQ9"}`)
}

func TestDecodeTelemetryFixtures(t *testing.T) {
	const (
		vin2  = "5JO226H6QR3J3T7TI"
		trip2 = "c6bacef5-1bfc-4a72-8261-6c1272772f13"
		vin3  = "WDD2QF7SK5N7D0KR3"
		trip3 = "V1StGXR8_Z5jdHi6B-myT"
	)
	t2 := utc(2021, 3, 6, 8, 13, 5, 112_000_000)
	t3 := utc(2026, 5, 4, 10, 21, 7, 250_000_000)
	sig3 := func(name string, v Value) Signal {
		return Signal{VIN: vin3, TripID: trip3, Name: name, Value: v, Time: t3}
	}
	tests := []struct {
		file string
		want []Signal
	}{
		{"telemetry-speed.json", []Signal{{
			VIN: "1NXBR32E84Z995078", TripID: "799fc110-fee2-43b2-a6ed-a504fa77931a",
			Name: SignalVehicleSpeed, Value: Number(47.4), Time: utc(2018, 2, 15, 8, 20, 18, 0),
		}}},
		{"telemetry-vehicle-speed.json", []Signal{{VIN: vin2, TripID: trip2, Name: SignalVehicleSpeed, Value: Number(64.2), Time: t2}}},
		{"telemetry-gear.json", []Signal{{VIN: vin2, TripID: trip2, Name: SignalTransmissionGearPosition, Value: String("fifth"), Time: t2}}},
		{"telemetry-bool.json", []Signal{{VIN: vin2, TripID: trip2, Name: SignalBrakePedalStatus, Value: Bool(false), Time: t2}}},
		{"telemetry-location.json", []Signal{{VIN: vin2, TripID: trip2, Name: SignalLocation, Value: Location(38.938734, -77.269385), Time: t2}}},
		{"v3-vehicle-tick.json", []Signal{
			sig3(SignalAcceleration, Number(0.4213)),
			sig3(SignalAcceleratorPedalPosition, Number(31.5)),
			sig3(SignalBrake, Number(0)),
			sig3(SignalBrakePedalStatus, Bool(false)),
			sig3(SignalEngineSpeed, Number(2310.55)),
			sig3(SignalFuelConsumedSinceRestart, Number(1.204117)),
			sig3(SignalFuelLevel, Number(63.41)),
			sig3(SignalGearLeverPosition, String("drive")),
			sig3(SignalIgnitionStatus, String("run")),
			sig3(SignalLocation, Location(52.520008, 13.404954)),
			sig3(SignalOdometer, Number(412.338)),
			sig3(SignalOilTemp, Number(221.7)),
			sig3(SignalParkingBrakeStatus, Bool(false)),
			sig3(SignalSteeringWheelAngle, Number(12.4)),
			sig3(SignalTorqueAtTransmission, Number(182.3)),
			sig3(SignalTransmissionGearPosition, String("fourth")),
			sig3(SignalVehicleSpeed, Number(72.18)),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := DecodeTelemetry(fixture(t, tc.file))
			if err != nil {
				t.Fatalf("DecodeTelemetry: %v", err)
			}
			assertSignals(t, got, tc.want)
		})
	}
}

func TestDecodeTelemetry(t *testing.T) {
	const vin = "5JO226H6QR3J3T7TI"
	ts := `"2021-03-06 08:13:05.112000000"`
	at := utc(2021, 3, 6, 8, 13, 5, 112_000_000)
	one := func(name string, v Value) []Signal {
		return []Signal{{VIN: vin, TripID: "trip-1", Name: name, Value: v, Time: at}}
	}
	tickSig := func(name string, v Value) Signal {
		return Signal{VIN: "WDD2QF7SK5N7D0KR3", TripID: "t3", Name: name, Value: v, Time: utc(2026, 5, 4, 10, 21, 7, 250_000_000)}
	}
	tests := []struct {
		name string
		in   []byte
		want []Signal
	}{
		{"v2 number", v2(`"engine_speed"`, `3077.5`, ts), one(SignalEngineSpeed, Number(3077.5))},
		{"v2 integer", v2(`"brake"`, `0`, ts), one(SignalBrake, Number(0))},
		{"v2 negative exponent", v2(`"acceleration"`, `-1.5e-3`, ts), one(SignalAcceleration, Number(-0.0015))},
		{"v2 string", v2(`"ignition_status"`, `"run"`, ts), one(SignalIgnitionStatus, String("run"))},
		{"v2 bool", v2(`"parking_brake_status"`, `true`, ts), one(SignalParkingBrakeStatus, Bool(true))},
		{"speed alias", v2(`"speed"`, `47.4`, ts), one(SignalVehicleSpeed, Number(47.4))},
		{"capitalised speed alias", v2(`"Speed"`, `47.4`, ts), one(SignalVehicleSpeed, Number(47.4))},
		{"camelCase name", v2(`"engineSpeed"`, `800`, ts), one(SignalEngineSpeed, Number(800))},
		{"PascalCase name", v2(`"OilTemp"`, `221.7`, ts), one(SignalOilTemp, Number(221.7))},
		{"unknown signal keeps its number", v2(`"cabin_temp"`, `21.5`, ts), one("cabin_temp", Number(21.5))},
		{"unknown signal keeps its string", v2(`"wiperMode"`, `"auto"`, ts), one("wiper_mode", String("auto"))},
		{"unknown signal keeps its bool", v2(`"door.open"`, `false`, ts), one("door.open", Bool(false))},
		{"unknown signal keeps its location", v2(`"home"`, `{"latitude":1.5,"longitude":-2}`, ts), one("home", Location(1.5, -2))},
		{"location variant", []byte(`{"timestamp":` + ts + `,"trip_id":"trip-1","vin":"` + vin + `","name":"location","latitude":38.938734,"longitude":-77.269385}`),
			one(SignalLocation, Location(38.938734, -77.269385))},
		{"location as value object", v2(`"location"`, `{"latitude":38.938734,"longitude":-77.269385}`, ts), one(SignalLocation, Location(38.938734, -77.269385))},
		{"location at the origin", v2(`"location"`, `{"latitude":0,"longitude":0}`, ts), one(SignalLocation, Location(0, 0))},
		{"string with escapes and unicode", v2(`"gear_lever_position"`, `"dr\"ive \u00e9 ☃"`, ts), one(SignalGearLeverPosition, String(`dr"ive é ☃`))},
		{"invalid UTF-8 in a string value becomes U+FFFD", v2(`"gear_lever_position"`, "\"fi\xffth\"", ts), one(SignalGearLeverPosition, String("fi\uFFFDth"))},
		{"no trip id", []byte(`{"timestamp":` + ts + `,"vin":"` + vin + `","name":"vehicle_speed","value":1}`),
			[]Signal{{VIN: vin, Name: SignalVehicleSpeed, Value: Number(1), Time: at}}},
		{"upper-case VIN key", []byte(`{"timestamp":` + ts + `,"trip_id":"trip-1","VIN":"` + vin + `","name":"vehicle_speed","value":1}`),
			one(SignalVehicleSpeed, Number(1))},
		{"simulator VIN breaking ISO 3779", []byte(`{"timestamp":` + ts + `,"vin":"IOQ0000000000000Q","name":"brake","value":1}`),
			[]Signal{{VIN: "IOQ0000000000000Q", Name: SignalBrake, Value: Number(1), Time: at}}},
		{"whitespace around the message", []byte("\n\t " + string(v2(`"brake"`, `2`, ts)) + " \r\n"), one(SignalBrake, Number(2))},

		// The three timestamp forms.
		{"space format, nanoseconds, no zone is UTC", v2(`"brake"`, `1`, `"2021-03-06 08:13:05.123456789"`),
			[]Signal{{VIN: vin, TripID: "trip-1", Name: SignalBrake, Value: Number(1), Time: utc(2021, 3, 6, 8, 13, 5, 123456789)}}},
		{"space format without fraction", v2(`"brake"`, `1`, `"2021-03-06 08:13:05"`),
			[]Signal{{VIN: vin, TripID: "trip-1", Name: SignalBrake, Value: Number(1), Time: utc(2021, 3, 6, 8, 13, 5, 0)}}},
		{"RFC 3339 UTC with milliseconds", v2(`"brake"`, `1`, `"2021-03-06T08:13:05.112Z"`), one(SignalBrake, Number(1))},
		{"RFC 3339 with offset and microseconds", v2(`"brake"`, `1`, `"2021-03-06T10:13:05.112000+02:00"`), one(SignalBrake, Number(1))},
		{"RFC 3339 negative offset, no fraction", v2(`"brake"`, `1`, `"2021-03-06T03:13:05-05:00"`),
			[]Signal{{VIN: vin, TripID: "trip-1", Name: SignalBrake, Value: Number(1), Time: utc(2021, 3, 6, 8, 13, 5, 0)}}},
		{"epoch milliseconds as a number", v2(`"brake"`, `1`, `1615018385112`), one(SignalBrake, Number(1))},
		{"epoch milliseconds as a string", v2(`"brake"`, `1`, `"1615018385112"`), one(SignalBrake, Number(1))},

		// v3 ticks.
		{"tick with lower-case vin", []byte(`{"timestamp":` + tickTime + `,"vin":"WDD2QF7SK5N7D0KR3","trip_id":"t3","vehicleSpeed":72.18}`),
			[]Signal{tickSig(SignalVehicleSpeed, Number(72.18))}},
		{"tick skips null attributes", tick(`"vehicleSpeed":null,"oilTemp":221.7`), []Signal{tickSig(SignalOilTemp, Number(221.7))}},
		{"tick keeps unknown attributes", tick(`"cabinTemp":21,"brake":0`),
			[]Signal{tickSig(SignalBrake, Number(0)), tickSig("cabin_temp", Number(21))}},
		{"tick with epoch timestamp", []byte(`{"timestamp":1777890067250,"VIN":"WDD2QF7SK5N7D0KR3","trip_id":"t3","brake":1}`),
			[]Signal{tickSig(SignalBrake, Number(1))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeTelemetry(tc.in)
			if err != nil {
				t.Fatalf("DecodeTelemetry(%s): %v", tc.in, err)
			}
			assertSignals(t, got, tc.want)
		})
	}
}

func TestDecodeTelemetryRejects(t *testing.T) {
	ts := `"2021-03-06 08:13:05.112000000"`
	withVIN := func(vin string) []byte {
		return []byte(`{"timestamp":` + ts + `,"vin":` + vin + `,"name":"vehicle_speed","value":1}`)
	}
	deep := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	tooLarge := v2(`"gear_lever_position"`, `"`+strings.Repeat("x", MaxMessageBytes)+`"`, ts)
	tests := []struct {
		name   string
		in     []byte
		reason Reason
	}{
		{"empty", []byte(""), ReasonInvalidJSON},
		{"whitespace", []byte(" \n"), ReasonInvalidJSON},
		{"not JSON", []byte("\x00not json{"), ReasonInvalidJSON},
		{"truncated", v2(`"brake"`, `1`, ts)[:40], ReasonInvalidJSON},
		{"trailing comma", []byte(`{"name":"brake","value":1,}`), ReasonInvalidJSON},
		{"trailing garbage", append(v2(`"brake"`, `1`, ts), '}'), ReasonInvalidJSON},
		{"two documents", append(v2(`"brake"`, `1`, ts), v2(`"brake"`, `1`, ts)...), ReasonInvalidJSON},
		{"invalid UTF-8 outside strings", append([]byte{0xff}, v2(`"brake"`, `1`, ts)...), ReasonInvalidJSON},
		{"raw newline inside a string", v2(`"gear_lever_position"`, "\"fi\nfth\"", ts), ReasonInvalidJSON},
		{"NaN literal", v2(`"brake"`, `NaN`, ts), ReasonInvalidJSON},
		{"hex number", v2(`"brake"`, `0x10`, ts), ReasonInvalidJSON},

		// Arrays and other non-object messages.
		{"top-level array", []byte(`[]`), ReasonInvalidJSON},
		{"batch of messages", []byte(`[` + string(v2(`"brake"`, `1`, ts)) + `]`), ReasonInvalidJSON},
		{"top-level string", []byte(`"speed"`), ReasonInvalidJSON},
		{"top-level number", []byte(`47.4`), ReasonInvalidJSON},
		{"top-level null", []byte(`null`), ReasonMissingVIN},
		{"empty object", []byte(`{}`), ReasonMissingVIN},

		// Deeply nested JSON.
		{"nesting beyond the decoder's depth limit", v2(`"brake"`, deep, ts), ReasonInvalidJSON},
		{"nested array value", v2(`"brake"`, `[[[[[[[[1]]]]]]]]`, ts), ReasonWrongType},
		{"nested object value", v2(`"brake"`, `{"a":{"b":{"c":{"d":1}}}}`, ts), ReasonWrongType},
		{"nested object in a tick", tick(`"location":{"latitude":{"deg":1},"longitude":2}`), ReasonWrongType},

		// VINs.
		{"missing vin", []byte(`{"timestamp":` + ts + `,"name":"vehicle_speed","value":1}`), ReasonMissingVIN},
		{"empty vin", withVIN(`""`), ReasonMissingVIN},
		{"null vin", withVIN(`null`), ReasonMissingVIN},
		{"number vin", withVIN(`12345678901234567`), ReasonInvalidJSON},
		{"vin with a space", withVIN(`"1NXBR32E8 4Z995078"`), ReasonMissingVIN},
		{"vin with a path", withVIN(`"../../etc/passwd"`), ReasonMissingVIN},
		{"vin with markup", withVIN(`"<script>alert(1)</script>"`), ReasonMissingVIN},
		{"vin with a newline", withVIN(`"1NXBR32E\n84Z995078"`), ReasonMissingVIN},
		{"vin with a NUL", withVIN(`"1NXBR32E\u000084Z995078"`), ReasonMissingVIN},
		{"vin with a wildcard", withVIN(`"1NXBR32E*"`), ReasonMissingVIN},
		{"vin with non-ASCII letters", withVIN(`"ÄNXBR32E84Z995078"`), ReasonMissingVIN},
		{"vin with invalid UTF-8", withVIN("\"1NXBR32E\xff84Z995078\""), ReasonMissingVIN},
		{"vin of 65 characters", withVIN(`"` + strings.Repeat("A", 65) + `"`), ReasonMissingVIN},
		{"tick without VIN", []byte(`{"timestamp":` + tickTime + `,"brake":0}`), ReasonMissingVIN},
		{"tick with number VIN", []byte(`{"timestamp":` + tickTime + `,"VIN":5,"brake":0}`), ReasonInvalidJSON},
		{"tick with hostile VIN", []byte(`{"timestamp":` + tickTime + `,"VIN":"a b","brake":0}`), ReasonMissingVIN},

		// Signal names.
		{"empty name", v2(`""`, `1`, ts), ReasonBadName},
		{"name with a space", v2(`"vehicle speed"`, `1`, ts), ReasonBadName},
		{"name with a slash", v2(`"../speed"`, `1`, ts), ReasonBadName},
		{"name with invalid UTF-8", v2("\"spe\xffed\"", `1`, ts), ReasonBadName},
		{"name of 65 characters", v2(`"`+strings.Repeat("a", 65)+`"`, `1`, ts), ReasonBadName},
		{"name growing past the limit in snake_case", v2(`"`+strings.Repeat("aB", 32)+`"`, `1`, ts), ReasonBadName},
		{"number name", v2(`5`, `1`, ts), ReasonInvalidJSON},
		{"tick attribute with a bad name", tick(`"bad key!":1`), ReasonBadName},

		// Wrong kind of value for a known signal.
		{"number signal with a string", v2(`"vehicle_speed"`, `"fast"`, ts), ReasonWrongType},
		{"number signal with a bool", v2(`"vehicle_speed"`, `true`, ts), ReasonWrongType},
		{"number signal with a numeric string", v2(`"vehicle_speed"`, `"47.4"`, ts), ReasonWrongType},
		{"number signal with a location", v2(`"vehicle_speed"`, `{"latitude":1,"longitude":2}`, ts), ReasonWrongType},
		{"bool signal with a number", v2(`"brake_pedal_status"`, `1`, ts), ReasonWrongType},
		{"bool signal with a string", v2(`"brake_pedal_status"`, `"false"`, ts), ReasonWrongType},
		{"string signal with a number", v2(`"transmission_gear_position"`, `5`, ts), ReasonWrongType},
		{"location with a string", v2(`"location"`, `"38.9,-77.2"`, ts), ReasonWrongType},
		{"location variant without longitude", []byte(`{"timestamp":` + ts + `,"vin":"X1","name":"location","latitude":38.9}`), ReasonWrongType},
		{"location object without longitude", v2(`"location"`, `{"latitude":38.9}`, ts), ReasonWrongType},
		{"location variant with a string latitude", []byte(`{"timestamp":` + ts + `,"vin":"X1","name":"location","latitude":"38.9","longitude":1}`), ReasonInvalidJSON},
		{"object that is not a location", v2(`"home"`, `{"a":1}`, ts), ReasonWrongType},
		{"array value", v2(`"vehicle_speed"`, `[47.4]`, ts), ReasonWrongType},
		{"missing value", []byte(`{"timestamp":` + ts + `,"vin":"X1","name":"vehicle_speed"}`), ReasonWrongType},
		{"null value", v2(`"vehicle_speed"`, `null`, ts), ReasonWrongType},
		{"null value of an unknown signal", v2(`"cabin_temp"`, `null`, ts), ReasonWrongType},
		{"huge number", v2(`"vehicle_speed"`, `1e400`, ts), ReasonWrongType},
		{"huge negative number", v2(`"vehicle_speed"`, `-1e400`, ts), ReasonWrongType},
		{"huge latitude", v2(`"location"`, `{"latitude":1e400,"longitude":0}`, ts), ReasonWrongType},
		{"huge latitude in the location variant", []byte(`{"timestamp":` + ts + `,"vin":"X1","name":"location","latitude":1e400,"longitude":0}`), ReasonInvalidJSON},
		{"tick attribute of the wrong kind", tick(`"vehicleSpeed":"fast"`), ReasonWrongType},
		{"tick attribute that is an array", tick(`"brake":[0]`), ReasonWrongType},
		{"tick attribute that is a huge number", tick(`"brake":1e400`), ReasonWrongType},

		// Timestamps.
		{"missing timestamp", []byte(`{"vin":"X1","name":"brake","value":1}`), ReasonBadTimestamp},
		{"null timestamp", v2(`"brake"`, `1`, `null`), ReasonBadTimestamp},
		{"empty timestamp", v2(`"brake"`, `1`, `""`), ReasonBadTimestamp},
		{"words", v2(`"brake"`, `1`, `"yesterday"`), ReasonBadTimestamp},
		{"date only", v2(`"brake"`, `1`, `"2021-03-06"`), ReasonBadTimestamp},
		{"RFC 3339 without zone", v2(`"brake"`, `1`, `"2021-03-06T08:13:05"`), ReasonBadTimestamp},
		{"space format with a zone", v2(`"brake"`, `1`, `"2021-03-06 08:13:05Z"`), ReasonBadTimestamp},
		{"no such day", v2(`"brake"`, `1`, `"2021-02-30 08:13:05"`), ReasonBadTimestamp},
		{"no such hour", v2(`"brake"`, `1`, `"2021-03-06 24:13:05"`), ReasonBadTimestamp},
		{"negative epoch", v2(`"brake"`, `1`, `-1`), ReasonBadTimestamp},
		{"fractional epoch", v2(`"brake"`, `1`, `1615018385112.5`), ReasonBadTimestamp},
		{"epoch in exponent form", v2(`"brake"`, `1`, `1.6e12`), ReasonBadTimestamp},
		{"epoch of 19 digits", v2(`"brake"`, `1`, `1615018385112000000`), ReasonBadTimestamp},
		{"epoch past year 9999", v2(`"brake"`, `1`, `999999999999999999`), ReasonBadTimestamp},
		{"bool timestamp", v2(`"brake"`, `1`, `true`), ReasonBadTimestamp},
		{"object timestamp", v2(`"brake"`, `1`, `{}`), ReasonBadTimestamp},
		{"tick without timestamp", []byte(`{"VIN":"WDD2QF7SK5N7D0KR3","brake":0}`), ReasonBadTimestamp},

		// Size and shape.
		{"too large", tooLarge, ReasonTooLarge},
		{"no signal at all", []byte(`{"timestamp":` + ts + `,"vin":"X1","trip_id":"t"}`), ReasonUnknownShape},
		{"tick of null attributes only", tick(`"brake":null,"oilTemp":null`), ReasonUnknownShape},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeTelemetry(tc.in)
			assertReason(t, err, tc.reason)
			if got != nil {
				t.Errorf("rejected message also returned signals: %+v", got)
			}
		})
	}
}

func TestDecodeTelemetryAtSizeLimit(t *testing.T) {
	msg := v2(`"brake"`, `1`, `"2021-03-06 08:13:05"`)
	padded := append(msg, []byte(strings.Repeat(" ", MaxMessageBytes-len(msg)))...)
	if _, err := DecodeTelemetry(padded); err != nil {
		t.Fatalf("message of exactly MaxMessageBytes: %v", err)
	}
	if _, err := DecodeTelemetry(append(padded, ' ')); !isReason(err, ReasonTooLarge) {
		t.Fatalf("message of MaxMessageBytes+1: %v, want %s", err, ReasonTooLarge)
	}
}

func TestDecodeTelemetryTickIsDeterministic(t *testing.T) {
	// Two attributes that name the same signal: the order they come out in must not depend on
	// map iteration, or the vehicle's state would depend on chance.
	in := tick(`"vehicleSpeed":1,"vehicle_speed":2,"speed":3,"VehicleSpeed":4`)
	first, err := DecodeTelemetry(in)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		got, err := DecodeTelemetry(in)
		if err != nil {
			t.Fatal(err)
		}
		assertSignals(t, got, first)
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	_, err := DecodeTelemetry(v2(`"vehicle_speed"`, `"fast"`, `"2021-03-06 08:13:05"`))
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %T is not a *DecodeError", err)
	}
	if got := err.Error(); !strings.HasPrefix(got, "wrong_type: ") || !strings.Contains(got, "vehicle_speed") {
		t.Errorf("Error() = %q, want the reason and the signal", got)
	}
	if got := (&DecodeError{Reason: ReasonTooLarge}).Error(); got != "too_large" {
		t.Errorf("Error() without detail = %q", got)
	}
	// A hostile VIN is quoted and truncated in the detail, never echoed whole.
	_, err = DecodeTelemetry([]byte(`{"timestamp":"2021-03-06 08:13:05","vin":"` + strings.Repeat("\\n", 500) + `","name":"brake","value":1}`))
	if !isReason(err, ReasonMissingVIN) || len(err.Error()) > 200 || strings.Contains(err.Error(), "\n") {
		t.Errorf("hostile vin detail: %q", err)
	}
}

func TestCanonicalSignal(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"vehicle_speed", SignalVehicleSpeed, true},
		{"speed", SignalVehicleSpeed, true},
		{"Speed", SignalVehicleSpeed, true},
		{"vehicleSpeed", SignalVehicleSpeed, true},
		{"VehicleSpeed", SignalVehicleSpeed, true},
		{"steeringWheelAngle", SignalSteeringWheelAngle, true},
		{"fuelConsumedSinceRestart", SignalFuelConsumedSinceRestart, true},
		{"oil_temp", SignalOilTemp, true},
		{"cabin_temp", "cabin_temp", true},
		{"cabinTemp", "cabin_temp", true},
		{"tyre-pressure.front_left", "tyre-pressure.front_left", true},
		{"snake_Case", "snake_case", true},
		{"a1", "a1", true},
		{strings.Repeat("a", 64), strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), "", false},
		{strings.Repeat("aB", 32), "", false}, // 64 characters that grow to 96 in snake_case
		{"", "", false},
		{"vehicle speed", "", false},
		{"speed!", "", false},
		{"spéed", "", false},
		{"a/b", "", false},
	}
	for _, tc := range tests {
		got, ok := CanonicalSignal(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("CanonicalSignal(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
		if ok {
			// Canonical names are fixed points: a name that went through once stays as it is.
			if again, ok2 := CanonicalSignal(got); again != got || !ok2 {
				t.Errorf("CanonicalSignal(%q) = %q, %v; canonical names must map to themselves", got, again, ok2)
			}
		}
	}
}

func TestSignalKind(t *testing.T) {
	for name, want := range map[string]Kind{
		SignalVehicleSpeed:             KindNumber,
		SignalBrakePedalStatus:         KindBool,
		SignalTransmissionGearPosition: KindString,
		SignalLocation:                 KindLocation,
	} {
		if got, ok := SignalKind(name); got != want || !ok {
			t.Errorf("SignalKind(%s) = %s, %v; want %s", name, got, ok, want)
		}
	}
	if _, ok := SignalKind("cabin_temp"); ok {
		t.Error("SignalKind knows cabin_temp")
	}
	for name := range knownSignals {
		if c, ok := CanonicalSignal(name); c != name || !ok {
			t.Errorf("known signal %s is not canonical: %q", name, c)
		}
	}
	for alias, name := range signalAliases {
		if _, ok := knownSignals[name]; !ok {
			t.Errorf("alias %s maps to %s, which is not a known signal", alias, name)
		}
	}
}

func assertSignals(t *testing.T, got, want []Signal) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d signals, want %d:\ngot  %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.VIN != w.VIN || g.TripID != w.TripID || g.Name != w.Name || !g.Value.Equal(w.Value) || !g.Time.Equal(w.Time) {
			t.Errorf("signal %d:\ngot  %+v\nwant %+v", i, g, w)
		}
		checkSignalInvariants(t, g)
	}
}

func assertReason(t *testing.T, err error, want Reason) {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error = %v (%T), want a *DecodeError with reason %s", err, err, want)
	}
	if de.Reason != want {
		t.Fatalf("reason = %s (%v), want %s", de.Reason, de, want)
	}
}

func isReason(err error, r Reason) bool {
	var de *DecodeError
	return errors.As(err, &de) && de.Reason == r
}
