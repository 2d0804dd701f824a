package codecs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The VehicleState fast paths must be invisible: the encoder writes json.Marshal's bytes and the
// decoder returns what json.Unmarshal returns, value and error, for any input.

var tricky = []string{
	"", "run", "fifth", "c6bacef5-1bfc-4a72-8261-6c1272772f13", "a<b>&c", `quote"back\slash`, "tab\tnew\nline\x01",
	"ünïcödé", "line\u2028sep\u2029", "bad\xffutf8", "\x7f", "emoji 🚗", strings.Repeat("x", 300),
}

var trickyFloats = []float64{
	0, math.Copysign(0, -1), 1, -1, 64.2, 1e-7, 1e-6, 9.99e-7, 1e20, 1e21, 1.5e21, -2.5e-9, 123456789.123,
	math.MaxFloat64, math.SmallestNonzeroFloat64, 1.0 / 3, 5e-324, 1e300,
}

func randString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return tricky[r.IntN(len(tricky))]
	}
	const alpha = "abcdefghijklmnopqrstuvwxyz_0123456789"
	b := make([]byte, 1+r.IntN(20))
	for i := range b {
		b[i] = alpha[r.IntN(len(alpha))]
	}
	return string(b)
}

func randFloat(r *rand.Rand) float64 {
	if r.IntN(2) == 0 {
		return trickyFloats[r.IntN(len(trickyFloats))]
	}
	return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(40)-20))
}

func randTime(r *rand.Rand) time.Time {
	t := time.Unix(r.Int64N(4e10)-1e10, r.Int64N(1e9))
	switch r.IntN(4) {
	case 0:
		return t.UTC()
	case 1:
		return t.In(time.FixedZone("", (r.IntN(48)-24)*1800))
	case 2:
		return t.Truncate(time.Millisecond).UTC()
	}
	return time.Time{}
}

func randValue(r *rand.Rand) Value {
	switch r.IntN(5) {
	case 0:
		return Number(randFloat(r))
	case 1:
		return String(randString(r))
	case 2:
		return Bool(r.IntN(2) == 0)
	case 3:
		return Location(randFloat(r), randFloat(r))
	}
	return Value{}
}

func randAnomaly(r *rand.Rand) Anomaly {
	a := Anomaly{ID: randString(r), VIN: randString(r), Rule: randString(r), Signal: randString(r),
		State: AnomalyState(randString(r)), Severity: randString(r), Value: randFloat(r), Threshold: randFloat(r),
		StartedAt: randTime(r), Time: randTime(r)}
	if r.IntN(2) == 0 {
		a.TripID = randString(r)
	}
	if r.IntN(2) == 0 {
		a.Message = randString(r)
	}
	return a
}

func randState(r *rand.Rand) *VehicleState {
	s := &VehicleState{VIN: randString(r), UpdatedAt: randTime(r), Messages: r.Int64N(1 << 40)}
	if r.IntN(2) == 0 {
		s.TripID = randString(r)
	}
	if r.IntN(8) != 0 {
		s.Signals = map[string]SignalState{}
		for range r.IntN(20) {
			s.Signals[randString(r)] = SignalState{Value: randValue(r), Time: randTime(r)}
		}
	}
	if r.IntN(3) != 0 {
		s.Stats = map[string]RollingStat{}
		for range r.IntN(12) {
			s.Stats[randString(r)] = RollingStat{N: r.Int64N(1e6) - 10, Mean: randFloat(r), Var: randFloat(r)}
		}
	}
	if r.IntN(3) == 0 {
		s.OpenAnomalies = map[string]Anomaly{}
		for range r.IntN(4) {
			s.OpenAnomalies[randString(r)] = randAnomaly(r)
		}
	}
	return s
}

// checkDecode fails unless JSON[VehicleState].Decode(b) gives what json.Unmarshal gives.
func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	want := new(VehicleState)
	wantErr := json.Unmarshal(b, want)
	got, err := JSON[VehicleState]{}.Decode(b)
	switch {
	case wantErr != nil && err == nil:
		t.Fatalf("Decode(%q) accepted what json.Unmarshal refuses (%v): %+v", b, wantErr, got)
	case wantErr == nil && err != nil:
		t.Fatalf("Decode(%q) = %v, json.Unmarshal accepts it", b, err)
	case wantErr != nil:
		if !strings.Contains(err.Error(), wantErr.Error()) {
			t.Fatalf("Decode(%q) error %q, want json.Unmarshal's %q", b, err, wantErr)
		}
	default:
		if !reflect.DeepEqual(got.(*VehicleState), want) {
			t.Fatalf("Decode(%q)\n got %#v\nwant %#v", b, got, want)
		}
	}
}

func TestVehicleStateJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		s := randState(r)
		want, wantErr := json.Marshal(s)
		got, err := JSON[VehicleState]{}.Encode(s)
		if (err == nil) != (wantErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("state %d: Encode = %s, %v\njson.Marshal = %s, %v", i, got, err, want, wantErr)
		}
		if err != nil {
			continue
		}
		if _, ok := s.appendJSON(nil); !ok {
			t.Fatalf("state %d: the fast encoder gave up on %s", i, want)
		}
		if !new(VehicleState).parseJSON(want) {
			t.Fatalf("state %d: the fast decoder gave up on what the encoder wrote: %s", i, want)
		}
		checkDecode(t, want)
	}
}

func TestVehicleStateJSONRefusesNonFinite(t *testing.T) {
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		s := &VehicleState{VIN: "V", Stats: map[string]RollingStat{"x": {Mean: f}}}
		_, wantErr := json.Marshal(s)
		if _, err := (JSON[VehicleState]{}).Encode(s); err == nil || wantErr == nil || err.Error() != wantErr.Error() {
			t.Errorf("Encode with %v: %v, want json.Marshal's %v", f, err, wantErr)
		}
	}
	// A Value writes NaN as null, as its MarshalJSON always did.
	s := &VehicleState{VIN: "V", Signals: map[string]SignalState{"x": {Value: Number(math.NaN())}}}
	want, _ := json.Marshal(s)
	if got, err := (JSON[VehicleState]{}).Encode(s); err != nil || !bytes.Equal(got, want) {
		t.Errorf("Encode = %s, %v; want %s", got, err, want)
	}
}

func TestVehicleStateJSONDecodeOtherShapes(t *testing.T) {
	base := `{"vin":"V1","trip_id":"t","updated_at":"2021-03-06T08:13:05.112Z","signals":{"vehicle_speed":{"value":64.2,"time":"2021-03-06T08:13:05.112Z"},"location":{"value":{"latitude":1,"longitude":2},"time":"2021-03-06T08:13:05Z"}},"stats":{"vehicle_speed":{"n":3,"mean":60,"var":1.5}},"open_anomalies":{"overspeed":{"id":"a","vin":"V1","rule":"overspeed","signal":"vehicle_speed","state":"open","severity":"warning","value":190,"threshold":180,"started_at":"2021-03-06T08:13:05Z","time":"2021-03-06T08:13:05Z"}},"messages":7}`
	inputs := []string{
		base,
		" \n" + base + "\t ",
		strings.Replace(base, `"vin":"V1",`, ``, 1) + ``,
		strings.Replace(base, `{"vin":"V1",`, `{"messages":1,"vin":"V1",`, 1), // repeated field
		strings.Replace(base, `"vin"`, `"VIN"`, 1),                            // other case
		strings.Replace(base, `"vin"`, `"v\u0069n"`, 1),                       // escaped key
		strings.Replace(base, `"vin":"V1"`, `"vin":"V\u00fc\n"`, 1),
		strings.Replace(base, `"vin":"V1"`, `"vin":null`, 1),
		strings.Replace(base, `"vin":"V1"`, `"vin":17`, 1),
		strings.Replace(base, `"vin":"V1"`, `"vin":"V1","extra":[1,{"a":null}]`, 1),
		strings.Replace(base, `"messages":7`, `"messages":7.5`, 1),
		strings.Replace(base, `"messages":7`, `"messages":1e3`, 1),
		strings.Replace(base, `"messages":7`, `"messages":99999999999999999999`, 1),
		strings.Replace(base, `"messages":7`, `"messages":-0`, 1),
		strings.Replace(base, `"messages":7`, `"messages":07`, 1),
		strings.Replace(base, `"mean":60`, `"mean":1e400`, 1),
		strings.Replace(base, `"mean":60`, `"mean":null`, 1),
		strings.Replace(base, `"mean":60`, `"mean":"60"`, 1),
		strings.Replace(base, `"mean":60`, `"mean":60,"mean":61`, 1),
		strings.Replace(base, `"value":64.2`, `"value":null`, 1),
		strings.Replace(base, `"value":64.2`, `"value":"fast"`, 1),
		strings.Replace(base, `"value":64.2`, `"value":[1]`, 1),
		strings.Replace(base, `"value":64.2`, `"value":nul`, 1),
		strings.Replace(base, `"value":64.2`, `"value":+1`, 1),
		strings.Replace(base, `"value":64.2`, `"value":Infinity`, 1),
		strings.Replace(base, `"value":64.2`, `"value":true,"value":false`, 1),
		strings.Replace(base, `"value":64.2`, `"value":1e999`, 1),
		strings.Replace(base, `{"latitude":1,"longitude":2}`, `{"latitude":1}`, 1),
		strings.Replace(base, `{"latitude":1,"longitude":2}`, `{"latitude":1,"longitude":2,}`, 1),
		strings.Replace(base, `{"latitude":1,"longitude":2}`, `{"latitude":1,"longitude":2,"alt":3}`, 1),
		strings.Replace(base, `"updated_at":"2021-03-06T08:13:05.112Z"`, `"updated_at":null`, 1),
		strings.Replace(base, `"updated_at":"2021-03-06T08:13:05.112Z"`, `"updated_at":"2021-03-06 08:13:05"`, 1),
		strings.Replace(base, `"updated_at":"2021-03-06T08:13:05.112Z"`, `"updated_at":12`, 1),
		strings.Replace(base, `"updated_at":"2021-03-06T08:13:05.112Z"`, `"updated_at":"2021-03-06T08:13:05+01:00"`, 1),
		strings.Replace(base, `"signals":{`, `"signals":null,"x":{`, 1),
		strings.Replace(base, `"signals":{"vehicle_speed"`, `"signals":{},"signals":{"vehicle_speed"`, 1),
		strings.Replace(base, `"stats":{"vehicle_speed":{"n":3,"mean":60,"var":1.5}}`, `"stats":{}`, 1),
		strings.Replace(base, `"stats":{"vehicle_speed":{"n":3,"mean":60,"var":1.5}}`, `"stats":{"a":{"n":1},"a":{"var":2}}`, 1),
		strings.Replace(base, `"state":"open"`, `"state":"open","unknown":1`, 1),
		base + "x",
		base[:len(base)-1],
		base[:100],
		"null", "{}", "[]", "", `"x"`, "{", `{"vin":"a" "trip_id":"b"}`, `{"vin":"a",}`,
		`{"signals":{"a":{"value":1,"time":"2021-03-06T08:13:05Z","time":null}}}`,
		`{"signals":{"a":{"value":"\ud800","time":"2021-03-06T08:13:05Z"}}}`,
		"{\"vin\":\"a\x01\"}",
		"{\"vin\":\"a\xff\"}",
	}
	for i, in := range inputs {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkDecode(t, []byte(in)) })
	}
}

func FuzzVehicleStateDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		if b, err := json.Marshal(randState(r)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"vin":"V","signals":{"a":{"value":{"latitude":1,"longitude":2},"time":"2021-03-06T08:13:05Z"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b) })
}
