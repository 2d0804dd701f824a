package codecs

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// tripMsg returns the trip-aggregate fixture with fields set (raw JSON values) or, for an
// empty value, removed.
func tripMsg(t *testing.T, set map[string]string) []byte {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(fixture(t, "trip-aggregate.json"), &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = json.RawMessage(v)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeTripFixture(t *testing.T) {
	got, err := DecodeTrip(fixture(t, "trip-aggregate.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := TripAggregate{
		VIN: "5JO226H6QR3J3T7TI", TripID: "c6bacef5-1bfc-4a72-8261-6c1272772f13",
		Time:                         utc(2021, 3, 6, 8, 13, 4, 981_000_000),
		StartTime:                    utc(2021, 3, 6, 7, 40, 2, 454_000_000),
		VehicleSpeedMean:             64.10065503146477,
		EngineSpeedMean:              3077.59476197646,
		TorqueAtTransmissionMean:     210.70915084517395,
		OilTempMean:                  237.417022870719,
		AcceleratorPedalPositionMean: 28.819512721817887,
		BrakeMean:                    4.268754736044446,
		HighSpeedDuration:            0,
		HighAccelerationEvents:       3,
		HighBrakingEvents:            0,
		IdleDuration:                 75323,
		IgnitionStatus:               "run",
		BrakePedalStatus:             false,
		TransmissionGearPosition:     "fifth",
		Odometer:                     35.27425650210172,
		FuelLevel:                    97.7129231345363,
		FuelConsumedSinceRestart:     0.9155057461854811,
		Latitude:                     38.938734,
		Longitude:                    -77.269385,
	}
	assertTrip(t, got, want)
}

func TestDecodeTrip(t *testing.T) {
	fixtureTime := utc(2021, 3, 6, 8, 13, 4, 981_000_000)
	tests := []struct {
		name      string
		set       map[string]string
		wantStart time.Time
		wantEnd   *time.Time
	}{
		{"end_time absent", nil, utc(2021, 3, 6, 7, 40, 2, 454_000_000), nil},
		{"end_time null", map[string]string{"end_time": `null`}, utc(2021, 3, 6, 7, 40, 2, 454_000_000), nil},
		{"end_time in the space format", map[string]string{"end_time": `"2021-03-06 08:30:00.000000000"`},
			utc(2021, 3, 6, 7, 40, 2, 454_000_000), ptr(utc(2021, 3, 6, 8, 30, 0, 0))},
		{"end_time RFC 3339 with offset", map[string]string{"end_time": `"2021-03-06T09:30:00.5+01:00"`},
			utc(2021, 3, 6, 7, 40, 2, 454_000_000), ptr(utc(2021, 3, 6, 8, 30, 0, 500_000_000))},
		{"end_time epoch milliseconds", map[string]string{"end_time": `1615019400000`},
			utc(2021, 3, 6, 7, 40, 2, 454_000_000), ptr(utc(2021, 3, 6, 8, 30, 0, 0))},
		{"start_time RFC 3339 with offset", map[string]string{"start_time": `"2021-03-06T02:40:02.454-05:00"`},
			utc(2021, 3, 6, 7, 40, 2, 454_000_000), nil},
		{"start_time in the space format", map[string]string{"start_time": `"2021-03-06 07:40:02"`}, utc(2021, 3, 6, 7, 40, 2, 0), nil},
		{"start_time absent is the aggregate's time", map[string]string{"start_time": ""}, fixtureTime, nil},
		{"start_time null is the aggregate's time", map[string]string{"start_time": `null`}, fixtureTime, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeTrip(tripMsg(t, tc.set))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(fixtureTime) || !got.StartTime.Equal(tc.wantStart) {
				t.Errorf("time %v, start %v; want %v, %v", got.Time, got.StartTime, fixtureTime, tc.wantStart)
			}
			switch {
			case tc.wantEnd == nil && got.EndTime != nil:
				t.Errorf("end time %v, want none", *got.EndTime)
			case tc.wantEnd != nil && (got.EndTime == nil || !got.EndTime.Equal(*tc.wantEnd)):
				t.Errorf("end time %v, want %v", got.EndTime, *tc.wantEnd)
			}
			checkTime(t, got.StartTime)
			if got.EndTime != nil {
				checkTime(t, *got.EndTime)
			}
		})
	}
}

func TestDecodeTripMissingNumbersAreZero(t *testing.T) {
	got, err := DecodeTrip([]byte(`{"vin":"X1","trip_id":"t","timestamp":"2021-03-06 08:13:05"}`))
	if err != nil {
		t.Fatal(err)
	}
	assertTrip(t, got, TripAggregate{VIN: "X1", TripID: "t", Time: utc(2021, 3, 6, 8, 13, 5, 0), StartTime: utc(2021, 3, 6, 8, 13, 5, 0)})
}

func TestDecodeTripRejects(t *testing.T) {
	tests := []struct {
		name   string
		in     func(t *testing.T) []byte
		reason Reason
	}{
		{"invalid JSON", raw("{not json"), ReasonInvalidJSON},
		{"empty", raw(""), ReasonInvalidJSON},
		{"array", raw(`[{"vin":"X1"}]`), ReasonInvalidJSON},
		{"too large", raw(`{"vin":"X1","pad":"` + strings.Repeat(" ", MaxMessageBytes) + `"}`), ReasonTooLarge},
		{"deeply nested", raw(`{"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`), ReasonInvalidJSON},
		{"wrong value type", set(map[string]string{"vehicle_speed_mean": `"fast"`}), ReasonInvalidJSON},
		{"huge number", set(map[string]string{"vehicle_speed_mean": `1e400`}), ReasonInvalidJSON},
		{"missing vin", set(map[string]string{"vin": ""}), ReasonMissingVIN},
		{"null vin", set(map[string]string{"vin": `null`}), ReasonMissingVIN},
		{"hostile vin", set(map[string]string{"vin": `"5JO226H6QR3J3T7TI; DROP TABLE"`}), ReasonMissingVIN},
		{"missing trip id", set(map[string]string{"trip_id": ""}), ReasonUnknownShape},
		{"empty trip id", set(map[string]string{"trip_id": `""`}), ReasonUnknownShape},
		{"trip id of 129 bytes", set(map[string]string{"trip_id": `"` + strings.Repeat("t", 129) + `"`}), ReasonUnknownShape},
		{"missing timestamp", set(map[string]string{"timestamp": ""}), ReasonBadTimestamp},
		{"bad timestamp", set(map[string]string{"timestamp": `"yesterday"`}), ReasonBadTimestamp},
		{"bad start_time", set(map[string]string{"start_time": `"2021-03-06T07:40:02"`}), ReasonBadTimestamp},
		{"bad end_time", set(map[string]string{"end_time": `"soon"`}), ReasonBadTimestamp},
		{"end_time past year 9999", set(map[string]string{"end_time": `999999999999999999`}), ReasonBadTimestamp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTrip(tc.in(t))
			assertReason(t, err, tc.reason)
		})
	}
}

func raw(s string) func(*testing.T) []byte { return func(*testing.T) []byte { return []byte(s) } }

func set(fields map[string]string) func(*testing.T) []byte {
	return func(t *testing.T) []byte { return tripMsg(t, fields) }
}

func ptr[T any](v T) *T { return &v }

func assertTrip(t *testing.T, got, want TripAggregate) {
	t.Helper()
	if !got.Time.Equal(want.Time) || !got.StartTime.Equal(want.StartTime) {
		t.Errorf("times %v, %v; want %v, %v", got.Time, got.StartTime, want.Time, want.StartTime)
	}
	if (got.EndTime == nil) != (want.EndTime == nil) || got.EndTime != nil && !got.EndTime.Equal(*want.EndTime) {
		t.Errorf("end time %v, want %v", got.EndTime, want.EndTime)
	}
	got.Time, got.StartTime, got.EndTime = want.Time, want.StartTime, want.EndTime
	if got != want {
		t.Errorf("DecodeTrip:\ngot  %+v\nwant %+v", got, want)
	}
}
