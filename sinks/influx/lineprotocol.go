package influx

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Line protocol escaping, as InfluxDB 1.x and 2.x parse it (their shared models package):
//
//   - measurement: backslash before comma and space;
//   - tag keys, tag values, field keys: backslash before comma, equals sign and space. A
//     backslash is not an escape of itself there: it is kept literally, so a name that ends in a
//     backslash, or has one right before a comma, equals sign or space, cannot be written;
//   - string field values: in double quotes, backslash before double quote and backslash.
//     Newlines are kept as they are inside the quotes.
//
// Names with a newline or carriage return, and empty names, cannot be written either.

// errUnwritable is wrapped by the errors of names and values line protocol cannot carry.
var errUnwritable = errors.New("not representable in line protocol")

func appendMeasurement(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',', ' ':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendKey appends a tag key, tag value or field key.
func appendKey(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ',', '=', ' ':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b = append(b, '\\', c)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// checkName reports why a measurement, tag or field name or tag value cannot be written.
func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%s is empty: %w", what, errUnwritable)
	}
	if strings.ContainsAny(s, "\n\r") {
		return fmt.Errorf("%s %q has a line break: %w", what, s, errUnwritable)
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if i == len(s)-1 {
			return fmt.Errorf("%s %q ends in a backslash: %w", what, s, errUnwritable)
		}
		if n := s[i+1]; n == ',' || n == '=' || n == ' ' {
			return fmt.Errorf("%s %q has a backslash before %q: %w", what, s, n, errUnwritable)
		}
	}
	return nil
}

// field is one field of a point: exactly one of the value kinds is set.
type field struct {
	key   string
	kind  byte // 'f' float, 's' string, 'b' bool, 'i' integer
	num   float64
	str   string
	bool  bool
	whole int64
}

func floatField(k string, v float64) field { return field{key: k, kind: 'f', num: v} }
func stringField(k, v string) field        { return field{key: k, kind: 's', str: v} }
func boolField(k string, v bool) field     { return field{key: k, kind: 'b', bool: v} }
func intField(k string, v int64) field     { return field{key: k, kind: 'i', whole: v} }

// point is one line: a series (measurement and tags) at a time, with fields.
type point struct {
	measurement string
	tags        []tag // sorted by key
	fields      []field
	time        int64 // Unix nanoseconds
}

type tag struct{ key, value string }

// seriesKey identifies the line a record's fields go to: same measurement, tags and time.
func (p *point) seriesKey() string {
	var b strings.Builder
	b.WriteString(p.measurement)
	for _, t := range p.tags {
		b.WriteByte(0)
		b.WriteString(t.key)
		b.WriteByte(0)
		b.WriteString(t.value)
	}
	b.WriteByte(0)
	b.WriteString(strconv.FormatInt(p.time, 10))
	return b.String()
}

// setField adds f, replacing a field of the same key (the later record wins).
func (p *point) setField(f field) {
	for i := range p.fields {
		if p.fields[i].key == f.key {
			p.fields[i] = f
			return
		}
	}
	p.fields = append(p.fields, f)
}

// check reports why p cannot be written.
func (p *point) check() error {
	if err := checkName("measurement", p.measurement); err != nil {
		return err
	}
	for _, t := range p.tags {
		if err := checkName("tag key", t.key); err != nil {
			return err
		}
		if err := checkName("tag "+t.key, t.value); err != nil {
			return err
		}
	}
	if len(p.fields) == 0 {
		return fmt.Errorf("no field to write: %w", errUnwritable)
	}
	for _, f := range p.fields {
		if err := checkName("field key", f.key); err != nil {
			return err
		}
		if f.kind == 'f' && (math.IsNaN(f.num) || math.IsInf(f.num, 0)) {
			return fmt.Errorf("field %s is %v: %w", f.key, f.num, errUnwritable)
		}
	}
	return nil
}

// appendLine appends p in line protocol, without the newline. Tags are sorted by key, as
// InfluxDB recommends; fields keep their order.
func (p *point) appendLine(b []byte) []byte {
	b = appendMeasurement(b, p.measurement)
	for _, t := range p.tags {
		b = append(b, ',')
		b = appendKey(b, t.key)
		b = append(b, '=')
		b = appendKey(b, t.value)
	}
	for i, f := range p.fields {
		if i == 0 {
			b = append(b, ' ')
		} else {
			b = append(b, ',')
		}
		b = appendKey(b, f.key)
		b = append(b, '=')
		switch f.kind {
		case 'f':
			b = strconv.AppendFloat(b, f.num, 'g', -1, 64)
		case 's':
			b = appendString(b, f.str)
		case 'b':
			b = strconv.AppendBool(b, f.bool)
		case 'i':
			b = strconv.AppendInt(b, f.whole, 10)
			b = append(b, 'i')
		}
	}
	b = append(b, ' ')
	return strconv.AppendInt(b, p.time, 10)
}

// newTags builds the sorted tag set of a point, leaving out empty values (InfluxDB has no
// empty tags) and keys already set (the first wins).
func newTags(kv ...string) []tag {
	var ts []tag
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" || slices.ContainsFunc(ts, func(t tag) bool { return t.key == kv[i] }) {
			continue
		}
		ts = append(ts, tag{kv[i], kv[i+1]})
	}
	slices.SortFunc(ts, func(a, b tag) int { return strings.Compare(a.key, b.key) })
	return ts
}
