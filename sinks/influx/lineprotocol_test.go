package influx

import (
	"errors"
	"reflect"
	"testing"

	"github.com/fleetstream/fleetstream/sinks/influx/influxtest"
)

func TestLineEscaping(t *testing.T) {
	cases := []struct {
		name string
		p    point
		want string
	}{
		{"plain", point{measurement: "telemetry", tags: newTags("vin", "V1"), fields: []field{floatField("speed", 64.2)}, time: 1},
			`telemetry,vin=V1 speed=64.2 1`},
		{"measurement comma and space", point{measurement: "my data,x", fields: []field{floatField("f", 1)}, time: 2},
			`my\ data\,x f=1 2`},
		{"tag comma equals space", point{measurement: "m", tags: newTags("fleet zone", "nord=ost, Zürich"), fields: []field{boolField("ok", true)}, time: 3},
			`m,fleet\ zone=nord\=ost\,\ Zürich ok=true 3`},
		{"backslash in a tag is literal", point{measurement: "m", tags: newTags("path", `C:\temp`), fields: []field{intField("n", -4)}, time: 4},
			`m,path=C:\temp n=-4i 4`},
		{"field key escapes", point{measurement: "m", fields: []field{floatField("a b,c=d", 0.5)}, time: 5},
			`m a\ b\,c\=d=0.5 5`},
		{"string field quotes and backslashes", point{measurement: "m", fields: []field{stringField("msg", `gear "D", 3=drive \ok\`)}, time: 6},
			`m msg="gear \"D\", 3=drive \\ok\\" 6`},
		{"string field keeps a line break", point{measurement: "m", fields: []field{stringField("msg", "a\nb")}, time: 7},
			"m msg=\"a\nb\" 7"},
		{"floats exact, no integer suffix", point{measurement: "m", fields: []field{floatField("a", 3), floatField("b", 1e21), floatField("c", 0.30000000000000004)}, time: -8},
			`m a=3,b=1e+21,c=0.30000000000000004 -8`},
		{"tags sorted, empty dropped, first wins", point{measurement: "m", tags: newTags("vin", "V", "b", "", "a", "x", "vin", "other"), fields: []field{floatField("f", 1)}, time: 9},
			`m,a=x,vin=V f=1 9`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.check(); err != nil {
				t.Fatalf("check: %v", err)
			}
			got := string(tc.p.appendLine(nil))
			if got != tc.want {
				t.Fatalf("line\n got %s\nwant %s", got, tc.want)
			}
			// The stand-in's parser, which follows InfluxDB's rules, reads back what was meant.
			pts, _, errs := influxtest.Parse([]byte(got), 0)
			if len(errs) > 0 || len(pts) != 1 {
				t.Fatalf("parse %q: %v", got, errs)
			}
			want := influxtest.Point{Measurement: tc.p.measurement, Tags: map[string]string{}, Fields: map[string]any{}, Time: tc.p.time}
			for _, tg := range tc.p.tags {
				want.Tags[tg.key] = tg.value
			}
			for _, f := range tc.p.fields {
				switch f.kind {
				case 'f':
					want.Fields[f.key] = f.num
				case 's':
					want.Fields[f.key] = f.str
				case 'b':
					want.Fields[f.key] = f.bool
				case 'i':
					want.Fields[f.key] = f.whole
				}
			}
			if !reflect.DeepEqual(pts[0], want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", pts[0], want)
			}
		})
	}
}

func TestUnwritableNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    point
	}{
		{"tag value ends in backslash", point{measurement: "m", tags: newTags("t", `end\`), fields: []field{floatField("f", 1)}}},
		{"backslash before comma", point{measurement: "m", tags: newTags("t", `a\,b`), fields: []field{floatField("f", 1)}}},
		{"backslash before space in a field key", point{measurement: "m", fields: []field{floatField(`a\ b`, 1)}}},
		{"line break in a tag", point{measurement: "m", tags: newTags("t", "a\nb"), fields: []field{floatField("f", 1)}}},
		{"no field", point{measurement: "m"}},
		{"NaN", point{measurement: "m", fields: []field{floatField("f", nan())}}},
	} {
		if err := tc.p.check(); !errors.Is(err, errUnwritable) {
			t.Errorf("%s: check = %v, want errUnwritable", tc.name, err)
		}
	}
}

func nan() float64 { z := 0.0; return z / z }

func TestBadLinesFromMessages(t *testing.T) {
	mk := func(s ...string) []*line {
		var out []*line
		for _, m := range s {
			out = append(out, &line{p: &point{measurement: m, fields: []field{floatField("f", 1)}, time: 1}})
		}
		return out
	}
	lines := mk("a", "b", "c", "d")
	for _, tc := range []struct {
		name string
		err  rejectedError
		want []int
	}{
		{"v2 json line", rejectedError{msg: "partial write: x", line: 3}, []int{2}},
		{"v2 message lines", rejectedError{msg: "failed to parse line protocol:\nerrors encountered on line(s):\nline 2: bad\nline 4: bad"}, []int{1, 3}},
		{"v1 quoted lines", rejectedError{msg: "partial write: unable to parse 'b f=1 1': invalid field format\nunable to parse 'd f=1 1': missing field value dropped=0"}, []int{1, 3}},
		{"out of range", rejectedError{msg: "line 9: bad", line: 0}, nil},
		{"type conflict names none", rejectedError{msg: `partial write: field type conflict: input field "f" on measurement "a" is type string, already exists as type float dropped=1`}, nil},
	} {
		got := tc.err.badLines(lines, true)
		var idx []int
		for i := range lines {
			if got[i] {
				idx = append(idx, i)
			}
		}
		if !reflect.DeepEqual(idx, tc.want) {
			t.Errorf("%s: bad lines %v, want %v", tc.name, idx, tc.want)
		}
	}
	if got := (&rejectedError{line: 2}).badLines(lines, false); len(got) != 0 {
		t.Errorf("line numbers trusted although a string field had a line break: %v", got)
	}
}
