package codecs

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// vehicle-state reads and writes its table value (a VehicleState of about 2 KB) on every
// telemetry message, and encoding/json spends most of that time on reflection and on validating
// its own output. JSON[T] therefore takes the fast paths below for VehicleState: an encoder that
// writes exactly the bytes json.Marshal writes, and a decoder for the shape that encoder writes,
// which gives up (and JSON[T] falls back to json.Unmarshal on a fresh value) on anything else —
// other key spellings, unknown or repeated fields, null where a value is expected, malformed
// input — so the result, and every error, is json.Unmarshal's. codecs/statejson_test.go holds
// both to encoding/json.

// jsonAppender is a value JSON[T] encodes without encoding/json. ok false means: use
// json.Marshal (which then reports the error, e.g. for NaN).
type jsonAppender interface {
	appendJSON(b []byte) (_ []byte, ok bool)
}

// jsonParser is a value JSON[T] decodes without encoding/json when parseJSON returns true.
type jsonParser interface {
	parseJSON(b []byte) bool
}

func (s *VehicleState) appendJSON(b []byte) ([]byte, bool) {
	ok := true
	var buf [32]string
	b = append(b, `{"vin":`...)
	b = appendJSONString(b, s.VIN)
	if s.TripID != "" {
		b = append(b, `,"trip_id":`...)
		b = appendJSONString(b, s.TripID)
	}
	b = append(b, `,"updated_at":`...)
	if b, ok = appendJSONTime(b, s.UpdatedAt); !ok {
		return nil, false
	}
	b = append(b, `,"signals":`...)
	if s.Signals == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, k := range sortedKeys(s.Signals, buf[:0]) {
			if i > 0 {
				b = append(b, ',')
			}
			sig := s.Signals[k]
			b = appendJSONString(b, k)
			b = append(b, `:{"value":`...)
			b = sig.Value.appendJSON(b)
			b = append(b, `,"time":`...)
			if b, ok = appendJSONTime(b, sig.Time); !ok {
				return nil, false
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	if len(s.Stats) > 0 {
		b = append(b, `,"stats":{`...)
		for i, k := range sortedKeys(s.Stats, buf[:0]) {
			if i > 0 {
				b = append(b, ',')
			}
			st := s.Stats[k]
			b = appendJSONString(b, k)
			b = append(b, `:{"n":`...)
			b = strconv.AppendInt(b, st.N, 10)
			b = append(b, `,"mean":`...)
			if b, ok = appendJSONFloat(b, st.Mean); !ok {
				return nil, false
			}
			b = append(b, `,"var":`...)
			if b, ok = appendJSONFloat(b, st.Var); !ok {
				return nil, false
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	if len(s.OpenAnomalies) > 0 {
		b = append(b, `,"open_anomalies":{`...)
		for i, k := range sortedKeys(s.OpenAnomalies, buf[:0]) {
			if i > 0 {
				b = append(b, ',')
			}
			a := s.OpenAnomalies[k]
			b = appendJSONString(b, k)
			b = append(b, ':')
			if b, ok = a.appendJSON(b); !ok {
				return nil, false
			}
		}
		b = append(b, '}')
	}
	b = append(b, `,"messages":`...)
	b = strconv.AppendInt(b, s.Messages, 10)
	return append(b, '}'), true
}

func (a *Anomaly) appendJSON(b []byte) ([]byte, bool) {
	ok := true
	b = append(b, `{"id":`...)
	b = appendJSONString(b, a.ID)
	b = append(b, `,"vin":`...)
	b = appendJSONString(b, a.VIN)
	if a.TripID != "" {
		b = append(b, `,"trip_id":`...)
		b = appendJSONString(b, a.TripID)
	}
	b = append(b, `,"rule":`...)
	b = appendJSONString(b, a.Rule)
	b = append(b, `,"signal":`...)
	b = appendJSONString(b, a.Signal)
	b = append(b, `,"state":`...)
	b = appendJSONString(b, string(a.State))
	b = append(b, `,"severity":`...)
	b = appendJSONString(b, a.Severity)
	b = append(b, `,"value":`...)
	if b, ok = appendJSONFloat(b, a.Value); !ok {
		return nil, false
	}
	b = append(b, `,"threshold":`...)
	if b, ok = appendJSONFloat(b, a.Threshold); !ok {
		return nil, false
	}
	if a.Message != "" {
		b = append(b, `,"message":`...)
		b = appendJSONString(b, a.Message)
	}
	b = append(b, `,"started_at":`...)
	if b, ok = appendJSONTime(b, a.StartedAt); !ok {
		return nil, false
	}
	b = append(b, `,"time":`...)
	if b, ok = appendJSONTime(b, a.Time); !ok {
		return nil, false
	}
	return append(b, '}'), true
}

// sortedKeys appends m's keys to buf in encoding/json's order (byte-wise).
func sortedKeys[V any](m map[string]V, buf []string) []string {
	for k := range m {
		buf = append(buf, k)
	}
	slices.Sort(buf)
	return buf
}

// appendJSONString writes s as encoding/json does (HTML-safe escaping): strings of plain
// printable ASCII directly, anything else through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			enc, _ := json.Marshal(s) // a string always marshals
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat writes a float64 field as encoding/json does; ok is false for NaN and ±Inf,
// which it refuses.
func appendJSONFloat(b []byte, f float64) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}

// appendJSONTime writes t as time.Time's MarshalJSON does; ok is false where that fails.
func appendJSONTime(b []byte, t time.Time) ([]byte, bool) {
	b = append(b, '"')
	b, err := t.AppendText(b)
	if err != nil {
		return b, false
	}
	return append(b, '"'), true
}

// signalNames maps each known signal name to itself.
var signalNames = func() map[string]string {
	m := make(map[string]string, len(knownSignals))
	for name := range knownSignals {
		m[name] = name
	}
	return m
}()

// jsonReader reads the JSON that the appendJSON methods write. Its methods return false, and
// set bad, for anything they do not accept exactly as encoding/json would; the caller then
// gives up.
type jsonReader struct {
	b   []byte
	i   int
	bad bool
	key []byte // the key of the member being read, unquoted
}

func (r *jsonReader) fail() bool {
	r.bad = true
	return false
}

func (r *jsonReader) skip(c byte) bool {
	r.i = skipSpace(r.b, r.i)
	if r.i < len(r.b) && r.b[r.i] == c {
		r.i++
		return true
	}
	return false
}

// null reads a null if one comes next.
func (r *jsonReader) null() bool {
	r.i = skipSpace(r.b, r.i)
	if end := skipValue(r.b, r.i); end > 0 && string(r.b[r.i:end]) == "null" {
		r.i = end
		return true
	}
	return false
}

// end reports whether only white space is left.
func (r *jsonReader) end() bool { return !r.bad && skipSpace(r.b, r.i) == len(r.b) }

// rawString returns the next token, a valid JSON string, with its quotes, and whether it
// needs no unquoting.
func (r *jsonReader) rawString() (raw []byte, plain bool, ok bool) {
	r.i = skipSpace(r.b, r.i)
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return nil, false, r.fail()
	}
	// One pass finds the closing quote and whether the content needs no unquoting: no
	// escapes, no control characters, valid UTF-8 (what plainString accepts).
	start, end := r.i, -1
	plain, ascii := true, true
	for j := start + 1; j < len(r.b); j++ {
		c := r.b[j]
		if c == '"' {
			end = j + 1
			break
		}
		switch {
		case c == '\\':
			plain = false
			j++
		case c < 0x20:
			plain = false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if end < 0 {
		return nil, false, r.fail()
	}
	raw = r.b[start:end]
	r.i = end
	if plain && (ascii || utf8.Valid(raw[1:len(raw)-1])) {
		return raw, true, true
	}
	if !json.Valid(raw) {
		return nil, false, r.fail()
	}
	return raw, false, true
}

func (r *jsonReader) string() (string, bool) {
	raw, plain, ok := r.rawString()
	if !ok {
		return "", false
	}
	if plain {
		return string(raw[1 : len(raw)-1]), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", r.fail()
	}
	return s, true
}

// name reads a map key: a known signal name is the constant, not a new copy per decode.
func (r *jsonReader) name() string {
	if n, ok := signalNames[string(r.key)]; ok {
		return n
	}
	return string(r.key)
}

// firstMember reads the opening brace of an object and the first member's key into r.key;
// false at the end of the object (or, with r.bad set, on anything else).
func (r *jsonReader) firstMember() bool {
	if !r.skip('{') {
		return r.fail()
	}
	if r.skip('}') {
		return false
	}
	return r.readKey()
}

// nextMember reads the comma and the next member's key; false at the closing brace.
func (r *jsonReader) nextMember() bool {
	if r.bad {
		return false
	}
	if r.skip(',') {
		return r.readKey()
	}
	if !r.skip('}') {
		return r.fail()
	}
	return false
}

func (r *jsonReader) readKey() bool {
	raw, plain, ok := r.rawString()
	if !ok {
		return false
	}
	if plain {
		r.key = raw[1 : len(raw)-1]
	} else {
		var k string
		if err := json.Unmarshal(raw, &k); err != nil {
			return r.fail()
		}
		r.key = []byte(k)
	}
	if !r.skip(':') {
		return r.fail()
	}
	return true
}

// scalar returns the next token, a valid JSON string, number, true, false or null.
func (r *jsonReader) scalar() ([]byte, bool) {
	r.i = skipSpace(r.b, r.i)
	if r.i >= len(r.b) {
		return nil, r.fail()
	}
	switch c := r.b[r.i]; {
	case c == '"':
		raw, _, ok := r.rawString()
		return raw, ok
	case c == '{' || c == '[':
		return nil, r.fail()
	}
	end := skipValue(r.b, r.i)
	if end < 0 {
		return nil, r.fail()
	}
	tok := r.b[r.i:end]
	switch string(tok) {
	case "true", "false", "null":
	default:
		if !jsonNumber(tok) {
			return nil, r.fail()
		}
	}
	r.i = end
	return tok, true
}

func (r *jsonReader) number() ([]byte, bool) {
	tok, ok := r.scalar()
	if !ok || !jsonNumber(tok) {
		return nil, r.fail()
	}
	return tok, true
}

func (r *jsonReader) float() (float64, bool) {
	tok, ok := r.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	if err != nil {
		return 0, r.fail()
	}
	return f, true
}

func (r *jsonReader) int64() (int64, bool) {
	tok, ok := r.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	if err != nil {
		return 0, r.fail()
	}
	return n, true
}

// time reads a time.Time field the way encoding/json does: the raw token to UnmarshalJSON.
func (r *jsonReader) time(t *time.Time) bool {
	tok, ok := r.scalar()
	if !ok || t.UnmarshalJSON(tok) != nil {
		return r.fail()
	}
	return true
}

// value reads a Value field: a scalar, or the {"latitude","longitude"} object of a location,
// to Value's UnmarshalJSON as encoding/json hands it over.
func (r *jsonReader) value(v *Value) bool {
	r.i = skipSpace(r.b, r.i)
	var tok []byte
	if r.i < len(r.b) && r.b[r.i] == '{' {
		end := skipValue(r.b, r.i)
		if end < 0 || !json.Valid(r.b[r.i:end]) {
			return r.fail()
		}
		tok, r.i = r.b[r.i:end], end
	} else {
		var ok bool
		if tok, ok = r.scalar(); !ok {
			return false
		}
	}
	if v.UnmarshalJSON(tok) != nil {
		return r.fail()
	}
	return true
}

// fields guards against a field given twice, which encoding/json merges in ways not worth
// copying: the reader gives up instead.
type fields uint16

func (f *fields) first(r *jsonReader, bit fields) bool {
	if *f&bit != 0 {
		return r.fail()
	}
	*f |= bit
	return true
}

// jsonNumber reports whether tok is a JSON number.
func jsonNumber(tok []byte) bool {
	i := 0
	if i < len(tok) && tok[i] == '-' {
		i++
	}
	switch {
	case i < len(tok) && tok[i] == '0':
		i++
	case i < len(tok) && tok[i] >= '1' && tok[i] <= '9':
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(tok) && tok[i] == '.' {
		i++
		if i >= len(tok) || tok[i] < '0' || tok[i] > '9' {
			return false
		}
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
		}
	}
	if i < len(tok) && (tok[i] == 'e' || tok[i] == 'E') {
		i++
		if i < len(tok) && (tok[i] == '+' || tok[i] == '-') {
			i++
		}
		if i >= len(tok) || tok[i] < '0' || tok[i] > '9' {
			return false
		}
		for i < len(tok) && tok[i] >= '0' && tok[i] <= '9' {
			i++
		}
	}
	return i == len(tok)
}

func (s *VehicleState) parseJSON(b []byte) bool {
	r := &jsonReader{b: b}
	var seen fields
	for more := r.firstMember(); more; more = r.nextMember() {
		switch string(r.key) {
		case "vin":
			if seen.first(r, 1) {
				s.VIN, _ = r.string()
			}
		case "trip_id":
			if seen.first(r, 2) {
				s.TripID, _ = r.string()
			}
		case "updated_at":
			if seen.first(r, 4) {
				r.time(&s.UpdatedAt)
			}
		case "signals":
			if !seen.first(r, 8) {
				break
			}
			if r.null() {
				s.Signals = nil // what the encoder writes for a nil map
				break
			}
			s.Signals = make(map[string]SignalState, len(knownSignals))
			for more := r.firstMember(); more; more = r.nextMember() {
				name := r.name()
				var sig SignalState
				for more := r.firstMember(); more; more = r.nextMember() {
					switch string(r.key) {
					case "value":
						r.value(&sig.Value)
					case "time":
						r.time(&sig.Time)
					default:
						r.fail()
					}
				}
				s.Signals[name] = sig
			}
		case "stats":
			if !seen.first(r, 16) {
				break
			}
			s.Stats = make(map[string]RollingStat, len(knownSignals))
			for more := r.firstMember(); more; more = r.nextMember() {
				name := r.name()
				var st RollingStat
				for more := r.firstMember(); more; more = r.nextMember() {
					switch string(r.key) {
					case "n":
						st.N, _ = r.int64()
					case "mean":
						st.Mean, _ = r.float()
					case "var":
						st.Var, _ = r.float()
					default:
						r.fail()
					}
				}
				s.Stats[name] = st
			}
		case "open_anomalies":
			if !seen.first(r, 32) {
				break
			}
			s.OpenAnomalies = map[string]Anomaly{}
			for more := r.firstMember(); more; more = r.nextMember() {
				name := string(r.key)
				var a Anomaly
				a.parseJSON(r)
				s.OpenAnomalies[name] = a
			}
		case "messages":
			if seen.first(r, 64) {
				s.Messages, _ = r.int64()
			}
		default:
			r.fail()
		}
	}
	return r.end()
}

func (a *Anomaly) parseJSON(r *jsonReader) {
	var seen fields
	for more := r.firstMember(); more; more = r.nextMember() {
		switch string(r.key) {
		case "id":
			if seen.first(r, 1) {
				a.ID, _ = r.string()
			}
		case "vin":
			if seen.first(r, 2) {
				a.VIN, _ = r.string()
			}
		case "trip_id":
			if seen.first(r, 4) {
				a.TripID, _ = r.string()
			}
		case "rule":
			if seen.first(r, 8) {
				a.Rule, _ = r.string()
			}
		case "signal":
			if seen.first(r, 16) {
				a.Signal, _ = r.string()
			}
		case "state":
			if seen.first(r, 32) {
				state, _ := r.string()
				a.State = AnomalyState(state)
			}
		case "severity":
			if seen.first(r, 64) {
				a.Severity, _ = r.string()
			}
		case "value":
			if seen.first(r, 128) {
				a.Value, _ = r.float()
			}
		case "threshold":
			if seen.first(r, 256) {
				a.Threshold, _ = r.float()
			}
		case "message":
			if seen.first(r, 512) {
				a.Message, _ = r.string()
			}
		case "started_at":
			if seen.first(r, 1024) {
				r.time(&a.StartedAt)
			}
		case "time":
			if seen.first(r, 2048) {
				r.time(&a.Time)
			}
		default:
			r.fail()
		}
	}
}
