package tripstate

import (
	"bytes"
	"testing"
	"time"

	"github.com/lovoo/goka/tester"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors/internal/processortest"
)

const (
	vin   = "5JO226H6QR3J3T7TI"
	trip1 = "c6bacef5-1bfc-4a72-8261-6c1272772f13"
	trip2 = "7f2d3c1a-0000-4000-8000-000000000002"
	trip0 = "00000000-0000-4000-8000-000000000000"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := codecs.ParseTime([]byte(s))
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return ts
}

// TestProcessor feeds one vehicle's aggregates, in and out of order, duplicated and mixed with
// poison messages, through the group under goka's tester and checks the table after each.
func TestProcessor(t *testing.T) {
	base := processortest.Payload(t, "trip-aggregate.json")
	at := func(ts string, kv ...any) []byte {
		return processortest.Set(t, base, append([]any{"timestamp", ts}, kv...)...)
	}

	type want struct {
		trip      string
		updated   string
		start     string
		end       string
		trips     int
		speedMean float64
	}
	first := want{trip: trip1, updated: "2021-03-06 08:13:04.981", start: "2021-03-06T07:40:02.454Z", trips: 1, speedMean: 64.10065503146477}
	later := first
	later.updated, later.speedMean = "2021-03-06 08:14:34.981", 70
	ended := later
	ended.updated, ended.end, ended.speedMean = "2021-03-06 08:20:00", "2021-03-06 08:20:00", 71
	next := want{trip: trip2, updated: "2021-03-06 09:00:00", start: "2021-03-06T08:55:00Z", trips: 2, speedMean: 50}

	steps := []struct {
		name       string
		key        string
		value      []byte
		want       want
		deadLetter codecs.Reason // "" when the message must be applied or ignored
	}{
		{name: "fixture", key: vin, value: base, want: first},
		{name: "duplicate", key: vin, value: base, want: first},
		{name: "same time other values", key: vin, value: processortest.Set(t, base, "vehicle_speed_mean", 99), want: first},
		{name: "older aggregate ignored", key: vin, value: at("2021-03-06 08:11:34.981", "vehicle_speed_mean", 10), want: first},
		{name: "garbage", key: vin, value: []byte("\x00not json{"), want: first, deadLetter: codecs.ReasonInvalidJSON},
		{name: "empty value", key: vin, value: []byte{}, want: first, deadLetter: codecs.ReasonInvalidJSON},
		{name: "no vin", key: vin, value: processortest.Modify(t, base, func(m map[string]any) { delete(m, "vin") }), want: first, deadLetter: codecs.ReasonMissingVIN},
		{name: "wrong value type", key: vin, value: processortest.Set(t, base, "vehicle_speed_mean", "fast"), want: first, deadLetter: codecs.ReasonInvalidJSON},
		{name: "bad timestamp", key: vin, value: processortest.Set(t, base, "timestamp", "yesterday"), want: first, deadLetter: codecs.ReasonBadTimestamp},
		{name: "key mismatch", key: "OTHERVIN000000000", value: at("2021-03-06 08:30:00"), want: first, deadLetter: codecs.ReasonKeyMismatch},
		{name: "no key", key: "", value: at("2021-03-06 08:30:00"), want: first, deadLetter: codecs.ReasonKeyMismatch},
		// goka drops nil values before the callback by default (NilIgnore); nothing to dead-letter.
		{name: "tombstone", key: vin, value: nil, want: first},
		{name: "newer aggregate", key: vin, value: at("2021-03-06 08:14:34.981", "vehicle_speed_mean", 70), want: later},
		{name: "trip end", key: vin, value: at("2021-03-06 08:20:00", "vehicle_speed_mean", 71, "end_time", "2021-03-06 08:20:00.000000000"), want: ended},
		{name: "late aggregate of ended trip", key: vin, value: at("2021-03-06 08:19:00", "vehicle_speed_mean", 1), want: ended},
		{name: "next trip", key: vin, value: at("2021-03-06 09:00:00", "trip_id", trip2, "start_time", "2021-03-06T08:55:00Z", "vehicle_speed_mean", 50), want: next},
		{name: "next trip redelivered", key: vin, value: at("2021-03-06 09:00:00", "trip_id", trip2, "start_time", "2021-03-06T08:55:00Z", "vehicle_speed_mean", 50), want: next},
		{name: "late aggregate of an older trip", key: vin, value: at("2021-03-06 07:00:00", "trip_id", trip0), want: next},
	}

	tt := tester.New(t)
	processortest.Start(t, tt, Define(DefaultConfig()))
	dead := tt.NewQueueTracker("dead-letters")

	for _, step := range steps {
		offset := tt.NewQueueTracker("trips").Hwm()
		tt.Consume("trips", step.key, step.value)

		got, _ := tt.TableValue(Table, vin).(*codecs.TripState)
		if got == nil {
			t.Fatalf("%s: no table value for %s", step.name, vin)
		}
		w := step.want
		if got.TripID != w.trip || !got.UpdatedAt.Equal(mustTime(t, w.updated)) || !got.StartTime.Equal(mustTime(t, w.start)) ||
			got.Trips != w.trips || got.Latest.VehicleSpeedMean != w.speedMean {
			t.Errorf("%s: state trip=%s updated=%s start=%s trips=%d speed_mean=%v; want %+v",
				step.name, got.TripID, got.UpdatedAt, got.StartTime, got.Trips, got.Latest.VehicleSpeedMean, w)
		}
		switch {
		case w.end == "" && got.EndTime != nil:
			t.Errorf("%s: end time %s, want none", step.name, got.EndTime)
		case w.end != "" && (got.EndTime == nil || !got.EndTime.Equal(mustTime(t, w.end))):
			t.Errorf("%s: end time %v, want %s", step.name, got.EndTime, w.end)
		}
		if got.Latitude != 38.938734 || got.Longitude != -77.269385 || got.VIN != vin {
			t.Errorf("%s: position/vin %v,%v %s", step.name, got.Latitude, got.Longitude, got.VIN)
		}

		letters := processortest.Drain(dead)
		if step.deadLetter == "" {
			if len(letters) != 0 {
				t.Errorf("%s: unexpected dead letters %+v", step.name, letters)
			}
			continue
		}
		if len(letters) != 1 {
			t.Fatalf("%s: %d dead letters, want 1", step.name, len(letters))
		}
		dl := letters[0].(*codecs.DeadLetter)
		if dl.Reason != step.deadLetter || dl.Stage != string(Group) || dl.Topic != "trips" || dl.Key != step.key ||
			dl.Offset != offset || !bytes.Equal(dl.Value, step.value) || dl.Time.IsZero() {
			t.Errorf("%s: dead letter %+v; want reason %s, offset %d and the original bytes", step.name, dl, step.deadLetter, offset)
		}
	}
	if keys := tt.GetTableKeys(Table); len(keys) != 1 {
		t.Errorf("table keys %v, want only %s (a mismatched key must not create state)", keys, vin)
	}
}

func TestApply(t *testing.T) {
	t0 := time.Date(2021, 3, 6, 8, 0, 0, 0, time.UTC)
	end := t0.Add(time.Hour)
	agg := func(trip string, at time.Duration, start time.Time) codecs.TripAggregate {
		return codecs.TripAggregate{VIN: vin, TripID: trip, Time: t0.Add(at), StartTime: start}
	}
	state := func(trip string, updated time.Duration, start time.Time, trips int, endTime *time.Time) *codecs.TripState {
		return &codecs.TripState{VIN: vin, TripID: trip, UpdatedAt: t0.Add(updated), StartTime: start, Trips: trips, EndTime: endTime}
	}
	withEnd := func(a codecs.TripAggregate) codecs.TripAggregate { a.EndTime = &end; return a }

	tests := []struct {
		name        string
		prev        *codecs.TripState
		agg         codecs.TripAggregate
		changed     bool
		trips       int
		start       time.Time
		wantEndTime bool
	}{
		{"first aggregate", nil, agg(trip1, 0, t0), true, 1, t0, false},
		{"equal time is idempotent", state(trip1, 0, t0, 1, nil), agg(trip1, 0, t0), false, 1, t0, false},
		{"older is ignored", state(trip1, time.Minute, t0, 1, nil), agg(trip1, 0, t0), false, 1, t0, false},
		{"newer same trip keeps earliest start", state(trip1, 0, t0, 1, nil), agg(trip1, time.Minute, t0.Add(time.Minute)), true, 1, t0, false},
		{"end time recorded", state(trip1, 0, t0, 1, nil), withEnd(agg(trip1, time.Hour, t0)), true, 1, t0, true},
		{"ended trip stays ended", state(trip1, time.Hour, t0, 1, &end), agg(trip1, 2*time.Hour, t0), true, 1, t0, true},
		{"new trip counts and resets end", state(trip1, time.Hour, t0, 3, &end), agg(trip2, 2*time.Hour, t0.Add(2*time.Hour)), true, 4, t0.Add(2 * time.Hour), false},
		{"older aggregate of another trip is ignored", state(trip2, time.Hour, t0, 2, nil), agg(trip0, 0, t0), false, 2, t0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before codecs.TripState
			if tc.prev != nil {
				before = *tc.prev
			}
			next, changed := Apply(tc.prev, tc.agg)
			if changed != tc.changed || next.Trips != tc.trips || !next.StartTime.Equal(tc.start) || (next.EndTime != nil) != tc.wantEndTime {
				t.Errorf("Apply = changed %v trips %d start %s end %v; want changed %v trips %d start %s end %v",
					changed, next.Trips, next.StartTime, next.EndTime, tc.changed, tc.trips, tc.start, tc.wantEndTime)
			}
			if tc.prev != nil && *tc.prev != before {
				t.Error("Apply modified prev")
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	err := Config{}.Validate()
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("Trips is empty")) || !bytes.Contains([]byte(err.Error()), []byte("DeadLetters is empty")) {
		t.Errorf("empty config: %v; want both fields named", err)
	}
}
