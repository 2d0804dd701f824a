package codecs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The fuzz targets run as ordinary tests on their seeds; to fuzz one:
//
//	go test -run='^$' -fuzz=FuzzDecodeTelemetry -fuzztime=20s ./codecs

var knownReasons = map[Reason]bool{
	ReasonTooLarge: true, ReasonInvalidJSON: true, ReasonMissingVIN: true, ReasonBadName: true,
	ReasonWrongType: true, ReasonBadTimestamp: true, ReasonBadCode: true, ReasonUnknownShape: true,
}

// seedFixtures adds every shared fixture of one decoder, and some edge cases, to a fuzz corpus.
func seedFixtures(f *testing.F, decoder string, extra ...string) {
	for _, name := range fixtureNames(f) {
		if fixtureDecoder(name) == decoder {
			f.Add(fixture(f, name))
		}
	}
	for _, e := range extra {
		f.Add([]byte(e))
	}
}

// checkRejection fails unless err is a *DecodeError with a known reason.
func checkRejection(t *testing.T, err error) *DecodeError {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error %v (%T) is not a *DecodeError", err, err)
	}
	if !knownReasons[de.Reason] {
		t.Fatalf("unknown reason %q", de.Reason)
	}
	if len(de.Detail) > 512 {
		t.Fatalf("detail is %d bytes: a hostile message must not grow dead letters", len(de.Detail))
	}
	return de
}

func FuzzDecodeTelemetry(f *testing.F) {
	seedFixtures(f, "telemetry",
		`{"name":"speed","value":1,"vin":"X","timestamp":1615018385112}`,
		`{"name":"location","value":{"latitude":1,"longitude":2},"vin":"X","timestamp":"2021-03-06T08:13:05Z"}`,
		`{"VIN":"X","timestamp":"2021-03-06 08:13:05","a":1,"a":null,"B":true,"c\u0041":"s","d":[1],"e":{}}`,
		`{"VIN":"X","vin":"Y","timestamp":"1615018385112","speed":1,"Speed":2,"vehicleSpeed":3}`,
		`null`, `{}`, `[]`, `{"name":null,"vin":"X","timestamp":0,"x":1}`,
	)
	measurement := JSON[Measurement]{}
	f.Fuzz(func(t *testing.T, b []byte) {
		signals, err := DecodeTelemetry(b)
		if err != nil {
			checkRejection(t, err)
			if signals != nil {
				t.Fatalf("rejection returned signals %+v", signals)
			}
		} else {
			if len(signals) == 0 {
				t.Fatal("accepted message yielded no signal")
			}
			for i, s := range signals {
				checkSignalInvariants(t, s)
				if s.VIN != signals[0].VIN || s.TripID != signals[0].TripID || !s.Time.Equal(signals[0].Time) {
					t.Fatalf("signals of one message differ in vin, trip or time: %+v", signals)
				}
				if i > 0 && signals[i-1].Name > s.Name {
					t.Fatalf("signals are not ordered by name: %+v", signals)
				}
				// Whatever is decoded must be encodable downstream, or goka stops.
				enc, err := measurement.Encode(Measurement{VIN: s.VIN, TripID: s.TripID, Name: s.Name, Value: s.Value, Time: s.Time})
				if err != nil {
					t.Fatalf("decoded signal %+v cannot be encoded: %v", s, err)
				}
				dec, err := measurement.Decode(enc)
				if err != nil {
					t.Fatalf("encoded signal %s cannot be decoded: %v", enc, err)
				}
				if m := dec.(*Measurement); !m.Value.Equal(s.Value) || !m.Time.Equal(s.Time) || m.Name != s.Name {
					t.Fatalf("signal %+v came back as %+v", s, m)
				}
			}
		}
		// Decoding is deterministic.
		again, err2 := DecodeTelemetry(b)
		if (err == nil) != (err2 == nil) || fmt.Sprint(err) != fmt.Sprint(err2) || fmt.Sprint(again) != fmt.Sprint(signals) {
			t.Fatalf("second decode differs: %v %v / %v %v", signals, err, again, err2)
		}
		// The optimised tick path decodes as the original map-based one did.
		want, wantReason, ambiguous := referenceDecodeTelemetry(b)
		switch {
		case err == nil && wantReason != "":
			t.Fatalf("accepted %+v; the reference rejects it as %s", signals, wantReason)
		case err != nil && wantReason == "":
			t.Fatalf("rejected (%v); the reference accepts it as %+v", err, want)
		case err != nil && !ambiguous && checkRejection(t, err).Reason != wantReason:
			t.Fatalf("rejected as %v; the reference rejects it as %s", err, wantReason)
		case err == nil && fmt.Sprint(sortedSignals(signals)) != fmt.Sprint(sortedSignals(want)):
			t.Fatalf("decoded %+v; the reference decodes %+v", signals, want)
		}
		// The object scanner splits what json.Unmarshal accepts as a map into the same members.
		var m map[string]json.RawMessage
		if len(b) <= MaxMessageBytes && json.Unmarshal(b, &m) == nil {
			members, ok := objectMembers(b, nil)
			if !ok {
				t.Fatalf("objectMembers refused what json.Unmarshal accepts: %q", b)
			}
			members = lastByKey(members)
			if len(members) != len(m) {
				t.Fatalf("objectMembers found %d distinct keys, json.Unmarshal %d", len(members), len(m))
			}
			for _, mb := range members {
				if raw, found := m[mb.key]; !found || !bytes.Equal(raw, mb.raw) {
					t.Fatalf("member %q = %s; json.Unmarshal gives %s", mb.key, mb.raw, raw)
				}
			}
		}
	})
}

// sortedSignals orders signals by name and value, for comparing decoders that order signals
// of the same name differently.
func sortedSignals(s []Signal) []Signal {
	s = slices.Clone(s)
	slices.SortStableFunc(s, func(a, b Signal) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(fmt.Sprintf("%d %v", a.Value.Kind, a.Value), fmt.Sprintf("%d %v", b.Value.Kind, b.Value))
	})
	return s
}

// referenceDecodeTelemetry is DecodeTelemetry as it was before the tick path was optimised: a
// second json.Unmarshal into a map, values through json.Unmarshal. It returns the reason of a
// rejection, and ambiguous when several attributes fail for different reasons (the map's order
// then chose which one was reported).
func referenceDecodeTelemetry(b []byte) (signals []Signal, reason Reason, ambiguous bool) {
	if len(b) > MaxMessageBytes {
		return nil, ReasonTooLarge, false
	}
	var w telemetryWire
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, ReasonInvalidJSON, false
	}
	if w.Name != nil {
		if !ValidVIN(w.VIN) {
			return nil, ReasonMissingVIN, false
		}
		ts, err := ParseTime(w.Timestamp)
		if err != nil {
			return nil, ReasonBadTimestamp, false
		}
		name, ok := CanonicalSignal(*w.Name)
		if !ok {
			return nil, ReasonBadName, false
		}
		var v Value
		switch {
		case name == SignalLocation && len(w.Value) == 0:
			if w.Latitude == nil || w.Longitude == nil {
				return nil, ReasonWrongType, false
			}
			v = Location(*w.Latitude, *w.Longitude)
		case len(w.Value) == 0:
			return nil, ReasonWrongType, false
		default:
			if v, err = referenceParseValue(w.Value); err != nil {
				return nil, ReasonWrongType, false
			}
		}
		if want, known := SignalKind(name); v.Kind == KindNone || known && v.Kind != want {
			return nil, ReasonWrongType, false
		}
		return []Signal{{VIN: w.VIN, TripID: w.TripID, Name: name, Value: v, Time: ts}}, "", false
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, ReasonInvalidJSON, false
	}
	var vin, trip string
	if raw, ok := m["VIN"]; ok {
		_ = json.Unmarshal(raw, &vin)
	} else if raw, ok := m["vin"]; ok {
		_ = json.Unmarshal(raw, &vin)
	}
	if !ValidVIN(vin) {
		return nil, ReasonMissingVIN, false
	}
	if raw, ok := m["trip_id"]; ok {
		_ = json.Unmarshal(raw, &trip)
	}
	ts, err := ParseTime(m["timestamp"])
	if err != nil {
		return nil, ReasonBadTimestamp, false
	}
	failed := map[Reason]bool{}
	for key, raw := range m {
		if tickMeta[key] {
			continue
		}
		name, ok := CanonicalSignal(key)
		if !ok {
			failed[ReasonBadName] = true
			continue
		}
		v, err := referenceParseValue(raw)
		if err != nil {
			failed[ReasonWrongType] = true
			continue
		}
		if v.Kind == KindNone {
			continue
		}
		if want, known := SignalKind(name); known && v.Kind != want {
			failed[ReasonWrongType] = true
			continue
		}
		signals = append(signals, Signal{VIN: vin, TripID: trip, Name: name, Value: v, Time: ts})
	}
	for r := range failed {
		return nil, r, len(failed) > 1
	}
	if len(signals) == 0 {
		return nil, ReasonUnknownShape, false
	}
	return signals, "", false
}

// referenceParseValue is parseValue without its fast paths.
func referenceParseValue(b []byte) (Value, error) {
	b = bytes.TrimSpace(b)
	switch b[0] {
	case 'n':
		return Value{}, nil
	case 't', 'f':
		var x bool
		err := json.Unmarshal(b, &x)
		return Bool(x), err
	case '"':
		var s string
		err := json.Unmarshal(b, &s)
		return String(s), err
	case '{':
		var loc struct {
			Latitude  *float64 `json:"latitude"`
			Longitude *float64 `json:"longitude"`
		}
		if err := json.Unmarshal(b, &loc); err != nil {
			return Value{}, err
		}
		if loc.Latitude == nil || loc.Longitude == nil {
			return Value{}, errors.New("not a location")
		}
		return Location(*loc.Latitude, *loc.Longitude), nil
	case '[':
		return Value{}, errors.New("array")
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return Value{}, err
	}
	return Number(f), nil
}

func FuzzDecodeTrip(f *testing.F) {
	seedFixtures(f, "trip",
		`{"vin":"X","trip_id":"t","timestamp":1615018385112,"end_time":"2021-03-06T08:13:05Z"}`,
		`{"vin":"X","trip_id":"t","timestamp":"2021-03-06 08:13:05","start_time":null,"end_time":null}`,
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeTrip(b)
		if err != nil {
			checkRejection(t, err)
			return
		}
		if !ValidVIN(a.VIN) {
			t.Fatalf("invalid VIN %q", a.VIN)
		}
		if a.TripID == "" || len(a.TripID) > 128 {
			t.Fatalf("trip id %q", a.TripID)
		}
		checkTime(t, a.Time)
		checkTime(t, a.StartTime)
		if a.EndTime != nil {
			checkTime(t, *a.EndTime)
		}
		enc, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("decoded aggregate cannot be encoded: %v", err)
		}
		if _, err := (JSON[TripAggregate]{}).Decode(enc); err != nil {
			t.Fatalf("encoded aggregate cannot be decoded: %v", err)
		}
	})
}

func FuzzDecodeDTC(f *testing.F) {
	seedFixtures(f, "dtc",
		`{"vin":"X","timestamp":1615018385112,"value":" p0a1f "}`,
		`{"vin":"X","timestamp":"2021-03-06T08:13:05Z","value":"ı0404"}`,
	)
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeDTC(b)
		if err != nil {
			checkRejection(t, err)
			return
		}
		if !ValidVIN(d.VIN) {
			t.Fatalf("invalid VIN %q", d.VIN)
		}
		if !ValidDTCCode(d.Code) {
			t.Fatalf("invalid code %q", d.Code)
		}
		if system, _ := ClassifyDTC(d.Code); system == "" {
			t.Fatalf("code %q has no system", d.Code)
		}
		checkTime(t, d.Time)
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("decoded DTC cannot be encoded: %v", err)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		`"2018-02-15 08:20:18.000000000"`, `"2021-03-06T07:40:02.454Z"`, `"2021-03-06T09:40:02.454123+02:00"`,
		`1615018385112`, `"1615018385112"`, `0`, `999999999999999999`, `"0001-01-01 00:00:00"`,
		`"0001-01-01T00:30:00+01:00"`, `"9999-12-31T23:59:59-01:00"`, `null`, `""`, `"`, ` "2021-03-06 08:13:05" `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ts, err := ParseTime(raw)
		if err != nil {
			if !ts.IsZero() {
				t.Fatalf("error %v with time %v", err, ts)
			}
			return
		}
		checkTime(t, ts)
		// The space format round-trips every accepted time.
		back, err := ParseTime([]byte(`"` + FormatTime(ts) + `"`))
		if err != nil || !back.Equal(ts) {
			t.Fatalf("FormatTime(%v) = %s parses as %v, %v", ts, FormatTime(ts), back, err)
		}
		// So does RFC 3339.
		back, err = ParseTime([]byte(`"` + ts.Format(time.RFC3339Nano) + `"`))
		if err != nil || !back.Equal(ts) {
			t.Fatalf("RFC 3339 %s parses as %v, %v", ts.Format(time.RFC3339Nano), back, err)
		}
	})
}

func FuzzValueJSON(f *testing.F) {
	for _, s := range []string{`47.4`, `-0`, `1e308`, `"fifth"`, `"\u00e9\"\\"`, `true`, `false`, `null`,
		`{"latitude":38.938734,"longitude":-77.269385}`, `{"longitude":1,"latitude":2,"x":3}`, `[1]`, `{}`, `1e400`} {
		f.Add([]byte(s), uint8(KindNumber), 1.5, "s", true, 1.0, 2.0)
	}
	f.Add([]byte(`0`), uint8(KindLocation), 0.0, "", false, math.NaN(), math.Inf(1))
	f.Add([]byte(`0`), uint8(KindNumber), math.Inf(-1), "", false, 0.0, 0.0)
	f.Add([]byte(`0`), uint8(KindString), 0.0, "\xff<&>", false, 0.0, 0.0)
	f.Fuzz(func(t *testing.T, b []byte, kind uint8, num float64, str string, flag bool, lat, lon float64) {
		// Whatever JSON decodes into a Value encodes back to the same Value.
		var v Value
		if err := json.Unmarshal(b, &v); err == nil {
			enc, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("Value %+v from %s cannot be encoded: %v", v, b, err)
			}
			var back Value
			if err := json.Unmarshal(enc, &back); err != nil || !back.Equal(v) {
				t.Fatalf("%s decoded as %+v, encoded as %s, decoded again as %+v (%v)", b, v, enc, back, err)
			}
		}
		// Any Value, however built, encodes as valid JSON: a NaN never stops a processor.
		built := Value{Kind: Kind(kind % 6), Num: num, Str: str, Bool: flag, Lat: lat, Lon: lon}
		enc, err := json.Marshal(built)
		if err != nil {
			t.Fatalf("Value %+v cannot be encoded: %v", built, err)
		}
		var back Value
		if err := json.Unmarshal(enc, &back); err != nil {
			t.Fatalf("Value %+v encoded as %s, which does not decode: %v", built, enc, err)
		}
		if built.Kind != KindNone && back.Kind != KindNone && back.Kind != built.Kind {
			t.Fatalf("Value %+v came back as a %s", built, back.Kind)
		}
		finiteNum := !math.IsNaN(num) && !math.IsInf(num, 0)
		if built.Kind == KindNumber && finiteNum && back.Num != num {
			t.Fatalf("number %v came back as %v", num, back.Num)
		}
		if built.Kind == KindLocation && back.Kind == KindLocation && (back.Lat != lat || back.Lon != lon) {
			t.Fatalf("location %v,%v came back as %v,%v", lat, lon, back.Lat, back.Lon)
		}
		if built.Kind == KindString && utf8.ValidString(str) && back.Str != str {
			t.Fatalf("string %q came back as %q", str, back.Str)
		}
	})
}
