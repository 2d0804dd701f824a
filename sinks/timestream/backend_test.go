package timestream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/internal/awsfake"
	"github.com/fleetstream/fleetstream/sinks"
)

func TestWriteMergesMeasurementsIntoMultiMeasureRecords(t *testing.T) {
	h := newHarness(t, Config{ExtraDimensions: []string{"fleet"}})
	t0 := base()
	var batch []sinks.Record
	for v := 0; v < 3; v++ {
		vin := fmt.Sprintf("VIN%d", v)
		for s := 0; s < 2; s++ { // two one-second buckets
			at := t0.Add(time.Duration(s) * time.Second)
			batch = append(batch,
				h.measurement(codecs.Measurement{VIN: vin, TripID: "trip-1", Name: "vehicle_speed", Value: num(50), Time: at.Add(100 * time.Millisecond), Dimensions: map[string]string{"fleet": "north"}}),
				h.measurement(codecs.Measurement{VIN: vin, TripID: "trip-1", Name: "engine_speed", Value: num(2000), Time: at.Add(200 * time.Millisecond), Dimensions: map[string]string{"fleet": "north"}}),
				h.measurement(codecs.Measurement{VIN: vin, TripID: "trip-1", Name: "brake_pedal_status", Value: codecs.Bool(true), Time: at.Add(300 * time.Millisecond), Dimensions: map[string]string{"fleet": "north"}}),
				h.measurement(codecs.Measurement{VIN: vin, TripID: "trip-1", Name: "gear_lever_position", Value: codecs.String("drive"), Time: at.Add(400 * time.Millisecond), Dimensions: map[string]string{"fleet": "north"}}),
				h.measurement(codecs.Measurement{VIN: vin, TripID: "trip-1", Name: "location", Value: codecs.Location(52.5, 13.4), Time: at.Add(500 * time.Millisecond), Dimensions: map[string]string{"fleet": "north"}}),
				// a newer speed in the same bucket wins over the first
				h.measurement(codecs.Measurement{VIN: vin, TripID: "trip-1", Name: "vehicle_speed", Value: num(51.5), Time: at.Add(900 * time.Millisecond), Dimensions: map[string]string{"fleet": "north"}}),
			)
		}
	}
	h.write(h.b, batch)

	recs := h.records("telemetry")
	if len(recs) != 6 {
		t.Fatalf("want 6 records (3 VINs × 2 buckets), got %d", len(recs))
	}
	for _, r := range recs {
		if r.MeasureName != "signals" || r.Time.Nanosecond() != 0 {
			t.Errorf("record %s at %s: want measure name signals at a whole second", r.MeasureName, r.Time)
		}
		if r.Dimensions["trip_id"] != "trip-1" || r.Dimensions["fleet"] != "north" || !strings.HasPrefix(r.Dimensions["vin"], "VIN") || len(r.Dimensions) != 3 {
			t.Errorf("dimensions %v", r.Dimensions)
		}
		want := map[string]awsfake.Measure{
			"vehicle_speed":       {Type: "DOUBLE", Value: "51.5"},
			"engine_speed":        {Type: "DOUBLE", Value: "2000"},
			"brake_pedal_status":  {Type: "BOOLEAN", Value: "true"},
			"gear_lever_position": {Type: "VARCHAR", Value: "drive"},
			"location_latitude":   {Type: "DOUBLE", Value: "52.5"},
			"location_longitude":  {Type: "DOUBLE", Value: "13.4"},
		}
		if fmt.Sprint(r.Measures) != fmt.Sprint(want) {
			t.Errorf("measures\n got %v\nwant %v", r.Measures, want)
		}
		// Version: newest event (900 ms into the bucket) << 21 | Σ(1+offset ms) of the five signals.
		newest := r.Time.Add(900 * time.Millisecond).UnixMilli()
		if wantV := newest<<21 | (901 + 201 + 301 + 401 + 501); r.Version != wantV {
			t.Errorf("version %d, want %d", r.Version, wantV)
		}
		if r.Writes != 1 {
			t.Errorf("record written %d times", r.Writes)
		}
	}

	reqs := h.fake.Requests("WriteRecords")
	if len(reqs) != 1 {
		t.Fatalf("want 1 WriteRecords call, got %d", len(reqs))
	}
	in := reqs[0].Write
	if in.DatabaseName != testDB || in.TableName != "telemetry" || len(in.Records) != 6 {
		t.Fatalf("request %s.%s with %d records", in.DatabaseName, in.TableName, len(in.Records))
	}
	c := in.CommonAttributes
	if c == nil || c.MeasureValueType != "MULTI" || c.TimeUnit != "MILLISECONDS" || c.MeasureName == nil || *c.MeasureName != "signals" {
		t.Fatalf("common attributes %+v", c)
	}
	// trip_id and fleet are shared by all records and go to CommonAttributes; vin differs.
	if len(c.Dimensions) != 2 {
		t.Errorf("common dimensions %v", c.Dimensions)
	}
	for _, r := range in.Records {
		if len(r.Dimensions) != 1 || r.Dimensions[0].Name != "vin" || r.Version == nil || r.MeasureValueType != "" || len(r.MeasureValues) != 6 {
			t.Errorf("record %+v", r)
		}
	}
	auth := reqs[0].Header.Get("Authorization")
	if !strings.Contains(auth, "Credential=AKIDFLEETSTREAMTEST/") || !strings.Contains(auth, "/eu-west-1/timestream/aws4_request") {
		t.Errorf("request not signed for eu-west-1/timestream with the static key: %s", auth)
	}
	if got := reqs[0].Header.Get("Content-Type"); got != "application/x-amz-json-1.0" {
		t.Errorf("content type %q", got)
	}
}

func TestRequestsHoldAtMost100Records(t *testing.T) {
	h := newHarness(t, Config{})
	t0 := base()
	var batch []sinks.Record
	for v := 0; v < 250; v++ {
		batch = append(batch, h.measurement(codecs.Measurement{VIN: fmt.Sprintf("VIN%03d", v), Name: "vehicle_speed", Value: num(float64(v)), Time: t0}))
	}
	h.write(h.b, batch)
	var sizes []int
	for _, r := range h.fake.Requests("WriteRecords") {
		sizes = append(sizes, len(r.Write.Records))
	}
	if fmt.Sprint(sizes) != "[100 100 50]" {
		t.Errorf("request sizes %v, want [100 100 50]", sizes)
	}
	if n := len(h.records("telemetry")); n != 250 {
		t.Errorf("%d records stored, want 250", n)
	}

	small := newHarness(t, Config{MaxRecordsPerRequest: 7})
	batch = batch[:0]
	for v := 0; v < 20; v++ {
		batch = append(batch, small.measurement(codecs.Measurement{VIN: fmt.Sprintf("VIN%03d", v), Name: "vehicle_speed", Value: num(1), Time: t0}))
	}
	small.write(small.b, batch)
	if n := small.fake.Calls("WriteRecords"); n != 3 {
		t.Errorf("MaxRecordsPerRequest 7: %d calls for 20 records, want 3", n)
	}
}

// fleetBatch is n seconds of 8 signals for each of vins vehicles, 4 readings per signal and
// second, in time order.
func fleetBatch(h *harness, vins, seconds int) []sinks.Record {
	t0 := base()
	signals := []string{"vehicle_speed", "engine_speed", "fuel_level", "oil_temp", "acceleration", "steering_wheel_angle", "torque_at_transmission", "odometer"}
	var batch []sinks.Record
	for ms := 0; ms < seconds*1000; ms += 250 {
		for v := 0; v < vins; v++ {
			for i, s := range signals {
				at := t0.Add(time.Duration(ms+i*10+v) * time.Millisecond)
				batch = append(batch, h.measurement(codecs.Measurement{VIN: fmt.Sprintf("VIN%02d", v), TripID: "t1", Name: s, Value: num(float64(ms + i)), Time: at}))
			}
		}
	}
	return batch
}

func TestBucketSplitAcrossBatchesIsWrittenAsUnion(t *testing.T) {
	h := newHarness(t, Config{MergeWindow: 10 * time.Second})
	batch := fleetBatch(h, 1, 1) // one bucket, 32 measurements
	h.write(h.b, batch[:13])
	first := h.records("telemetry")
	h.write(h.b, batch[13:])
	recs := h.records("telemetry")
	if len(first) != 1 || len(recs) != 1 {
		t.Fatalf("want one record, got %d then %d", len(first), len(recs))
	}
	if len(recs[0].Measures) != 8 || recs[0].Writes != 2 || recs[0].Version <= first[0].Version {
		t.Errorf("after the second batch: %d measures, %d writes, version %d (first %d); want all 8 signals rewritten with a higher version",
			len(recs[0].Measures), recs[0].Writes, recs[0].Version, first[0].Version)
	}
	if got := recs[0].Measures["vehicle_speed"].Value; got != "750" {
		t.Errorf("vehicle_speed %s, want the newest (750)", got)
	}
}

func TestRedeliveryAndReplayChangeNothing(t *testing.T) {
	h := newHarness(t, Config{MergeWindow: 10 * time.Second})
	batch := fleetBatch(h, 5, 3)
	for start := 0; start < len(batch); start += 97 { // batch cuts in the middle of buckets
		h.write(h.b, batch[start:min(start+97, len(batch))])
	}
	want := h.records("telemetry")
	if len(want) != 15 {
		t.Fatalf("want 15 records (5 VINs × 3 s), got %d", len(want))
	}
	writes := h.fake.Calls("WriteRecords")

	// Redelivery of the same batches to the same process.
	for start := 0; start < len(batch); start += 97 {
		h.write(h.b, batch[start:min(start+97, len(batch))])
	}
	// A replay after a restart (no merge cache), cut differently: the first parts of buckets
	// are older versions of what the table holds.
	replay := h.backend()
	for start := 0; start < len(batch); start += 41 {
		h.write(replay, batch[start:min(start+41, len(batch))])
	}
	got := h.records("telemetry")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("records changed by redelivery or replay:\n got %v\nwant %v", got, want)
	}
	if h.fake.Calls("WriteRecords") == writes {
		t.Error("redelivery wrote nothing at all; the test did not exercise it")
	}
	if s := replay.Stats(); s.Superseded == 0 || s.Rejected != 0 {
		t.Errorf("replay stats %+v: want superseded records and no rejections", s)
	}
}

func TestSupersededCanBeDeadLettered(t *testing.T) {
	h := newHarness(t, Config{DeadLetterSuperseded: true})
	batch := fleetBatch(h, 1, 1)
	h.write(h.b, batch)
	// After a restart, the first half of the bucket alone is an older version.
	err := h.backend().WriteBatch(context.Background(), batch[:10])
	f := failures(t, err)
	if len(f) != 10 {
		t.Fatalf("want all 10 inputs failed, got %d: %v", len(f), err)
	}
	var rej *RejectedError
	if !errors.As(f[0], &rej) || rej.ExistingVersion == nil || *rej.ExistingVersion <= rej.Version || rej.Reason == "" || sinks.Retryable(f[0]) {
		t.Errorf("want a permanent RejectedError with reason and a higher existing version, got %v", f[0])
	}
}

func TestNewerValueInABucketUpserts(t *testing.T) {
	h := newHarness(t, Config{})
	t0 := base()
	h.write(h.b, []sinks.Record{h.measurement(codecs.Measurement{VIN: "V1", Name: "fuel_level", Value: num(40), Time: t0.Add(100 * time.Millisecond)})})
	h.write(h.b, []sinks.Record{h.measurement(codecs.Measurement{VIN: "V1", Name: "fuel_level", Value: num(39.5), Time: t0.Add(600 * time.Millisecond)})})
	// an older value arriving late changes nothing
	h.write(h.b, []sinks.Record{h.measurement(codecs.Measurement{VIN: "V1", Name: "fuel_level", Value: num(41), Time: t0.Add(300 * time.Millisecond)})})
	recs := h.records("telemetry")
	if len(recs) != 1 || recs[0].Measures["fuel_level"].Value != "39.5" || recs[0].Writes != 2 {
		t.Errorf("records %v: want one record holding the newest value, written twice", recs)
	}
}

func TestThrottlingIsRetryableAndNothingIsLost(t *testing.T) {
	h := newHarness(t, Config{})
	batch := fleetBatch(h, 2, 1)
	h.fake.Fail("WriteRecords", awsfake.Fault{Type: "ThrottlingException"}, awsfake.Fault{Type: "ThrottlingException"}, awsfake.Fault{Type: "ThrottlingException"})
	err := h.b.WriteBatch(context.Background(), batch)
	f := failures(t, err)
	if len(f) != len(batch) {
		t.Fatalf("want every input failed after the SDK's 3 attempts, got %d of %d", len(f), len(batch))
	}
	for _, e := range f {
		if !sinks.Retryable(e) || !strings.Contains(e.Error(), "ThrottlingException") {
			t.Fatalf("want a retryable throttling error, got %v", e)
		}
	}
	if n := h.fake.Calls("WriteRecords"); n != 3 {
		t.Errorf("SDK attempts %d, want 3", n)
	}
	h.write(h.b, batch) // the delivery core's retry
	recs := h.records("telemetry")
	if len(recs) != 2 || len(recs[0].Measures) != 8 || recs[0].Writes != 1 {
		t.Errorf("after the retry: %v", recs)
	}
}

func TestServerErrorsAreRetriedBySDK(t *testing.T) {
	h := newHarness(t, Config{})
	h.fake.Fail("WriteRecords", awsfake.Fault{Type: "InternalServerException"}, awsfake.Fault{Status: 503})
	h.write(h.b, fleetBatch(h, 1, 1))
	if n := h.fake.Calls("WriteRecords"); n != 3 {
		t.Errorf("%d calls, want 2 failures and 1 success", n)
	}
	if n := len(h.records("telemetry")); n != 1 {
		t.Errorf("%d records", n)
	}

	// Exhausted retries come back retryable.
	h.fake.Fail("WriteRecords", awsfake.Fault{Status: 500}, awsfake.Fault{Status: 502}, awsfake.Fault{Type: "InternalServerException"})
	f := failures(t, h.b.WriteBatch(context.Background(), fleetBatch(h, 1, 1)))
	if len(f) != 32 || !sinks.Retryable(f[0]) {
		t.Errorf("want 32 retryable failures, got %d: %v", len(f), f[0])
	}
}

func TestTimedOutWriteThatWasAppliedIsRetriedWithoutDuplicates(t *testing.T) {
	h := newHarness(t, Config{RequestTimeout: 300 * time.Millisecond}, fastRetries(1))
	batch := fleetBatch(h, 3, 2)
	h.fake.Fail("WriteRecords", awsfake.Fault{Type: "InternalServerException", Delay: 5 * time.Second, Apply: true})
	start := time.Now()
	f := failures(t, h.b.WriteBatch(context.Background(), batch))
	if time.Since(start) > 3*time.Second {
		t.Errorf("the request timeout did not cut the call short")
	}
	if len(f) != len(batch) || !sinks.Retryable(f[0]) {
		t.Fatalf("want every input failed retryable, got %d: %v", len(f), f[0])
	}
	applied := h.records("telemetry")
	if len(applied) != 6 {
		t.Fatalf("the fake should have applied the write: %d records", len(applied))
	}
	h.write(h.b, batch) // retry: same versions, accepted as they are
	if got := h.records("telemetry"); fmt.Sprint(got) != fmt.Sprint(applied) {
		t.Errorf("retry changed the records:\n got %v\nwant %v", got, applied)
	}
	if s := h.b.Stats(); s.Rejected != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestRejectedRecordsMapBackToInputs(t *testing.T) {
	h := newHarness(t, Config{})
	t0 := base()
	var batch []sinks.Record
	for v := 0; v < 3; v++ {
		for _, s := range []string{"vehicle_speed", "engine_speed"} {
			batch = append(batch, h.measurement(codecs.Measurement{VIN: fmt.Sprintf("VIN%d", v), Name: s, Value: num(1), Time: t0}))
		}
	}
	// Records are sent sorted by dimensions: index 1 is VIN1, carried by inputs 2 and 3.
	h.fake.Fail("WriteRecords", awsfake.Fault{Reject: []int{1}, Reason: "Measure engine_speed has type BIGINT in this table; got DOUBLE."})
	err := h.b.WriteBatch(context.Background(), batch)
	f := failures(t, err)
	if len(f) != 2 || f[2] == nil || f[3] == nil {
		t.Fatalf("want inputs 2 and 3 failed, got %v", err)
	}
	var rej *RejectedError
	if !errors.As(f[2], &rej) || !strings.Contains(rej.Reason, "BIGINT") || rej.ExistingVersion != nil || sinks.Retryable(f[2]) {
		t.Errorf("want a permanent RejectedError carrying the reason, got %v", f[2])
	}
	recs := h.records("telemetry")
	if len(recs) != 2 || recs[0].Dimensions["vin"] == "VIN1" || recs[1].Dimensions["vin"] == "VIN1" {
		t.Errorf("the other records should be written: %v", recs)
	}
}

func TestValidationErrorIsolatesTheBadRecord(t *testing.T) {
	h := newHarness(t, Config{})
	t0 := base()
	var batch []sinks.Record
	for v := 0; v < 9; v++ {
		batch = append(batch, h.measurement(codecs.Measurement{VIN: fmt.Sprintf("VIN%d", v), Name: "vehicle_speed", Value: num(1), Time: t0}))
	}
	// VIN4's record names location_latitude twice: the service refuses the whole request.
	batch = append(batch,
		h.measurement(codecs.Measurement{VIN: "VIN4", Name: "location", Value: codecs.Location(1, 2), Time: t0}),
		h.measurement(codecs.Measurement{VIN: "VIN4", Name: "location_latitude", Value: num(1), Time: t0}))
	f := failures(t, h.b.WriteBatch(context.Background(), batch))
	if len(f) != 3 || f[4] == nil || f[9] == nil || f[10] == nil || sinks.Retryable(f[4]) || !strings.Contains(f[4].Error(), "ValidationException") {
		t.Fatalf("want VIN4's three inputs failed permanently with the validation message, got %v", f)
	}
	if n := len(h.records("telemetry")); n != 8 {
		t.Errorf("%d records written, want the other 8", n)
	}
}

func TestRecordsOlderThanMemoryRetention(t *testing.T) {
	now := time.Now().UTC()
	old := codecs.Measurement{VIN: "V1", Name: "odometer", Value: num(12345.6), Time: now.Add(-3 * time.Hour)}
	fresh := codecs.Measurement{VIN: "V1", Name: "odometer", Value: num(12350), Time: now.Add(-time.Minute)}

	h := newHarness(t, Config{})
	h.fake.CreateTable(testDB, "telemetry", awsfake.TableOptions{MemoryStoreRetentionHours: 2})
	b := h.backend() // reads the 2h retention at Connect
	f := failures(t, b.WriteBatch(context.Background(), []sinks.Record{h.measurement(old), h.measurement(fresh)}))
	if len(f) != 1 || f[0] == nil || sinks.Retryable(f[0]) || !errors.Is(f[0], ErrTooOld) ||
		!strings.Contains(f[0].Error(), "older than memory store retention (2h); enable magnetic store writes") {
		t.Fatalf("want input 0 failed permanently for its age, got %v", f)
	}
	for _, r := range h.fake.Requests("WriteRecords") {
		if len(r.Write.Records) != 1 {
			t.Errorf("the old record was sent: %d records", len(r.Write.Records))
		}
	}

	h.fake.CreateTable(testDB, "telemetry", awsfake.TableOptions{MemoryStoreRetentionHours: 2, MagneticStoreWrites: true})
	b = h.backend()
	h.write(b, []sinks.Record{h.measurement(old), h.measurement(fresh)})
	if mem, mag := h.fake.Ingested(testDB, "telemetry"); mem != 1 || mag != 1 {
		t.Errorf("with magnetic store writes: %d memory and %d magnetic records, want 1 and 1", mem, mag)
	}
}

func TestTableDeletedAfterConnect(t *testing.T) {
	h := newHarness(t, Config{})
	h.fake.DeleteTable(testDB, "telemetry")
	err := h.b.WriteBatch(context.Background(), fleetBatch(h, 1, 1))
	var be *sinks.BatchError
	if !errors.Is(err, ErrTableNotFound) || errors.As(err, &be) || !sinks.Retryable(err) || !strings.Contains(err.Error(), "--timestream-table") {
		t.Errorf("want a whole-batch ErrTableNotFound (not dead-lettered) naming the flag, got %v", err)
	}
}

func TestEventsGoToTheEventsTable(t *testing.T) {
	h := newHarness(t, Config{})
	t0 := base()
	speed := 88.5
	batch := []sinks.Record{
		h.event("anomalies", codecs.Anomaly{ID: "a1", VIN: "V1", TripID: "t1", Rule: "overspeed", Signal: "vehicle_speed", State: codecs.AnomalyOpen, Severity: "warning", Value: 142, Threshold: 130, StartedAt: t0, Time: t0}),
		h.event("anomalies", codecs.Anomaly{ID: "a1", VIN: "V1", TripID: "t1", Rule: "overspeed", Signal: "vehicle_speed", State: codecs.AnomalyCleared, Severity: "warning", Value: 120, Threshold: 130, StartedAt: t0, Time: t0.Add(5 * time.Second)}),
		h.event("dtc-events", codecs.DTCEvent{ID: "d1", VIN: "V1", TripID: "t1", Code: "P0217", System: "powertrain", Generic: true, Severity: "critical", StopWorthy: true, CommandID: "c1", Time: t0, Speed: &speed}),
		h.measurement(codecs.Measurement{VIN: "V1", Name: "vehicle_speed", Value: num(142), Time: t0}),
	}
	h.write(h.b, batch)
	h.write(h.b, batch) // redelivery
	ev := h.records("events")
	if len(ev) != 3 {
		t.Fatalf("want 3 event records, got %v", ev)
	}
	var anomalies, dtcs int
	for _, r := range ev {
		if r.Writes != 1 {
			t.Errorf("event written %d times", r.Writes)
		}
		switch r.MeasureName {
		case "anomaly":
			anomalies++
			if r.Dimensions["rule"] != "overspeed" || r.Dimensions["vin"] != "V1" || r.Dimensions["trip_id"] != "t1" || r.Measures["value"].Type != "DOUBLE" || r.Measures["started_at_ms"].Type != "BIGINT" {
				t.Errorf("anomaly %v", r)
			}
		case "dtc":
			dtcs++
			if r.Dimensions["code"] != "P0217" || r.Measures["stop_worthy"] != (awsfake.Measure{Type: "BOOLEAN", Value: "true"}) || r.Measures["speed"].Value != "88.5" {
				t.Errorf("dtc %v", r)
			}
		}
	}
	if anomalies != 2 || dtcs != 1 {
		t.Errorf("%d anomalies, %d dtcs", anomalies, dtcs)
	}
	if n := len(h.records("telemetry")); n != 1 {
		t.Errorf("%d telemetry records", n)
	}
}

func TestUndecodableInputFailsPermanently(t *testing.T) {
	h := newHarness(t, Config{})
	good := h.measurement(codecs.Measurement{VIN: "V1", Name: "vehicle_speed", Value: num(1), Time: base()})
	batch := []sinks.Record{
		{Topic: "timeseries", Value: []byte("{not json")},
		good,
		{Topic: "commands", Value: []byte(`{}`)},
		h.measurement(codecs.Measurement{VIN: "V1", Name: "vin", Value: num(1), Time: base()}), // a dimension's name
		h.measurement(codecs.Measurement{VIN: "V1", Name: "x", Value: codecs.Value{}, Time: base()}),
		{Topic: "timeseries"},
	}
	f := failures(t, h.b.WriteBatch(context.Background(), batch))
	for _, i := range []int{0, 2, 3, 4, 5} {
		if f[i] == nil || sinks.Retryable(f[i]) {
			t.Errorf("input %d: want a permanent failure, got %v", i, f[i])
		}
	}
	for i, reason := range map[int]codecs.Reason{0: codecs.ReasonInvalidJSON, 2: codecs.ReasonUnknownShape, 3: codecs.ReasonBadName, 4: codecs.ReasonWrongType} {
		var de *codecs.DecodeError
		if !errors.As(f[i], &de) || de.Reason != reason {
			t.Errorf("input %d: want dead-letter reason %s, got %v", i, reason, f[i])
		}
	}
	if f[1] != nil || len(h.records("telemetry")) != 1 {
		t.Errorf("the good input was not written: %v", f[1])
	}
}

func TestConnectNamesTheMissingResource(t *testing.T) {
	fake := awsfake.NewTimestream()
	defer fake.Close()
	awsEnv(t, fake.URL())
	connect := func(cfg Config) error {
		b, err := New(cfg, fastRetries(1))
		if err != nil {
			t.Fatal(err)
		}
		return b.Connect(context.Background())
	}
	if err := connect(Config{Database: "fleet"}); err == nil || !strings.Contains(err.Error(), "--timestream-database") {
		t.Errorf("missing database: %v", err)
	}
	fake.CreateDatabase("fleet")
	if err := connect(Config{Database: "fleet"}); err == nil || !strings.Contains(err.Error(), "--timestream-table") || !strings.Contains(err.Error(), `"telemetry"`) {
		t.Errorf("missing table: %v", err)
	}
	fake.CreateTable("fleet", "telemetry", awsfake.TableOptions{})
	if err := connect(Config{Database: "fleet"}); err == nil || !strings.Contains(err.Error(), "--timestream-events-table") {
		t.Errorf("missing events table: %v", err)
	}
}

func TestConnectCreatesWhatIsMissing(t *testing.T) {
	fake := awsfake.NewTimestream()
	defer fake.Close()
	awsEnv(t, fake.URL())
	b, err := New(Config{Database: "fleet", CreateIfMissing: true, MemoryRetention: 12 * time.Hour, MagneticRetention: 30 * 24 * time.Hour, MagneticStoreWrites: true}, fastRetries(1))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second Connect finds everything
		if err := b.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := awsfake.TableOptions{MemoryStoreRetentionHours: 12, MagneticStoreRetentionDays: 30, MagneticStoreWrites: true}
	for _, table := range []string{"telemetry", "events"} {
		if got, ok := fake.Table("fleet", table); !ok || got != want {
			t.Errorf("table %s: %+v, %v", table, got, ok)
		}
	}
	if n := fake.Calls("CreateTable"); n != 2 {
		t.Errorf("%d CreateTable calls", n)
	}
}

func TestAccessDeniedNamesThePermission(t *testing.T) {
	h := newHarness(t, Config{})
	h.fake.Fail("DescribeDatabase", awsfake.Fault{Type: "AccessDeniedException", Status: 403})
	b, _ := New(h.cfg, h.opts...)
	err := b.Connect(context.Background())
	if !errors.Is(err, ErrAccessDenied) || !strings.Contains(err.Error(), "timestream:DescribeDatabase") {
		t.Errorf("got %v", err)
	}
}

func TestEndpointDiscovery(t *testing.T) {
	// With AWS_ENDPOINT_URL_TIMESTREAM_WRITE the SDK still discovers endpoints (Timestream
	// requires it): it asks the fake once, keeps the answer cached, and, since the fake's
	// address is not an AWS host name, keeps sending to the configured endpoint.
	h := newHarness(t, Config{})
	for i := 0; i < 3; i++ {
		h.write(h.b, fleetBatch(h, 1, 1))
	}
	if n := h.fake.Calls("DescribeEndpoints"); n != 1 {
		t.Errorf("DescribeEndpoints called %d times, want 1 (cached)", n)
	}

	// The SDK moves requests to a discovered address only when it is an AWS host name, so a
	// discovered address elsewhere does not take them away from the configured endpoint.
	elsewhere := newHarness(t, Config{})
	elsewhere.fake.SetEndpointAddress("127.0.0.1:9")
	b := elsewhere.backend()
	elsewhere.write(b, fleetBatch(elsewhere, 1, 1))
	if len(elsewhere.records("telemetry")) != 1 {
		t.Error("writes did not reach the configured endpoint")
	}

	// AWS_ENABLE_ENDPOINT_DISCOVERY=false turns it off; everything still works.
	off := newHarness(t, Config{})
	t.Setenv("AWS_ENABLE_ENDPOINT_DISCOVERY", "false")
	b = off.backend()
	off.write(b, fleetBatch(off, 1, 1))
	before := off.fake.Calls("DescribeEndpoints") // the harness's own backend discovered
	off.write(b, fleetBatch(off, 1, 2))
	if off.fake.Calls("DescribeEndpoints") != before || len(off.records("telemetry")) != 2 {
		t.Errorf("with discovery off: %d DescribeEndpoints calls", off.fake.Calls("DescribeEndpoints"))
	}
}

// TestFaultsLoseAndDuplicateNothing drives many batches through random faults with a retry
// loop like the delivery core's, then checks the table holds exactly the newest value of every
// signal of every bucket, each record once.
func TestFaultsLoseAndDuplicateNothing(t *testing.T) {
	h := newHarness(t, Config{RequestTimeout: 200 * time.Millisecond}, fastRetries(2))
	call := 0
	h.fake.SetHook(func(op string, n int) *awsfake.Fault {
		if op != "WriteRecords" {
			return nil
		}
		call++
		switch call % 7 {
		case 1:
			return &awsfake.Fault{Type: "ThrottlingException"}
		case 3:
			return &awsfake.Fault{Status: 500}
		case 5:
			return &awsfake.Fault{Type: "InternalServerException", Delay: time.Second, Apply: true}
		}
		return nil
	})
	batch := fleetBatch(h, 4, 4)
	want := map[string]string{} // vin|bucket|signal → newest value
	for _, r := range batch {
		var m codecs.Measurement
		mustUnmarshal(t, r.Value, &m)
		want[m.VIN+"|"+strconv.FormatInt(m.Time.Truncate(time.Second).UnixMilli(), 10)+"|"+m.Name] = formatDouble(m.Value.Num)
	}
	for start := 0; start < len(batch); start += 60 {
		pending := batch[start:min(start+60, len(batch))]
		for attempt := 0; len(pending) > 0; attempt++ {
			if attempt > 20 {
				t.Fatal("no progress")
			}
			err := h.b.WriteBatch(context.Background(), pending)
			var retry []sinks.Record
			for i, e := range failures(t, err) {
				if !sinks.Retryable(e) {
					t.Fatalf("permanent failure: %v", e)
				}
				retry = append(retry, pending[i])
			}
			pending = retry
		}
	}
	got := map[string]string{}
	for _, r := range h.records("telemetry") {
		for name, m := range r.Measures {
			k := r.Dimensions["vin"] + "|" + strconv.FormatInt(r.Time.UnixMilli(), 10) + "|" + name
			if _, dup := got[k]; dup {
				t.Errorf("duplicate %s", k)
			}
			got[k] = m.Value
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("table differs from the input's newest values:\n got %v\nwant %v", got, want)
	}
	if s := h.b.Stats(); s.Retryable == 0 || s.Rejected != 0 {
		t.Errorf("stats %+v: want retried requests and no rejections", s)
	}
}
