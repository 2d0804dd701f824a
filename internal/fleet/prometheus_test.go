package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/internal/devstack"
	"github.com/fleetstream/fleetstream/internal/fleet"
	"github.com/fleetstream/fleetstream/topology"
)

// metricsWorker runs the processor groups against an embedded broker with HTTP on a free
// port, feeds them a few readings and DTCs (before the worker starts when early is set), and
// returns the worker's base URL once every reading is applied.
func metricsWorker(t *testing.T, ctx context.Context, early bool) string {
	t.Helper()
	log := testLogger(t)
	kafka, err := devstack.StartKafka(ctx, devstack.KafkaConfig{Addr: "127.0.0.1:0", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kafka.Close)
	cfg := fleet.DefaultConfig()
	cfg.Kafka.Brokers = kafka.Brokers()
	cfg.Kafka.SessionTimeout = 6 * time.Second
	cfg.Groups = fleet.ProcessorGroups()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Logger = log
	vins := testVINs("1PROM", 8)
	produce := func() {
		recs := append(signalRecords(vins, 0, 5), dtcRecords(vins, 30)...)
		if err := directClient(t, kafka.Addr()).ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if early {
		if _, err := topology.EnsureTopics(ctx, cfg.Kafka, cfg.Provisioning.Specs(cfg.Topics, fleet.Tables()...)); err != nil {
			t.Fatal(err)
		}
		produce()
	}
	w, err := fleet.NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("worker: %v", err)
		}
	})
	base := "http://" + w.HTTPAddr()
	waitFor(t, ctx, "ready", func() bool { return get(base+"/readyz") == http.StatusOK })
	if !early {
		produce()
	}
	waitAllApplied(t, ctx, kafka.Addr(), vins, 5, 30*time.Second)
	return base
}

// TestWorkerOperationsMetrics reads the operations metrics off a running worker's /metrics:
// consumer lag per group and partition (down to 0 once everything is committed), table
// recovery and unit readiness.
func TestWorkerOperationsMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	base := metricsWorker(t, ctx, true)

	// The readings were there before the worker started: its first poll saw them all
	// uncommitted. The lag is polled every 10 s: wait for a poll after the last commit.
	first := metrics(base + "/metrics")
	if got := sum(first, `fleetstream_consumer_lag{group="vehicle-state"`); got != 40 {
		t.Errorf("first consumer lag of vehicle-state = %v, want the 40 readings produced before the start", got)
	}
	if got := sum(first, `fleetstream_consumer_lag{group="dtc-monitor"`); got != 8 {
		t.Errorf("first consumer lag of dtc-monitor = %v, want the 8 DTCs", got)
	}
	var m map[string]float64
	waitFor(t, ctx, "consumer lag 0 on every partition", func() bool {
		m = metrics(base + "/metrics")
		n := 0
		for k, v := range m {
			if strings.HasPrefix(k, "fleetstream_consumer_lag{") {
				n++
				if v != 0 {
					return false
				}
			}
		}
		return n == 3*6 // three groups, one input topic each, six partitions
	})
	for _, want := range []string{
		`fleetstream_consumer_lag{group="vehicle-state",partition="0",topic="telemetry"}`,
		`fleetstream_consumer_lag{group="dtc-monitor",partition="5",topic="diagnostics"}`,
		`fleetstream_consumer_lag{group="trip-state",partition="3",topic="trips"}`,
	} {
		if _, ok := m[want]; !ok {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for key, want := range map[string]float64{
		`fleetstream_table_recovered{group="trip-state"}`:                                   1,
		`fleetstream_table_recovered{group="vehicle-state"}`:                                1,
		`fleetstream_table_recovered{group="dtc-monitor"}`:                                  1,
		`fleetstream_table_recovery_lag{group="vehicle-state",table="trip-state-table"}`:    0,
		`fleetstream_table_recovery_lag{group="vehicle-state",table="vehicle-state-table"}`: 0,
		`fleetstream_table_recovery_lag{group="dtc-monitor",table="vehicle-state-table"}`:   0,
		`fleetstream_unit_ready{unit="vehicle-state"}`:                                      1,
		`fleetstream_unit_ready{unit="view:vehicle-state-table"}`:                           1,
		`fleetstream_unit_ready{unit="view:trip-state-table"}`:                              1,
	} {
		if got, ok := m[key]; !ok || got != want {
			t.Errorf("%s = %v (present: %v), want %v", key, got, ok, want)
		}
	}
	if got := sum(m, `fleetstream_messages_processed_total{group="vehicle-state"`); got < 40 {
		t.Errorf("vehicle-state processed %v messages, want at least 40", got)
	}
	if _, ok := m[`fleetstream_unit_ready{unit="consumer-lag"}`]; ok {
		t.Error("the lag monitor is listed as a unit with readiness")
	}
}

// TestPrometheusScrapesWorker starts a real Prometheus server scraping a running worker every
// second and asks its HTTP API for the worker's series.
func TestPrometheusScrapesWorker(t *testing.T) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("SKIPPED LOUDLY: prometheus not installed: apt-get install prometheus (the Prometheus scrape test needs the prometheus binary on PATH)")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	base := metricsWorker(t, ctx, false)
	target := strings.TrimPrefix(base, "http://")

	dir := t.TempDir()
	config := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: fleetstream
    static_configs:
      - targets: [%q]
`, target)), 0o644); err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	prom := exec.Command(bin, "--config.file="+config, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen, "--log.level=warn")
	logs := &syncBuffer{}
	prom.Stdout, prom.Stderr = logs, logs
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = prom.Process.Kill()
		_ = prom.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	api := "http://" + listen
	waitFor(t, ctx, "prometheus ready", func() bool { return get(api+"/-/ready") == http.StatusOK })

	for _, q := range []string{
		`up{job="fleetstream"} == 1`,
		`fleetstream_messages_processed_total{group="vehicle-state"} > 0`,
		`sum by (group) (fleetstream_messages_processed_total) > 0`,
		`fleetstream_table_recovered{group="vehicle-state"} == 1`,
		`fleetstream_unit_ready{unit="dtc-monitor"} == 1`,
		`fleetstream_consumer_lag{group="vehicle-state",topic="telemetry"}`,
		`fleetstream_commands_issued_total{result="issued"} > 0`,
		`fleetstream_dtc_events_total > 0`,
		`fleetstream_event_time_lag_seconds_count{group="vehicle-state"} > 0`,
	} {
		var n int
		waitFor(t, ctx, "prometheus query "+q, func() bool {
			n = promQuery(t, api, q)
			return n > 0
		})
		t.Logf("%s: %d series", q, n)
	}
}

// promQuery runs an instant query and returns how many series it found.
func promQuery(t *testing.T, api, q string) int {
	t.Helper()
	b, code := getBody(api + "/api/v1/query?query=" + url.QueryEscape(q))
	if code != http.StatusOK {
		if code == http.StatusBadRequest {
			t.Fatalf("query %s: %s", q, b)
		}
		return 0
	}
	var resp struct {
		Status string `json:"status"`
		Data   struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &resp); err != nil || resp.Status != "success" {
		t.Fatalf("query %s: %s (%v)", q, b, err)
	}
	return len(resp.Data.Result)
}
