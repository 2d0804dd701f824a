// Package deploy_test checks the deployment files under deploy/ against the fleetstream they
// deploy: flags and environment variables against the binary's own --help, IAM grants against
// the group graphs of `fleetstream topology describe`, metric names against a running worker's
// /metrics, and Prometheus files with promtool. It has no non-test code.
package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// repoRoot is the repository, seen from deploy/ where go test runs.
const repoRoot = ".."

// Paths inside the image (deploy/Dockerfile) that the task definitions rely on.
const (
	imageBinary  = "/usr/local/bin/fleetstream"
	imageDataDir = "/var/lib/fleetstream"
)

var (
	tmpDir  string
	binOnce sync.Once
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fleetstream-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// loudSkip skips a test for a missing tool so that nobody misses it in the output.
func loudSkip(t *testing.T, why string) {
	t.Helper()
	fmt.Fprintf(os.Stderr, "\n%s\n#  SKIPPED %s: %s\n%s\n\n", strings.Repeat("#", 90), t.Name(), why, strings.Repeat("#", 90))
	t.Skip(why)
}

// fleetstreamBinary builds ./cmd/fleetstream once per test run.
func fleetstreamBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binPath = filepath.Join(tmpDir, "fleetstream")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/fleetstream")
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build ./cmd/fleetstream: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

var (
	flagsMu    sync.Mutex
	flagsCache = map[string]map[string]bool{}
	flagRE     = regexp.MustCompile(`(?m)^\s+(?:-[a-zA-Z], )?--([a-z0-9][a-z0-9-]*)`)
)

// flagsOf returns the flags (local and global) of `fleetstream <path>` from its --help, and
// fails when the subcommand does not exist.
func flagsOf(t *testing.T, path ...string) map[string]bool {
	t.Helper()
	key := strings.Join(path, " ")
	flagsMu.Lock()
	defer flagsMu.Unlock()
	if f, ok := flagsCache[key]; ok {
		return f
	}
	bin := fleetstreamBinary(t)
	out, err := exec.Command(bin, append(slices.Clone(path), "--help")...).CombinedOutput()
	if err != nil {
		t.Fatalf("fleetstream %s --help: %v\n%s", key, err, out)
	}
	if !strings.Contains(string(out), "fleetstream "+key+" [flags]") {
		t.Fatalf("fleetstream has no subcommand %q:\n%s", key, out)
	}
	flags := map[string]bool{}
	for _, m := range flagRE.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if !flags["help"] || !flags["log-level"] {
		t.Fatalf("could not read the flags of fleetstream %s from:\n%s", key, out)
	}
	flagsCache[key] = flags
	return flags
}

// subcommandPath returns the leading words of a container command, the subcommand it runs
// (the image's CMD when the command is empty).
func subcommandPath(command []string) []string {
	if len(command) == 0 {
		return []string{"run"}
	}
	i := 0
	for i < len(command) && !strings.HasPrefix(command[i], "-") {
		i++
	}
	return command[:i]
}

// envFlag maps FLEETSTREAM_SHUTDOWN_TIMEOUT to shutdown-timeout, as bindEnv does
// (cmd/fleetstream/root.go).
func envFlag(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "FLEETSTREAM_")
	if !ok || rest == "" || rest != strings.ToUpper(rest) {
		return "", false
	}
	return strings.ToLower(strings.ReplaceAll(rest, "_", "-")), true
}

// topologyGraph is one group of `fleetstream topology describe --format json`.
type topologyGraph struct {
	Group   string   `json:"group"`
	Kind    string   `json:"kind"`
	Inputs  []string `json:"inputs"`
	Joins   []string `json:"joins"`
	Table   string   `json:"table"`
	Outputs []string `json:"outputs"`
}

func topologyGraphs(t *testing.T) map[string]topologyGraph {
	t.Helper()
	out, err := exec.Command(fleetstreamBinary(t), "topology", "describe", "--format", "json").Output()
	if err != nil {
		t.Fatalf("fleetstream topology describe: %v", err)
	}
	var doc struct {
		Groups []topologyGraph `json:"groups"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("topology describe --format json: %v\n%s", err, out)
	}
	graphs := map[string]topologyGraph{}
	for _, g := range doc.Groups {
		graphs[g.Group] = g
	}
	if len(graphs) == 0 {
		t.Fatalf("topology describe lists no groups:\n%s", out)
	}
	return graphs
}

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		loudSkip(t, "promtool not installed: apt-get install prometheus")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestPrometheusConfig(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"prometheus/prometheus.yml", "prometheus/prometheus-compose.yml"} {
		runPromtool(t, "check", "config", f)
	}
}

func TestAlertRules(t *testing.T) {
	t.Parallel()
	runPromtool(t, "check", "rules", "prometheus/alerts.yml")
	runPromtool(t, "test", "rules", "prometheus/alerts_test.yml")
}

// TestAlertTestsCoverEveryAlert: each alert has a unit test where it fires and one where it
// stays quiet.
func TestAlertTestsCoverEveryAlert(t *testing.T) {
	t.Parallel()
	var tests struct {
		RuleFiles []string `yaml:"rule_files"`
		Tests     []struct {
			AlertRuleTest []struct {
				Alertname string `yaml:"alertname"`
				ExpAlerts []any  `yaml:"exp_alerts"`
			} `yaml:"alert_rule_test"`
		} `yaml:"tests"`
	}
	readYAML(t, "prometheus/alerts_test.yml", &tests)
	if !slices.Equal(tests.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("alerts_test.yml tests %v, want alerts.yml", tests.RuleFiles)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	alerts := alertRules(t)
	for _, a := range alerts {
		if !fires[a.Alert] || !quiet[a.Alert] {
			t.Errorf("alert %s: alerts_test.yml needs a case where it fires (%v) and one where it does not (%v)", a.Alert, fires[a.Alert], quiet[a.Alert])
		}
		if a.Labels["severity"] != "warning" && a.Labels["severity"] != "critical" {
			t.Errorf("alert %s: severity %q, want warning or critical", a.Alert, a.Labels["severity"])
		}
		if a.Annotations["summary"] == "" || a.Annotations["description"] == "" {
			t.Errorf("alert %s: needs a summary and a description", a.Alert)
		}
	}
	for name := range fires {
		if !slices.ContainsFunc(alerts, func(a alertRule) bool { return a.Alert == name }) {
			t.Errorf("alerts_test.yml tests %s, which alerts.yml does not define", name)
		}
	}
}

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func alertRules(t *testing.T) []alertRule {
	t.Helper()
	var rules struct {
		Groups []struct {
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	readYAML(t, "prometheus/alerts.yml", &rules)
	var out []alertRule
	for _, g := range rules.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	return out
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// dockerfile is deploy/Dockerfile, one instruction per entry with continuations joined.
type dockerInstruction struct{ op, args string }

func readDockerfile(t *testing.T) []dockerInstruction {
	t.Helper()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstruction
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		op, args, _ := strings.Cut(cur, " ")
		out = append(out, dockerInstruction{strings.ToUpper(op), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

// TestDockerfile checks what the deployments rely on: a static, trimmed build with the Go of
// go.mod, a distroless nonroot runtime, the binary where the task definitions call it, the
// health check subcommand, port, data volume and environment variables that are real flags.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	ins := readDockerfile(t)
	var stages []string
	var final []dockerInstruction
	for _, in := range ins {
		if in.op == "FROM" {
			stages = append(stages, in.args)
			final = nil
		}
		final = append(final, in)
	}
	if len(stages) < 2 {
		t.Fatalf("want a multi-stage build, have stages %v", stages)
	}
	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	all := fmt.Sprint(ins)
	if goVersion == nil || !strings.Contains(all, "ARG GO_VERSION="+string(goVersion[1])) || !strings.Contains(stages[0], "golang:${GO_VERSION}") {
		t.Errorf("the builder must be golang:%s, the go directive of go.mod", goVersion[1])
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "--mount=type=cache,target=/go/pkg/mod", "--mount=type=cache,target=/root/.cache/go-build", "./cmd/fleetstream"} {
		if !strings.Contains(all, want) {
			t.Errorf("the build does not use %s", want)
		}
	}
	if last := stages[len(stages)-1]; last != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("runtime image %q, want gcr.io/distroless/static-debian12:nonroot", last)
	}
	get := func(op string) []string {
		var out []string
		for _, in := range final {
			if in.op == op {
				out = append(out, in.args)
			}
		}
		return out
	}
	if u := get("USER"); len(u) != 1 || !strings.HasPrefix(u[0], "nonroot") {
		t.Errorf("runtime USER %v, want nonroot", u)
	}
	if e := get("ENTRYPOINT"); len(e) != 1 || e[0] != `["`+imageBinary+`"]` {
		t.Errorf("ENTRYPOINT %v, want [%q]", e, imageBinary)
	}
	if c := get("CMD"); len(c) != 1 || c[0] != `["run"]` {
		t.Errorf("CMD %v, want [\"run\"] (compose and ECS rely on it for workers without a command)", c)
	}
	if e := get("EXPOSE"); !slices.Equal(e, []string{"8080"}) {
		t.Errorf("EXPOSE %v, want 8080", e)
	}
	if v := get("VOLUME"); len(v) != 1 || v[0] != `["`+imageDataDir+`"]` {
		t.Errorf("VOLUME %v, want %s", v, imageDataDir)
	}
	copies := strings.Join(get("COPY"), "\n")
	if !strings.Contains(copies, " "+imageBinary) || !strings.Contains(copies, "--chown=65532:65532") {
		t.Errorf("the runtime stage must copy the binary to %s and give %s to nonroot (65532): %s", imageBinary, imageDataDir, copies)
	}
	for _, forbidden := range []string{"ADD", "ARG"} {
		for _, a := range get(forbidden) {
			t.Errorf("runtime stage: %s %s (nothing from the build context but the binary; no build args that could carry secrets)", forbidden, a)
		}
	}
	hc := get("HEALTHCHECK")
	if len(hc) != 1 || !strings.Contains(hc[0], `CMD ["`+imageBinary+`", "healthcheck", "--url", "http://127.0.0.1:8080/healthz"]`) {
		t.Errorf("HEALTHCHECK %v: want the healthcheck subcommand on /healthz", hc)
	}
	flags := flagsOf(t, "run")
	for _, e := range get("ENV") {
		for _, kv := range strings.Fields(e) {
			name, value, _ := strings.Cut(kv, "=")
			f, ok := envFlag(name)
			if !ok || !flags[f] {
				t.Errorf("ENV %s sets no flag of fleetstream run", name)
			}
			if name == "FLEETSTREAM_DATA_DIR" && value != imageDataDir {
				t.Errorf("ENV FLEETSTREAM_DATA_DIR=%s, want the volume %s", value, imageDataDir)
			}
		}
	}

	ignore, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".git", "/fleetstream", "**/*.pem", "**/.env", "**/*_test.go"} {
		if !slices.Contains(strings.Split(string(ignore), "\n"), want) {
			t.Errorf("Dockerfile.dockerignore does not exclude %s", want)
		}
	}
}

// TestMakeImage: `make image` builds deploy/Dockerfile from the repository root.
func TestMakeImage(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	out, err := exec.Command("make", "-s", "-n", "-C", repoRoot, "image").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n image: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "docker build -f deploy/Dockerfile -t fleetstream:dev ." {
		t.Errorf("make image runs %q", got)
	}
}

// TestCompose checks deploy/compose.yaml without Docker: references between services,
// volumes and files resolve, images are pinned, every fleetstream variable and flag exists,
// workers wait for the topics, and Prometheus scrapes what runs.
func TestCompose(t *testing.T) {
	t.Parallel()
	type service struct {
		Image       string            `yaml:"image"`
		Build       map[string]string `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		DependsOn   map[string]struct {
			Condition string `yaml:"condition"`
		} `yaml:"depends_on"`
		Volumes []string `yaml:"volumes"`
		Ports   []string `yaml:"ports"`
		Restart string   `yaml:"restart"`
	}
	var compose struct {
		Name     string             `yaml:"name"`
		Services map[string]service `yaml:"services"`
		Volumes  map[string]any     `yaml:"volumes"`
	}
	readYAML(t, "compose.yaml", &compose)
	if len(compose.Services) == 0 {
		t.Fatal("compose.yaml has no services")
	}
	usedVolumes := map[string]bool{}
	hostPorts := map[string]string{}
	roles := map[string]string{}
	for _, name := range sortedKeys(compose.Services) {
		s := compose.Services[name]
		if s.Image == "" {
			t.Errorf("%s: no image", name)
		} else if tag := s.Image[strings.LastIndex(s.Image, ":")+1:]; !strings.Contains(s.Image, ":") || tag == "latest" {
			t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
		}
		for dep, c := range s.DependsOn {
			if _, ok := compose.Services[dep]; !ok {
				t.Errorf("%s depends on %s, which is no service", name, dep)
			}
			if !slices.Contains([]string{"service_started", "service_healthy", "service_completed_successfully"}, c.Condition) {
				t.Errorf("%s: depends_on %s condition %q", name, dep, c.Condition)
			}
		}
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if _, err := os.Stat(src); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
				continue
			}
			if _, ok := compose.Volumes[src]; !ok {
				t.Errorf("%s uses volume %s, which is not declared", name, src)
			}
			usedVolumes[src] = true
		}
		for _, p := range s.Ports {
			host, _, _ := strings.Cut(p, ":")
			if prev, dup := hostPorts[host]; dup {
				t.Errorf("%s and %s both publish host port %s", prev, name, host)
			}
			hostPorts[host] = name
		}
		if s.Image != "fleetstream:dev" {
			continue
		}
		if s.Build["context"] != ".." || s.Build["dockerfile"] != "deploy/Dockerfile" {
			t.Errorf("%s: build %v, want context .. and deploy/Dockerfile", name, s.Build)
		}
		path := subcommandPath(s.Command)
		roles[name] = strings.Join(path, " ")
		flags := flagsOf(t, path...)
		for _, arg := range s.Command[len(path):] {
			if f, ok := strings.CutPrefix(arg, "--"); ok {
				if f, _, _ = strings.Cut(f, "="); !flags[f] {
					t.Errorf("%s: fleetstream %s has no flag --%s", name, roles[name], f)
				}
			}
		}
		for _, v := range sortedKeys(s.Environment) {
			f, ok := envFlag(v)
			if !ok || !flags[f] {
				t.Errorf("%s: %s sets no flag of fleetstream %s", name, v, roles[name])
			}
		}
		if groups, ok := s.Environment["FLEETSTREAM_GROUPS"]; ok {
			graphs := topologyGraphs(t)
			for _, g := range strings.Split(groups, ",") {
				if _, ok := graphs[g]; !ok {
					t.Errorf("%s: FLEETSTREAM_GROUPS has %q, no group of fleetstream", name, g)
				}
			}
		}
		switch roles[name] {
		case "topics ensure":
			if s.Restart != "no" {
				t.Errorf("%s: a one-off; restart: \"no\"", name)
			}
		case "run", "bridge":
			if s.DependsOn["topics"].Condition != "service_completed_successfully" {
				t.Errorf("%s must wait for the topics service to complete", name)
			}
			if roles[name] == "run" && s.Environment["FLEETSTREAM_ENSURE_TOPICS"] != "false" {
				t.Errorf("%s: workers run with FLEETSTREAM_ENSURE_TOPICS=false, as on ECS", name)
			}
		}
		if roles[name] != "topics ensure" && s.Environment["FLEETSTREAM_HTTP_ADDR"] != ":8080" {
			t.Errorf("%s: FLEETSTREAM_HTTP_ADDR=%q, want :8080 (scraped by Prometheus, probed by the image's health check)", name, s.Environment["FLEETSTREAM_HTTP_ADDR"])
		}
	}
	for v := range compose.Volumes {
		if !usedVolumes[v] {
			t.Errorf("volume %s is declared but not used", v)
		}
	}
	var ran []string
	for _, r := range roles {
		ran = append(ran, r)
	}
	for _, want := range []string{"topics ensure", "run", "bridge", "simulate"} {
		if !slices.Contains(ran, want) {
			t.Errorf("compose.yaml runs no fleetstream %s", want)
		}
	}
	// Every group runs somewhere.
	running := map[string]bool{}
	for name, r := range roles {
		if r == "run" {
			for _, g := range strings.Split(compose.Services[name].Environment["FLEETSTREAM_GROUPS"], ",") {
				running[g] = true
			}
		}
	}
	for g := range topologyGraphs(t) {
		if !running[g] {
			t.Errorf("compose.yaml runs no worker with group %s", g)
		}
	}
	// Prometheus scrapes every long-running fleetstream service and nothing else.
	var prom struct {
		ScrapeConfigs []struct {
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	readYAML(t, "prometheus/prometheus-compose.yml", &prom)
	scraped := map[string]bool{}
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				host, port, _ := strings.Cut(target, ":")
				if roles[host] == "" || roles[host] == "topics ensure" || port != "8080" {
					t.Errorf("prometheus-compose.yml scrapes %s, which is no long-running fleetstream service on 8080", target)
				}
				scraped[host] = true
			}
		}
	}
	for name, r := range roles {
		if r != "topics ensure" && !scraped[name] {
			t.Errorf("prometheus-compose.yml does not scrape %s", name)
		}
	}
}
