package influxtest

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is an InfluxDB stand-in speaking the v2 write API (POST /api/v2/write, GET /health)
// and the v1 one (POST /write, GET /ping). It gunzips, enforces the token (v2) or basic auth
// (v1, when Username is set), checks org, bucket and database, parses line protocol and keeps
// points the way InfluxDB does: a point with the series (measurement and tags) and time of a
// stored one updates its fields. Field types are enforced per measurement and field. Tests
// inject throttling, failures, hangs and refusals.
//
// v2 answers as InfluxDB 2.x OSS: a request with a line that does not parse is refused whole
// (400, "unable to parse '…'"). Points refused for other reasons (a field type conflict, a
// RejectTag) are dropped and the rest written: 400 "partial write: …", with the first refused
// line's number for RejectTag ("line": N, as InfluxDB 3 does) and none for a type conflict. v1
// answers as InfluxDB 1.x: lines that parse are written even when others do not.
type Server struct {
	// URL is the server's base URL.
	URL string
	// Org, Bucket and Token are what v2 writes must name (defaults: fleetstream, telemetry,
	// test-token); Database, Username and Password what v1 writes must (fleetstream, no auth).
	Org, Bucket, Token           string
	Database, Username, Password string

	srv *httptest.Server

	mu       sync.Mutex
	points   map[string]*Point
	order    []string
	types    map[string]string // measurement + "\x00" + field → type
	faults   []fault
	hangs    int
	rejected map[[2]string]bool
	requests int
	gzipped  int
	bodies   []string
}

type fault struct {
	status     int
	retryAfter string
}

// NewServer starts a server that stops when the test ends.
func NewServer(t testing.TB) *Server {
	s := &Server{
		Org: "fleetstream", Bucket: "telemetry", Token: "test-token", Database: "fleetstream",
		points: map[string]*Point{}, types: map[string]string{}, rejected: map[[2]string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"name": "influxdb", "status": "pass", "version": "v2.7.11-fake"})
	})
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("POST /api/v2/write", func(w http.ResponseWriter, r *http.Request) { s.write(w, r, false) })
	mux.HandleFunc("POST /write", func(w http.ResponseWriter, r *http.Request) { s.write(w, r, true) })
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(func() {
		s.srv.CloseClientConnections()
		s.srv.Close()
	})
	return s
}

// FailNext makes the next n writes answer status, with a Retry-After header when retryAfter is
// not empty.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.faults = append(s.faults, fault{status, retryAfter})
	}
}

// HangNext makes the next write wait until the client gives up.
func (s *Server) HangNext() {
	s.mu.Lock()
	s.hangs++
	s.mu.Unlock()
}

// RejectTag makes writes drop every point whose tag key has value (a partial write).
func (s *Server) RejectTag(key, value string) {
	s.mu.Lock()
	s.rejected[[2]string{key, value}] = true
	s.mu.Unlock()
}

// Points returns the stored points in the order their series and time were first written.
func (s *Server) Points() []Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Point, 0, len(s.order))
	for _, k := range s.order {
		p := *s.points[k]
		p.Tags, p.Fields = maps.Clone(p.Tags), maps.Clone(p.Fields)
		out = append(out, p)
	}
	return out
}

// Requests returns how many writes arrived, how many of them gzipped, and their bodies.
func (s *Server) Requests() (total, gzipped int, bodies []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.gzipped, slices.Clone(s.bodies)
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, v1 bool) {
	fail := func(status int, code, msg string) {
		if v1 {
			writeJSON(w, status, map[string]any{"error": msg})
			return
		}
		writeJSON(w, status, map[string]any{"code": code, "message": msg})
	}
	q := r.URL.Query()
	if v1 {
		if s.Username != "" {
			u, p, ok := r.BasicAuth()
			if !ok {
				u, p = q.Get("u"), q.Get("p")
			}
			if u != s.Username || p != s.Password {
				fail(http.StatusUnauthorized, "", "authorization failed")
				return
			}
		}
		if q.Get("db") != s.Database {
			fail(http.StatusNotFound, "", fmt.Sprintf("database not found: %q", q.Get("db")))
			return
		}
		if rp := q.Get("rp"); rp != "" && rp != "autogen" {
			fail(http.StatusInternalServerError, "", "retention policy not found: "+rp)
			return
		}
	} else {
		if r.Header.Get("Authorization") != "Token "+s.Token {
			fail(http.StatusUnauthorized, "unauthorized", "unauthorized access")
			return
		}
		if q.Get("org") != s.Org {
			fail(http.StatusNotFound, "not found", fmt.Sprintf("organization name %q not found", q.Get("org")))
			return
		}
		if q.Get("bucket") != s.Bucket {
			fail(http.StatusNotFound, "not found", fmt.Sprintf("bucket %q not found", q.Get("bucket")))
			return
		}
	}
	if p := q.Get("precision"); p != "" && p != "ns" {
		fail(http.StatusBadRequest, "invalid", "this stand-in only speaks precision=ns, got "+p)
		return
	}

	var body io.Reader = r.Body
	gz := r.Header.Get("Content-Encoding") == "gzip"
	if gz {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			fail(http.StatusBadRequest, "invalid", "unable to read data: "+err.Error())
			return
		}
		body = zr
	}
	raw, err := io.ReadAll(body)
	if err != nil {
		fail(http.StatusBadRequest, "invalid", "unable to read data: "+err.Error())
		return
	}

	s.mu.Lock()
	if len(raw) > 0 {
		s.requests++
		if gz {
			s.gzipped++
		}
		s.bodies = append(s.bodies, string(raw))
	}
	hang := s.hangs > 0 && len(raw) > 0
	var f *fault
	if hang {
		s.hangs--
	} else if len(s.faults) > 0 && len(raw) > 0 {
		f = &s.faults[0]
		s.faults = s.faults[1:]
	}
	s.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	if f != nil {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		fail(f.status, strings.ToLower(http.StatusText(f.status)), "injected: "+http.StatusText(f.status))
		return
	}
	if len(raw) == 0 {
		if v1 {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		fail(http.StatusBadRequest, "invalid", "writing requires points")
		return
	}

	points, lines, perrs := Parse(raw, time.Now().UnixNano())
	if len(perrs) > 0 && (!v1 || len(points) == 0) {
		msgs := make([]string, len(perrs))
		for i, e := range perrs {
			msgs[i] = e.Error()
		}
		fail(http.StatusBadRequest, "invalid", strings.Join(msgs, "\n"))
		return
	}

	s.mu.Lock()
	var problems []string
	dropped, firstRejected := 0, 0
	for i, p := range points {
		if s.rejectedLocked(p) {
			dropped++
			if firstRejected == 0 {
				firstRejected = lines[i]
			}
			continue
		}
		if msg := s.typeConflictLocked(p); msg != "" {
			dropped++
			problems = append(problems, msg)
			continue
		}
		s.storeLocked(p)
	}
	s.mu.Unlock()

	var msgs []string
	for _, e := range perrs {
		msgs = append(msgs, e.Error())
	}
	if firstRejected > 0 {
		msgs = append(msgs, fmt.Sprintf("point rejected by the test server's policy on line %d", firstRejected))
	}
	msgs = append(msgs, problems...)
	if len(msgs) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	msg := fmt.Sprintf("partial write: %s dropped=%d", strings.Join(msgs, "\n"), dropped)
	if v1 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": msg})
		return
	}
	resp := map[string]any{"code": "invalid", "message": msg}
	if firstRejected > 0 {
		resp["line"] = firstRejected
	}
	writeJSON(w, http.StatusBadRequest, resp)
}

func (s *Server) rejectedLocked(p Point) bool {
	for k, v := range p.Tags {
		if s.rejected[[2]string{k, v}] {
			return true
		}
	}
	return false
}

func typeName(v any) string {
	switch v.(type) {
	case float64:
		return "float"
	case int64:
		return "integer"
	case uint64:
		return "unsigned"
	case string:
		return "string"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}

// typeConflictLocked checks p's field types against the stored ones, as InfluxDB's
// "field type conflict"; the types of a point that passes are remembered.
func (s *Server) typeConflictLocked(p Point) string {
	for k, v := range p.Fields {
		if have, ok := s.types[p.Measurement+"\x00"+k]; ok && have != typeName(v) {
			return fmt.Sprintf("field type conflict: input field %q on measurement %q is type %s, already exists as type %s", k, p.Measurement, typeName(v), have)
		}
	}
	for k, v := range p.Fields {
		s.types[p.Measurement+"\x00"+k] = typeName(v)
	}
	return ""
}

func (s *Server) storeLocked(p Point) {
	var key strings.Builder
	key.WriteString(p.Measurement)
	for _, k := range slices.Sorted(maps.Keys(p.Tags)) {
		key.WriteString("\x00" + k + "\x00" + p.Tags[k])
	}
	fmt.Fprintf(&key, "\x00%d", p.Time)
	if have, ok := s.points[key.String()]; ok {
		maps.Copy(have.Fields, p.Fields)
		return
	}
	cp := p
	s.points[key.String()] = &cp
	s.order = append(s.order, key.String())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
