package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// fakeStore is a VehicleStore over a map.
type fakeStore struct {
	mu        sync.Mutex
	vehicles  map[string]any
	err       error
	lastLimit int
	block     chan struct{} // when set, Vehicle waits for it to close (or for ctx)
}

func (f *fakeStore) Vehicle(ctx context.Context, vin string) (any, bool, error) {
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return nil, false, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, false, f.err
	}
	v, ok := f.vehicles[vin]
	return v, ok, nil
}

func (f *fakeStore) VINs(_ context.Context, limit int) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastLimit = limit
	if f.err != nil {
		return nil, f.err
	}
	var vins []string
	for vin := range f.vehicles {
		vins = append(vins, vin)
	}
	return vins, nil // ignores limit on purpose: the server must cut
}

type response struct {
	status int
	header http.Header
	body   string
}

func serve(t *testing.T, h http.Handler, method, target string) response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), method, target, nil))
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.String()}
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestHealthz(t *testing.T) {
	h := New(Options{}).Handler()
	r := serve(t, h, http.MethodGet, "/healthz")
	if r.status != http.StatusOK || r.body != "ok" {
		t.Fatalf("GET /healthz = %d %q, want 200 ok", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q", ct)
	}
	if r := serve(t, h, http.MethodHead, "/healthz"); r.status != http.StatusOK {
		t.Errorf("HEAD /healthz = %d, want 200", r.status)
	}
	if r := serve(t, h, http.MethodPost, "/healthz"); r.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", r.status)
	}
}

func TestReadyz(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ready  func(context.Context) error
		status int
		body   string
	}{
		{"no check", nil, http.StatusOK, "ok"},
		{"ready", func(context.Context) error { return nil }, http.StatusOK, "ok"},
		{"not ready", func(context.Context) error {
			return fmt.Errorf("table vehicle-state-table: %w", errors.New("recovering partition 3"))
		}, http.StatusServiceUnavailable, "table vehicle-state-table: recovering partition 3"},
		{"bounded", func(ctx context.Context) error {
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("Ready got a context without deadline")
			}
			return nil
		}, http.StatusOK, "ok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := serve(t, New(Options{Ready: tc.ready}).Handler(), http.MethodGet, "/readyz")
			if r.status != tc.status || r.body != tc.body {
				t.Fatalf("GET /readyz = %d %q, want %d %q", r.status, r.body, tc.status, tc.body)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	records := prometheus.NewCounter(prometheus.CounterOpts{Name: "fleetstream_records_total", Help: "Records processed."})
	reg.MustRegister(records)
	records.Add(3)

	r := serve(t, New(Options{Gatherer: reg}).Handler(), http.MethodGet, "/metrics")
	if r.status != http.StatusOK || !strings.Contains(r.body, "fleetstream_records_total 3") {
		t.Fatalf("GET /metrics = %d\n%s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want the text exposition format", ct)
	}

	// Without a Gatherer: empty, and not the process-wide default registry.
	r = serve(t, New(Options{}).Handler(), http.MethodGet, "/metrics")
	if r.status != http.StatusOK || strings.Contains(r.body, "go_goroutines") {
		t.Fatalf("GET /metrics without a Gatherer = %d\n%s", r.status, r.body)
	}
}

func TestVehicle(t *testing.T) {
	store := &fakeStore{vehicles: map[string]any{
		"1FTFW1E50PFA00001": map[string]any{"vin": "1FTFW1E50PFA00001", "signals": map[string]any{"oil_temp": 230.0}},
		"sim-vehicle_7":     map[string]any{"vin": "sim-vehicle_7"},
	}}
	h := New(Options{Vehicles: store, Logger: testLogger(t)}).Handler()
	for _, tc := range []struct {
		name, path string
		status     int
		want       map[string]any
	}{
		{"known", "/api/vehicles/1FTFW1E50PFA00001", http.StatusOK,
			map[string]any{"vin": "1FTFW1E50PFA00001", "signals": map[string]any{"oil_temp": 230.0}}},
		{"simulator VIN", "/api/vehicles/sim-vehicle_7", http.StatusOK, map[string]any{"vin": "sim-vehicle_7"}},
		{"unknown", "/api/vehicles/NOSUCHVIN00000000", http.StatusNotFound,
			map[string]any{"error": "vehicle not found", "vin": "NOSUCHVIN00000000"}},
		{"invalid character", "/api/vehicles/bad*vin", http.StatusBadRequest, nil},
		{"escaped slash", "/api/vehicles/a%2Fb", http.StatusBadRequest, nil},
		{"too long", "/api/vehicles/" + strings.Repeat("A", 65), http.StatusBadRequest, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := serve(t, h, http.MethodGet, tc.path)
			if r.status != tc.status {
				t.Fatalf("GET %s = %d %s, want %d", tc.path, r.status, r.body, tc.status)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatalf("body %q is not a JSON object: %v", r.body, err)
			}
			if tc.want != nil && fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("body = %v, want %v", got, tc.want)
			}
			if tc.status == http.StatusBadRequest && !strings.Contains(fmt.Sprint(got["error"]), "invalid VIN") {
				t.Errorf("400 body = %v, want an error explaining the VIN rule", got)
			}
		})
	}
}

func TestVehicleStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		retryAfter string
	}{
		{"unavailable", fmt.Errorf("view vehicle-state-table recovering: %w", ErrUnavailable), http.StatusServiceUnavailable, "1"},
		{"failure", errors.New("leveldb: closed"), http.StatusInternalServerError, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Options{Vehicles: &fakeStore{err: tc.err}, Logger: testLogger(t)}).Handler()
			for _, path := range []string{"/api/vehicles/VIN1", "/api/vehicles"} {
				r := serve(t, h, http.MethodGet, path)
				if r.status != tc.status || r.header.Get("Retry-After") != tc.retryAfter {
					t.Errorf("GET %s = %d (Retry-After %q) %s, want %d", path, r.status, r.header.Get("Retry-After"), r.body, tc.status)
				}
				if strings.Contains(r.body, "leveldb") {
					t.Errorf("GET %s leaks the store error: %s", path, r.body)
				}
				var body errorBody
				if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Error == "" {
					t.Errorf("GET %s body %q: want a JSON error", path, r.body)
				}
			}
		})
	}
}

func TestListVehicles(t *testing.T) {
	store := &fakeStore{vehicles: map[string]any{"VIN3": 1, "VIN1": 1, "VIN2": 1}}
	h := New(Options{Vehicles: store}).Handler()

	r := serve(t, h, http.MethodGet, "/api/vehicles")
	if r.status != http.StatusOK || r.body != `["VIN1","VIN2","VIN3"]`+"\n" {
		t.Fatalf("GET /api/vehicles = %d %q", r.status, r.body)
	}
	if store.lastLimit != DefaultVINLimit {
		t.Errorf("store asked for %d VINs, want the default %d", store.lastLimit, DefaultVINLimit)
	}

	r = serve(t, h, http.MethodGet, "/api/vehicles?limit=2")
	var vins []string
	if err := json.Unmarshal([]byte(r.body), &vins); err != nil || r.status != http.StatusOK || len(vins) != 2 || store.lastLimit != 2 {
		t.Fatalf("GET ?limit=2 = %d %q (store limit %d), want 2 VINs", r.status, r.body, store.lastLimit)
	}

	for _, q := range []string{"0", "-1", "abc", "10001", "1.5"} {
		if r := serve(t, h, http.MethodGet, "/api/vehicles?limit="+q); r.status != http.StatusBadRequest || !strings.Contains(r.body, "limit") {
			t.Errorf("GET ?limit=%s = %d %s, want 400 naming limit", q, r.status, r.body)
		}
	}

	empty := New(Options{Vehicles: &fakeStore{}}).Handler()
	if r := serve(t, empty, http.MethodGet, "/api/vehicles"); r.status != http.StatusOK || r.body != "[]\n" {
		t.Errorf("empty store: GET /api/vehicles = %d %q, want 200 []", r.status, r.body)
	}
}

func TestNoVehicleStore(t *testing.T) {
	h := New(Options{}).Handler()
	for _, path := range []string{"/api/vehicles", "/api/vehicles/VIN1"} {
		if r := serve(t, h, http.MethodGet, path); r.status != http.StatusNotFound {
			t.Errorf("GET %s without a store = %d, want 404", path, r.status)
		}
	}
}

// startServer runs s on an ephemeral port and returns its base URL and Run's result.
func startServer(t *testing.T, ctx context.Context, s *Server) (string, <-chan error) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	return "http://" + s.Addr(), done
}

func waitRun(t *testing.T, done <-chan error, within time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(within):
		t.Fatalf("Run did not return within %s", within)
		return nil
	}
}

func TestRunServesAndStops(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s := New(Options{Addr: "127.0.0.1:0", Logger: testLogger(t)})
	if s.Addr() != "" {
		t.Fatalf("Addr() before listening = %q, want empty", s.Addr())
	}
	base, done := startServer(t, ctx, s)
	if strings.HasSuffix(base, ":0") {
		t.Fatalf("Addr() = %q, want the chosen port", s.Addr())
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Fatalf("GET /healthz over TCP = %d %q", resp.StatusCode, body)
	}
	cancel()
	if err := waitRun(t, done, 2*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Error("still accepting connections after Run returned")
	}
}

func TestRunWithoutListen(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s := New(Options{Addr: "127.0.0.1:0"})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	deadline := time.Now().Add(2 * time.Second)
	for s.Addr() == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s.Addr() == "" {
		t.Fatal("Run did not bind within 2s")
	}
	cancel()
	if err := waitRun(t, done, 2*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestRunGracefulShutdown: a request in flight when ctx is cancelled still completes.
func TestRunGracefulShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	store := &fakeStore{vehicles: map[string]any{"VIN1": map[string]any{"vin": "VIN1"}}, block: make(chan struct{})}
	s := New(Options{Addr: "127.0.0.1:0", Vehicles: store, Logger: testLogger(t)})
	base, done := startServer(t, ctx, s)

	type result struct {
		status int
		err    error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := http.Get(base + "/api/vehicles/VIN1")
		if err != nil {
			got <- result{err: err}
			return
		}
		resp.Body.Close()
		got <- result{status: resp.StatusCode}
	}()
	time.Sleep(100 * time.Millisecond) // the request is now waiting in the store
	cancel()
	time.Sleep(100 * time.Millisecond) // shutdown has begun
	close(store.block)
	if r := <-got; r.err != nil || r.status != http.StatusOK {
		t.Fatalf("in-flight request: status %d, err %v; want 200", r.status, r.err)
	}
	if err := waitRun(t, done, 2*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestRunShutdownIsBounded: a request that never finishes does not hold Run past
// ShutdownTimeout.
func TestRunShutdownIsBounded(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	store := &fakeStore{block: make(chan struct{})} // never closed
	s := New(Options{Addr: "127.0.0.1:0", Vehicles: store, ShutdownTimeout: 200 * time.Millisecond, Logger: testLogger(t)})
	base, done := startServer(t, ctx, s)
	go func() {
		if resp, err := http.Get(base + "/api/vehicles/VIN1"); err == nil {
			resp.Body.Close()
		}
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	cancel()
	if err := waitRun(t, done, 2*time.Second); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("shutdown took %s with a 200ms ShutdownTimeout", d)
	}
}

func TestListenErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	s := New(Options{Addr: taken.Addr().String()})
	if err := s.Listen(); err == nil || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Errorf("Listen on a taken port: err = %v, want one naming %s", err, taken.Addr())
	}
	if err := s.Run(t.Context()); err == nil {
		t.Error("Run on a taken port returned nil")
	}
}

func TestHTTPServerTimeouts(t *testing.T) {
	srv := New(Options{}).httpServer(t.Context())
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 || srv.MaxHeaderBytes <= 0 {
		t.Errorf("server limits not all set: header %s read %s write %s idle %s max header %d",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout, srv.MaxHeaderBytes)
	}
}

func TestValidVIN(t *testing.T) {
	for vin, want := range map[string]bool{
		"1FTFW1E50PFA00001":     true,
		"sim-vehicle_7":         true,
		strings.Repeat("A", 64): true,
		"":                      false,
		strings.Repeat("A", 65): false,
		"VIN 1":                 false,
		"VIN/1":                 false,
		"VÏN1":                  false,
		"../../etc/passwd":      false,
		"1FTFW1E50PFA00001\x00": false,
	} {
		if got := ValidVIN(vin); got != want {
			t.Errorf("ValidVIN(%q) = %v, want %v", vin, got, want)
		}
	}
}
