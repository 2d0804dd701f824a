package codecs

import (
	"encoding/json"
	"math"
	"testing"
)

func TestValueJSON(t *testing.T) {
	tests := []struct {
		name string
		v    Value
		json string
	}{
		{"number", Number(47.4), `47.4`},
		{"integer", Number(3), `3`},
		{"negative", Number(-77.269385), `-77.269385`},
		{"zero", Number(0), `0`},
		{"large", Number(1e21), `1e+21`},
		{"small", Number(1e-7), `1e-07`},
		{"max float", Number(math.MaxFloat64), `1.7976931348623157e+308`},
		{"string", String("fifth"), `"fifth"`},
		{"empty string", String(""), `""`},
		{"string with quotes, markup and unicode", String(`say "hi" <b>&é☃`), `"say \"hi\" \u003cb\u003e\u0026é☃"`},
		{"true", Bool(true), `true`},
		{"false", Bool(false), `false`},
		{"location", Location(38.938734, -77.269385), `{"latitude":38.938734,"longitude":-77.269385}`},
		{"location at the origin", Location(0, 0), `{"latitude":0,"longitude":0}`},
		{"none", Value{}, `null`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.json {
				t.Errorf("Marshal = %s, want %s", got, tc.json)
			}
			var back Value
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			if !back.Equal(tc.v) {
				t.Errorf("round trip = %+v, want %+v", back, tc.v)
			}
		})
	}
}

func TestValueJSONNonFinite(t *testing.T) {
	// JSON has no NaN or infinity: such a value is written as null rather than failing the
	// encode (goka stops a processor on a codec error).
	for _, v := range []Value{
		Number(math.NaN()), Number(math.Inf(1)), Number(math.Inf(-1)),
		Location(math.NaN(), 1), Location(1, math.Inf(-1)),
	} {
		got, err := json.Marshal(v)
		if err != nil || string(got) != "null" {
			t.Errorf("Marshal(%+v) = %s, %v; want null", v, got, err)
		}
	}
}

func TestValueUnmarshal(t *testing.T) {
	var v Value
	for in, want := range map[string]Value{
		` 12.5 `: Number(12.5),
		`{"longitude":2,"latitude":1,"altitude":3}`: Location(1, 2),
		`"a\u0062c"`: String("abc"),
		`null`:       {},
	} {
		if err := json.Unmarshal([]byte(in), &v); err != nil || !v.Equal(want) {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", in, v, err, want)
		}
	}
	for _, in := range []string{`[1]`, `{"latitude":1}`, `{"latitude":"1","longitude":2}`, `1e400`, `{}`} {
		if err := json.Unmarshal([]byte(in), &v); err == nil {
			t.Errorf("Unmarshal(%s) = %+v, want an error", in, v)
		}
	}
	// UnmarshalJSON called directly, with what encoding/json would never hand it.
	for _, in := range []string{``, ` `, `"abc`, `"a"b"`, `tru`, `NaN`, `Inf`, `0x10`, `nonsense`} {
		if err := v.UnmarshalJSON([]byte(in)); err == nil && in[0] != 'n' {
			t.Errorf("UnmarshalJSON(%q) = %+v, want an error", in, v)
		}
	}
}

func TestValueString(t *testing.T) {
	for v, want := range map[Value]string{
		Number(47.4): "47.4", Number(1e21): "1e+21", String("run"): "run", Bool(true): "true",
		Location(38.938734, -77.269385): "38.938734,-77.269385", {}: "",
	} {
		if got := v.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", v, got, want)
		}
	}
	for k, want := range map[Kind]string{KindNone: "none", KindNumber: "number", KindString: "string", KindBool: "bool", KindLocation: "location", 99: "none"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}
