package deploy_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// conditionalMetrics exist only after something the test cannot make a short dev run do; they
// are checked against the source (a "<name>" literal in a non-test .go file) instead of a live
// /metrics.
var conditionalMetrics = map[string]string{
	"fleetstream_restarts_total":                "a unit stopped and was rebuilt (lost brokers, failed rebalance)",
	"fleetstream_sink_retries_total":            "a sink write failed retryably (throttling, timeouts, 5xx)",
	"fleetstream_command_publish_retries_total": "a command publish failed retryably",
}

// prometheusMetrics are made by Prometheus itself, not by a target.
var prometheusMetrics = map[string]bool{"up": true}

// promqlWords are PromQL's functions, aggregations and keywords: every other identifier outside
// label matchers, ranges and grouping clauses is a metric name.
var promqlWords = wordSet(`
		and or unless bool offset by without on ignoring group_left group_right inf nan atan2 start end
		sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio
		abs absent absent_over_time ceil changes clamp clamp_max clamp_min day_of_month day_of_week
		day_of_year days_in_month delta deriv exp floor histogram_avg histogram_count histogram_fraction
		histogram_quantile histogram_stddev histogram_stdvar histogram_sum holt_winters double_exponential_smoothing
		hour idelta increase irate label_join label_replace ln log2 log10 minute month predict_linear rate
		resets round scalar sgn sort sort_desc sort_by_label sort_by_label_desc sqrt time timestamp vector year
		avg_over_time min_over_time max_over_time sum_over_time count_over_time quantile_over_time
		stddev_over_time stdvar_over_time last_over_time present_over_time mad_over_time
		acos acosh asin asinh atan atanh cos cosh sin sinh tan tanh deg rad pi`)

func wordSet(words string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.Fields(words) {
		set[w] = true
	}
	return set
}

var (
	grafanaIntervalRE = regexp.MustCompile(`\$__(rate_interval|interval|range)\b`)
	grafanaVarRE      = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	promStringRE      = regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	promMatchersRE    = regexp.MustCompile(`\{[^}]*\}`)
	promRangeRE       = regexp.MustCompile(`\[[^\]]*\]`)
	promGroupingRE    = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promIdentRE       = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	labelValuesRE     = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`)
)

// grafanaToPromQL replaces Grafana's variables so the query is PromQL.
func grafanaToPromQL(q string) string {
	q = grafanaIntervalRE.ReplaceAllString(q, "5m")
	return grafanaVarRE.ReplaceAllString(q, ".*")
}

// metricNames returns the metric names a PromQL expression selects.
func metricNames(expr string) []string {
	s := promStringRE.ReplaceAllString(grafanaToPromQL(expr), `""`)
	s = promMatchersRE.ReplaceAllString(s, " ")
	s = promRangeRE.ReplaceAllString(s, " ")
	s = promGroupingRE.ReplaceAllString(s, " ")
	var out []string
	for _, loc := range promIdentRE.FindAllStringIndex(s, -1) {
		word := s[loc[0]:loc[1]]
		if loc[0] > 0 && (isDigit(s[loc[0]-1]) || s[loc[0]-1] == '.') {
			continue // 1e3, 0.5
		}
		if promqlWords[word] {
			continue
		}
		if strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "(") {
			continue // a function this list does not know would still not be a metric
		}
		if !slices.Contains(out, word) {
			out = append(out, word)
		}
	}
	return out
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

func TestMetricNamesFromPromQL(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string
	}{
		{`sum by (group) (max by (group, topic, partition) (fleetstream_consumer_lag)) > 10000`, []string{"fleetstream_consumer_lag"}},
		{`histogram_quantile(0.99, sum by (backend, le) (rate(fleetstream_command_latency_seconds_bucket{backend=~"$b"}[$__rate_interval]))) > 5`, []string{"fleetstream_command_latency_seconds_bucket"}},
		{`count(fleetstream_unit_ready == 0) or vector(0)`, []string{"fleetstream_unit_ready"}},
		{`fleetstream_table_recovered == 0 and on (instance, group) delta(fleetstream_table_recovery_lag[10m]) >= 0`, []string{"fleetstream_table_recovered", "fleetstream_table_recovery_lag"}},
		{`up{job=~"fleetstream.*", instance!="a{b}"} == 0`, []string{"up"}},
		{`60 * sum(rate(a_total[1m] offset 5m)) / 1e3`, []string{"a_total"}},
	} {
		if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
			t.Errorf("metricNames(%q) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

// dashboardQuery is one PromQL query of the Grafana dashboard.
type dashboardQuery struct{ where, expr string }

func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("grafana", "fleetstream.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID        string            `json:"uid"`
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("grafana/fleetstream.json: %v", err)
	}
	if dash.UID == "" {
		t.Error("the dashboard needs a fixed uid so links to it survive re-provisioning")
	}
	var out []dashboardQuery
	type panel struct {
		Title      string `json:"title"`
		Type       string `json:"type"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("panel: %v", err)
			}
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: datasource must be the ${datasource} variable", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				out = append(out, dashboardQuery{"panel " + p.Title, tg.Expr})
			}
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		q := fmt.Sprint(v.Query)
		if m, ok := v.Query.(map[string]any); ok {
			q = fmt.Sprint(m["query"])
		}
		m := labelValuesRE.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: query %q: only label_values(metric, label) is understood here", v.Name, q)
			continue
		}
		out = append(out, dashboardQuery{"variable " + v.Name, m[1]})
	}
	return out
}

// TestDashboardPromQL loads every dashboard query into Prometheus' rule parser (Grafana's
// variables replaced), so a query that would not parse fails here, not on a screen.
func TestDashboardPromQL(t *testing.T) {
	t.Parallel()
	queries := dashboardQueries(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range queries {
		expr, _ := json.Marshal(grafanaToPromQL(q.expr))
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %s\n", i, expr)
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool(t), "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("dashboard queries do not parse: %v\n%s\n%s", err, out, b.String())
	}
}

// TestLiveWorker runs `fleetstream dev` (embedded Kafka and MQTT brokers, every group, a
// simulated fleet) and checks that every metric the alerts and the dashboard use is on its
// /metrics, and that `fleetstream healthcheck` tells a live endpoint from a dead one.
func TestLiveWorker(t *testing.T) {
	t.Parallel()
	want := map[string][]string{}
	for _, a := range alertRules(t) {
		for _, m := range metricNames(a.Expr) {
			want[m] = append(want[m], "alert "+a.Alert)
		}
	}
	for _, q := range dashboardQueries(t) {
		for _, m := range metricNames(q.expr) {
			want[m] = append(want[m], "dashboard "+q.where)
		}
	}
	if len(want) < 10 {
		t.Fatalf("found only %d metric names in the alerts and the dashboard: %v", len(want), sortedKeys(want))
	}
	live := map[string][]string{}
	for name, users := range want {
		switch {
		case prometheusMetrics[name]:
		case conditionalMetrics[name] != "":
			if !inSource(t, name) {
				t.Errorf("%s (used by %v) is not defined in any .go file", name, users)
			}
		default:
			live[name] = users
		}
	}

	bin := fleetstreamBinary(t)
	dir := t.TempDir()
	// A rule that every reading breaks, so anomalies exist within a second.
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte("thresholds:\n  - {name: always, signal: vehicle_speed, op: above, threshold: -1, severity: info}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "dev", "--data-dir", filepath.Join(dir, "data"),
		"--kafka-addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--vehicles", "3", "--interval", "200ms", "--dtc-every", "1s", "--rules", rules)
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := cmd.Wait(); err != nil && t.Failed() {
			t.Logf("fleetstream dev: %v", err)
		}
		if t.Failed() {
			t.Logf("fleetstream dev stderr (tail):\n%s", stderr.tail(4000))
		}
	})
	addrs := make(chan map[string]string, 1)
	go func() {
		found := map[string]string{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && (f[0] == "kafka" || f[0] == "http") {
				found[f[0]] = f[1]
				if len(found) == 2 {
					addrs <- found
				}
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var kafkaAddr, httpURL string
	select {
	case a := <-addrs:
		kafkaAddr, httpURL = a["kafka"], a["http"]
	case <-time.After(30 * time.Second):
		t.Fatalf("fleetstream dev printed no kafka and http addresses in 30 s")
	}

	// A record no group can decode, so dead letters exist.
	produceGarbage(t, kafkaAddr)

	var missing []string
	deadline := time.Now().Add(45 * time.Second)
	var exported map[string]bool
	for {
		exported = scrape(t, httpURL+"/metrics")
		missing = missing[:0]
		for _, name := range sortedKeys(live) {
			if !exported[name] {
				missing = append(missing, name)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, name := range missing {
		t.Errorf("%s (used by %v) is not on a running worker's /metrics", name, live[name])
	}
	for name := range conditionalMetrics {
		if exported[name] {
			t.Logf("%s is live after all; it could move out of conditionalMetrics", name)
		}
	}
	checkViewUnits(t, httpURL+"/metrics")

	t.Run("healthcheck", func(t *testing.T) {
		out, err := exec.Command(bin, "healthcheck", "--url", httpURL+"/healthz").CombinedOutput()
		if err != nil {
			t.Errorf("fleetstream healthcheck on a live worker: %v\n%s", err, out)
		}
		out, err = exec.Command(bin, "healthcheck", "--url", httpURL+"/no-such-page").CombinedOutput()
		if err == nil {
			t.Errorf("fleetstream healthcheck passes on a 404:\n%s", out)
		}
		out, err = exec.Command(bin, "healthcheck", "--url", "http://127.0.0.1:1/healthz").CombinedOutput()
		if err == nil {
			t.Errorf("fleetstream healthcheck passes with nothing listening:\n%s", out)
		}
	})
}

// checkViewUnits: the views a worker keeps for its HTTP API are the tables apiViewTables names,
// which the IAM checks grant every worker.
func checkViewUnits(t *testing.T, url string) {
	t.Helper()
	body := get(t, url)
	var views []string
	for _, m := range regexp.MustCompile(`(?m)^fleetstream_unit_ready\{unit="view:([^"]+)"\}`).FindAllStringSubmatch(body, -1) {
		views = append(views, m[1])
	}
	slices.Sort(views)
	if !slices.Equal(views, apiViewTables) {
		t.Errorf("a worker keeps views of %v; apiViewTables (and the task roles) say %v", views, apiViewTables)
	}
}

func produceGarbage(t *testing.T, addr string) {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	p, err := sarama.NewSyncProducer([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("producer on %s: %v", addr, err)
	}
	defer p.Close()
	for _, topic := range []string{"telemetry", "diagnostics"} {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("WDD0000000GARBAGE"), Value: sarama.StringEncoder("{not json")}); err != nil {
			t.Fatalf("produce to %s: %v", topic, err)
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(b)
}

// scrape returns the names of the samples on a Prometheus text exposition (histograms as
// their _bucket, _sum and _count series).
func scrape(t *testing.T, url string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, line := range strings.Split(get(t, url), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		names[name] = true
	}
	return names
}

// inSource reports whether a non-test .go file of the module has "name" as a string literal.
func inSource(t *testing.T, name string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir(repoRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "deploy" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if found || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		found = strings.Contains(string(b), `"`+name+`"`)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// lockedBuffer collects a subprocess's output for the failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.b) > n {
		return string(l.b[len(l.b)-n:])
	}
	return string(l.b)
}
