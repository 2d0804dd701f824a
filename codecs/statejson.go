package codecs

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
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

// jsonReader reads the JSON that the appendJSON methods write. Every method returns false for
// anything it does not accept exactly as encoding/json would, and the caller then gives up.
type jsonReader struct {
	b []byte
	i int
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
func (r *jsonReader) end() bool { return skipSpace(r.b, r.i) == len(r.b) }

// rawString returns the next token, a valid JSON string, with its quotes.
func (r *jsonReader) rawString() ([]byte, bool) {
	r.i = skipSpace(r.b, r.i)
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return nil, false
	}
	end := skipString(r.b, r.i)
	if end < 0 {
		return nil, false
	}
	raw := r.b[r.i:end]
	r.i = end
	return raw, true
}

func (r *jsonReader) string() (string, bool) {
	raw, ok := r.rawString()
	if !ok {
		return "", false
	}
	if name, known := signalNames[string(raw[1:len(raw)-1])]; known {
		return name, true // a signal name, the keys of every map: no new copy per decode
	}
	if s, ok := plainString(raw); ok {
		return s, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

// scalar returns the next token, a valid JSON string, number, true, false or null.
func (r *jsonReader) scalar() ([]byte, bool) {
	r.i = skipSpace(r.b, r.i)
	if r.i >= len(r.b) {
		return nil, false
	}
	switch c := r.b[r.i]; {
	case c == '"':
		raw, ok := r.rawString()
		if !ok {
			return nil, false
		}
		if _, ok := plainString(raw); !ok && !json.Valid(raw) {
			return nil, false
		}
		return raw, true
	case c == '{' || c == '[':
		return nil, false
	}
	end := skipValue(r.b, r.i)
	if end < 0 {
		return nil, false
	}
	tok := r.b[r.i:end]
	switch string(tok) {
	case "true", "false", "null":
	default:
		if !jsonNumber(tok) {
			return nil, false
		}
	}
	r.i = end
	return tok, true
}

func (r *jsonReader) number() ([]byte, bool) {
	tok, ok := r.scalar()
	if !ok || !jsonNumber(tok) {
		return nil, false
	}
	return tok, true
}

func (r *jsonReader) float() (float64, bool) {
	tok, ok := r.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(tok), 64)
	return f, err == nil
}

func (r *jsonReader) int64() (int64, bool) {
	tok, ok := r.number()
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	return n, err == nil
}

// time reads a time.Time field the way encoding/json does: the raw token to UnmarshalJSON.
func (r *jsonReader) time(t *time.Time) bool {
	tok, ok := r.scalar()
	return ok && t.UnmarshalJSON(tok) == nil
}

// value reads a Value field: a scalar, or the {"latitude","longitude"} object of a location,
// to Value's UnmarshalJSON as encoding/json hands it over.
func (r *jsonReader) value(v *Value) bool {
	r.i = skipSpace(r.b, r.i)
	var tok []byte
	if r.i < len(r.b) && r.b[r.i] == '{' {
		end := skipValue(r.b, r.i)
		if end < 0 || !json.Valid(r.b[r.i:end]) {
			return false
		}
		tok, r.i = r.b[r.i:end], end
	} else {
		var ok bool
		if tok, ok = r.scalar(); !ok {
			return false
		}
	}
	return v.UnmarshalJSON(tok) == nil
}

// object reads an object, calling member for each key with the reader at its value; member
// reads the value. Keys are unquoted as encoding/json does.
func (r *jsonReader) object(member func(key string) bool) bool {
	if !r.skip('{') {
		return false
	}
	if r.skip('}') {
		return true
	}
	for {
		key, ok := r.string()
		if !ok || !r.skip(':') || !member(key) {
			return false
		}
		if r.skip(',') {
			continue
		}
		return r.skip('}')
	}
}

// fields guards against a field given twice, which encoding/json merges in ways not worth
// copying: the caller gives up instead.
type fields uint16

func (f *fields) first(bit fields) bool {
	if *f&bit != 0 {
		return false
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
	r := jsonReader{b: b}
	var seen fields
	ok := r.object(func(key string) bool {
		switch key {
		case "vin":
			var ok bool
			s.VIN, ok = r.string()
			return seen.first(1) && ok
		case "trip_id":
			var ok bool
			s.TripID, ok = r.string()
			return seen.first(2) && ok
		case "updated_at":
			return seen.first(4) && r.time(&s.UpdatedAt)
		case "signals":
			if r.null() {
				s.Signals = nil // what the encoder writes for a nil map
				return seen.first(8)
			}
			s.Signals = make(map[string]SignalState, len(knownSignals))
			return seen.first(8) && r.object(func(name string) bool {
				var sig SignalState
				ok := r.object(func(key string) bool {
					switch key {
					case "value":
						return r.value(&sig.Value)
					case "time":
						return r.time(&sig.Time)
					}
					return false
				})
				s.Signals[name] = sig
				return ok
			})
		case "stats":
			s.Stats = make(map[string]RollingStat, len(knownSignals))
			return seen.first(16) && r.object(func(name string) bool {
				var st RollingStat
				ok := r.object(func(key string) bool {
					var ok bool
					switch key {
					case "n":
						st.N, ok = r.int64()
					case "mean":
						st.Mean, ok = r.float()
					case "var":
						st.Var, ok = r.float()
					}
					return ok
				})
				s.Stats[name] = st
				return ok
			})
		case "open_anomalies":
			s.OpenAnomalies = map[string]Anomaly{}
			return seen.first(32) && r.object(func(name string) bool {
				var a Anomaly
				ok := a.parseJSON(&r)
				s.OpenAnomalies[name] = a
				return ok
			})
		case "messages":
			var ok bool
			s.Messages, ok = r.int64()
			return seen.first(64) && ok
		}
		return false
	})
	return ok && r.end()
}

func (a *Anomaly) parseJSON(r *jsonReader) bool {
	var seen fields
	return r.object(func(key string) bool {
		var ok bool
		var state string
		switch key {
		case "id":
			a.ID, ok = r.string()
			return seen.first(1) && ok
		case "vin":
			a.VIN, ok = r.string()
			return seen.first(2) && ok
		case "trip_id":
			a.TripID, ok = r.string()
			return seen.first(4) && ok
		case "rule":
			a.Rule, ok = r.string()
			return seen.first(8) && ok
		case "signal":
			a.Signal, ok = r.string()
			return seen.first(16) && ok
		case "state":
			state, ok = r.string()
			a.State = AnomalyState(state)
			return seen.first(32) && ok
		case "severity":
			a.Severity, ok = r.string()
			return seen.first(64) && ok
		case "value":
			a.Value, ok = r.float()
			return seen.first(128) && ok
		case "threshold":
			a.Threshold, ok = r.float()
			return seen.first(256) && ok
		case "message":
			a.Message, ok = r.string()
			return seen.first(512) && ok
		case "started_at":
			return seen.first(1024) && r.time(&a.StartedAt)
		case "time":
			return seen.first(2048) && r.time(&a.Time)
		}
		return false
	})
}
