package influxtest

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Point is one parsed line: Fields hold float64, int64, uint64, string or bool.
type Point struct {
	Measurement string
	Tags        map[string]string
	Fields      map[string]any
	Time        int64 // Unix nanoseconds
}

// LineError is a line that does not parse.
type LineError struct {
	Line int    // 1-based number of the line the point starts on
	Text string // the line as sent
	Err  error
}

func (e LineError) Error() string { return fmt.Sprintf("unable to parse '%s': %v", e.Text, e.Err) }

// Parse parses line protocol as InfluxDB 1.x and 2.x do: measurement (backslash escapes comma
// and space), tags and field keys (backslash escapes comma, equals and space; other backslashes
// are literal), string fields in double quotes (backslash escapes quote and backslash; line
// breaks allowed), floats, integers (i), unsigned (u), booleans, and an optional nanosecond
// timestamp (now when missing). Empty lines and # comments are skipped. It returns the points
// that parse, each with its line number, and the lines that do not.
func Parse(body []byte, now int64) (points []Point, lines []int, errs []LineError) {
	p := &parser{s: string(body), line: 1}
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\n':
			p.i++
			p.line++
			continue
		case ' ', '\t', '\r':
			p.i++
			continue
		case '#':
			p.skipLine()
			continue
		}
		start, startLine := p.i, p.line
		pt, err := p.point(now)
		if err != nil {
			p.skipLine()
			text := strings.TrimRight(p.s[start:p.i], "\n")
			errs = append(errs, LineError{Line: startLine, Text: text, Err: err})
			continue
		}
		points = append(points, pt)
		lines = append(lines, startLine)
	}
	return points, lines, errs
}

type parser struct {
	s    string
	i    int
	line int
}

func (p *parser) skipLine() {
	for p.i < len(p.s) && p.s[p.i] != '\n' {
		p.i++
	}
}

// name reads up to an unescaped stop byte; escapable bytes lose their backslash, others keep it.
func (p *parser) name(stops, escapable string) (string, error) {
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '\n' {
			break
		}
		if c == '\\' && p.i+1 < len(p.s) && strings.IndexByte(escapable, p.s[p.i+1]) >= 0 {
			b.WriteByte(p.s[p.i+1])
			p.i += 2
			continue
		}
		if strings.IndexByte(stops, c) >= 0 {
			break
		}
		b.WriteByte(c)
		p.i++
	}
	return b.String(), nil
}

func (p *parser) point(now int64) (Point, error) {
	pt := Point{Tags: map[string]string{}, Fields: map[string]any{}, Time: now}
	m, _ := p.name(", ", ", ")
	if m == "" {
		return pt, errors.New("missing measurement")
	}
	pt.Measurement = m
	for p.i < len(p.s) && p.s[p.i] == ',' {
		p.i++
		k, _ := p.name("=, ", ",= ")
		if p.i >= len(p.s) || p.s[p.i] != '=' || k == "" {
			return pt, errors.New("missing tag key")
		}
		p.i++
		v, _ := p.name(", ", ",= ")
		if v == "" {
			return pt, errors.New("missing tag value")
		}
		if p.i < len(p.s) && p.s[p.i] == '=' {
			return pt, errors.New("invalid tag format")
		}
		pt.Tags[k] = v
	}
	if p.i >= len(p.s) || p.s[p.i] != ' ' {
		return pt, errors.New("missing fields")
	}
	p.i++
	for {
		k, _ := p.name("=, ", ",= ")
		if p.i >= len(p.s) || p.s[p.i] != '=' || k == "" {
			return pt, errors.New("missing field key")
		}
		p.i++
		v, err := p.value()
		if err != nil {
			return pt, fmt.Errorf("field %s: %w", k, err)
		}
		pt.Fields[k] = v
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		break
	}
	if p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
		start := p.i
		for p.i < len(p.s) && p.s[p.i] != '\n' && p.s[p.i] != ' ' {
			p.i++
		}
		ts, err := strconv.ParseInt(p.s[start:p.i], 10, 64)
		if err != nil {
			return pt, fmt.Errorf("bad timestamp %q", p.s[start:p.i])
		}
		pt.Time = ts
	}
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\r') {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] != '\n' {
		return pt, errors.New("unexpected text after the timestamp")
	}
	return pt, nil
}

func (p *parser) value() (any, error) {
	if p.i < len(p.s) && p.s[p.i] == '"' {
		p.i++
		var b strings.Builder
		for p.i < len(p.s) {
			c := p.s[p.i]
			if c == '\\' && p.i+1 < len(p.s) && (p.s[p.i+1] == '"' || p.s[p.i+1] == '\\') {
				b.WriteByte(p.s[p.i+1])
				p.i += 2
				continue
			}
			if c == '"' {
				p.i++
				return b.String(), nil
			}
			if c == '\n' {
				p.line++
			}
			b.WriteByte(c)
			p.i++
		}
		return nil, errors.New("unbalanced quotes")
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ',' && p.s[p.i] != ' ' && p.s[p.i] != '\n' {
		p.i++
	}
	raw := p.s[start:p.i]
	switch raw {
	case "t", "T", "true", "True", "TRUE":
		return true, nil
	case "f", "F", "false", "False", "FALSE":
		return false, nil
	case "":
		return nil, errors.New("missing field value")
	}
	switch raw[len(raw)-1] {
	case 'i':
		return strconv.ParseInt(raw[:len(raw)-1], 10, 64)
	case 'u':
		return strconv.ParseUint(raw[:len(raw)-1], 10, 64)
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("invalid number %q", raw)
	}
	return f, nil
}
