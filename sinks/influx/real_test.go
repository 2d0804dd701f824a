package influx_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/influx"
	"github.com/fleetstream/fleetstream/sinks/influx/influxtest"
	"github.com/fleetstream/fleetstream/sinks/sinktest"
)

// TestConformanceRealInfluxDB1 runs the suite against a real InfluxDB 1.x (Debian's influxdb
// package: apt-get install influxdb) through the v1 API, with a proxy in front that injects the
// failures. It is skipped, loudly, where influxd is not installed.
func TestConformanceRealInfluxDB1(t *testing.T) {
	base := startInfluxd(t)
	var n atomic.Int32
	sinktest.Run(t, func(t *testing.T) sinktest.Harness {
		db := fmt.Sprintf("conformance%d", n.Add(1))
		influxQuery(t, base, "", "CREATE DATABASE "+db)
		h := &realHarness{base: base, db: db, rejected: map[string]bool{}}
		h.proxy = httptest.NewServer(http.HandlerFunc(h.serve))
		t.Cleanup(func() {
			h.proxy.CloseClientConnections()
			h.proxy.Close()
		})
		return h
	})
}

func startInfluxd(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("influxd")
	if err != nil {
		t.Skip("\n" + strings.Repeat("#", 90) + "\n#  SKIPPED: influxd (InfluxDB 1.x) is not installed, so the backend is not tested against a\n" +
			"#  real InfluxDB. Install it with: apt-get install -y influxdb\n" + strings.Repeat("#", 90))
	}
	dir := t.TempDir()
	httpPort, rpcPort := freePort(t), freePort(t)
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
`, rpcPort, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), httpPort)
	confPath := filepath.Join(dir, "influxdb.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "influxd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "-config", confPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start influxd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logFile.Close()
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/ping")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusNoContent {
				break
			}
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("influxd exited at start:\n%s", log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("influxd did not answer /ping within 20s:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, _ := exec.Command(bin, "version").Output()
	t.Logf("testing against %s on %s", strings.TrimSpace(string(out)), base)
	return base
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// influxQuery runs an InfluxQL statement and returns the decoded answer.
func influxQuery(t *testing.T, base, db, q string) map[string]any {
	t.Helper()
	form := url.Values{"q": {q}, "epoch": {"ns"}}
	if db != "" {
		form.Set("db", db)
	}
	resp, err := http.PostForm(base+"/query", form)
	if err != nil {
		t.Fatalf("query %q: %v", q, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("query %q: %s %v", q, resp.Status, err)
	}
	return out
}

// realHarness is a database on the real server behind a fault-injecting proxy.
type realHarness struct {
	base, db string
	proxy    *httptest.Server

	mu       sync.Mutex
	fail     int
	hang     int
	rejected map[string]bool
}

func (h *realHarness) NewBackend(t *testing.T) sinks.Backend {
	return newBackend(t, influx.Config{URL: h.proxy.URL, API: influx.APIv1, Database: h.db, MaxLinesPerRequest: 40})
}

func (h *realHarness) FailNext(n int) { h.mu.Lock(); h.fail += n; h.mu.Unlock() }
func (h *realHarness) HangNext()      { h.mu.Lock(); h.hang++; h.mu.Unlock() }
func (h *realHarness) RejectKeys(keys ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range keys {
		h.rejected[k] = true
	}
}

// serve forwards to influxd. Writes may instead fail (503), hang, or have the lines of
// rejected vehicles made unparsable, which InfluxDB then refuses in a partial write.
func (h *realHarness) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path == "/write" && len(body) > 0 {
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body, _ = io.ReadAll(zr)
			r.Header.Del("Content-Encoding")
		}
		h.mu.Lock()
		hang, fail := h.hang > 0, h.fail > 0 && h.hang == 0
		if hang {
			h.hang--
		} else if fail {
			h.fail--
		}
		var rejected []string
		for k := range h.rejected {
			rejected = append(rejected, regexp.QuoteMeta(k))
		}
		h.mu.Unlock()
		if hang {
			<-r.Context().Done()
			return
		}
		if fail {
			http.Error(w, `{"error":"injected: service unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		if len(rejected) > 0 {
			re := regexp.MustCompile(`(?m)^(.*,vin=(?:` + strings.Join(rejected, "|") + `)[ ,].*)$`)
			body = re.ReplaceAll(body, []byte("$1 rejected-by-proxy"))
		}
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, h.base+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

// Stored reads every point of the three measurements back with InfluxQL.
func (h *realHarness) Stored(t *testing.T) []sinktest.Item {
	t.Helper()
	var points []influxtest.Point
	for _, m := range []string{influx.DefaultTelemetryMeasurement, influx.DefaultAnomalyMeasurement, influx.DefaultDTCMeasurement} {
		res := influxQuery(t, h.base, h.db, fmt.Sprintf(`SELECT * FROM %q GROUP BY *`, m))
		results, _ := res["results"].([]any)
		if len(results) == 0 {
			continue
		}
		first, _ := results[0].(map[string]any)
		if e, ok := first["error"]; ok {
			t.Fatalf("query %s: %v", m, e)
		}
		series, _ := first["series"].([]any)
		for _, s := range series {
			sm := s.(map[string]any)
			tags := map[string]string{}
			for k, v := range asMap(sm["tags"]) {
				if s, _ := v.(string); s != "" {
					tags[k] = s
				}
			}
			cols := sm["columns"].([]any)
			for _, row := range sm["values"].([]any) {
				vals := row.([]any)
				p := influxtest.Point{Measurement: m, Tags: tags, Fields: map[string]any{}}
				for i, c := range cols {
					name := c.(string)
					switch v := vals[i].(type) {
					case nil:
					case json.Number:
						if name == "time" {
							p.Time, _ = v.Int64()
						} else {
							p.Fields[name], _ = v.Float64()
						}
					default:
						p.Fields[name] = v
					}
				}
				points = append(points, p)
			}
		}
	}
	return items(points)
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func TestConnectRealInfluxDB1(t *testing.T) {
	base := startInfluxd(t)
	influxQuery(t, base, "", "CREATE DATABASE present")
	if err := newBackend(t, influx.Config{URL: base, API: influx.APIv1, Database: "present"}).Connect(ctx(t)); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	err := newBackend(t, influx.Config{URL: base, API: influx.APIv1, Database: "absent"}).Connect(ctx(t))
	if err == nil || sinks.Retryable(err) || !strings.Contains(err.Error(), `database not found: "absent"`) || !strings.Contains(err.Error(), "CREATE DATABASE") {
		t.Fatalf("Connect to a missing database = %v, want a permanent error naming it and the fix", err)
	}
	recs := records(t, 1, 1)
	err = newBackend(t, influx.Config{URL: base, API: influx.APIv1, Database: "present", RetentionPolicy: "nope"}).WriteBatch(ctx(t), recs)
	if err == nil || sinks.Retryable(err) {
		t.Fatalf("write to a missing retention policy = %v, want a permanent error", err)
	}
}
