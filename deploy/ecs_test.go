package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const cfnTemplate = "ecs/fleetstream.yaml"

// The fake account the template is rendered for.
const (
	testClusterArn = "arn:aws:kafka:eu-west-1:123456789012:cluster/fleet/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0-3"
	testBrokers    = "b-1.fleet.abc123.c3.kafka.eu-west-1.amazonaws.com:9098,b-2.fleet.abc123.c3.kafka.eu-west-1.amazonaws.com:9098"
	testImage      = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/fleetstream:1.0.0"
	testScramArn   = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_fleet-AbCdEf"
	testKmsKeyArn  = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	testBridgePass = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:fleet-bridge-mqtt-XyZ123"
)

// apiViewTables are the tables every worker with HTTP keeps a view of, for /api/vehicles
// (internal/fleet/run.go, addHTTP); TestLiveWorker checks this list against the view units a
// running worker reports.
var apiViewTables = []string{"trip-state-table", "vehicle-state-table"}

// deadLettersTopic is the default dead-letter topic (DESIGN.md, contracts), where the bridge
// sends what it cannot route.
const deadLettersTopic = "dead-letters"

// knownActions are the IAM actions a role in the template may hold, each one an action the
// service defines; a typo or a wildcard fails the test.
var knownActions = map[string]bool{
	"kafka-cluster:Connect":                           true,
	"kafka-cluster:DescribeCluster":                   true,
	"kafka-cluster:DescribeTopic":                     true,
	"kafka-cluster:ReadData":                          true,
	"kafka-cluster:WriteData":                         true,
	"kafka-cluster:CreateTopic":                       true,
	"kafka-cluster:DeleteTopic":                       true,
	"kafka-cluster:DescribeTopicDynamicConfiguration": true,
	"kafka-cluster:AlterGroup":                        true,
	"kafka-cluster:DescribeGroup":                     true,
	"timestream:WriteRecords":                         true,
	"timestream:DescribeEndpoints":                    true,
	"timestream:DescribeTable":                        true,
	"timestream:DescribeDatabase":                     true,
	"iot:Publish":                                     true,
	"iot:UpdateThingShadow":                           true,
	"secretsmanager:GetSecretValue":                   true,
	"kms:Decrypt":                                     true,
}

// getAttAttributes are the Fn::GetAtt attributes of the resource types the template uses.
var getAttAttributes = map[string][]string{
	"AWS::ECS::Cluster":                           {"Arn"},
	"AWS::ECS::Service":                           {"Name", "ServiceArn"},
	"AWS::ECS::TaskDefinition":                    {"TaskDefinitionArn"},
	"AWS::IAM::Role":                              {"Arn", "RoleId"},
	"AWS::Logs::LogGroup":                         {"Arn"},
	"AWS::ServiceDiscovery::PrivateDnsNamespace":  {"Arn", "Id", "HostedZoneId"},
	"AWS::ServiceDiscovery::Service":              {"Arn", "Id", "Name"},
	"AWS::ApplicationAutoScaling::ScalableTarget": {"Id"},
	"AWS::ApplicationAutoScaling::ScalingPolicy":  {"Arn"},
}

// fargateSizes are the valid CPU units and their memory range in MiB (1024 steps above 4 vCPU
// are not used here).
var fargateSizes = map[string][]int{
	"256":  {512, 1024, 2048},
	"512":  {1024, 2048, 3072, 4096},
	"1024": {2048, 3072, 4096, 5120, 6144, 7168, 8192},
	"2048": {4096, 5120, 6144, 7168, 8192, 9216, 10240, 11264, 12288, 13312, 14336, 15360, 16384},
}

func baseParams() map[string]any {
	return map[string]any{
		"MskClusterArn":      testClusterArn,
		"BootstrapBrokers":   testBrokers,
		"VpcId":              "vpc-0123456789abcdef0",
		"Subnets":            []any{"subnet-0aaa1111", "subnet-0bbb2222"},
		"SecurityGroups":     []any{"sg-0ccc3333"},
		"ImageUri":           testImage,
		"TimestreamDatabase": "fleet",
		"IoTEndpoint":        "https://a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com",
		"RunServices":        "true",
	}
}

type cfnScenario struct {
	name   string
	params map[string]any
}

func cfnScenarios() []cfnScenario {
	with := func(kv ...string) map[string]any {
		p := baseParams()
		for i := 0; i+1 < len(kv); i += 2 {
			p[kv[i]] = kv[i+1]
		}
		return p
	}
	return []cfnScenario{
		{"IAM auth, IoT publish", with()},
		{"SCRAM auth, IoT shadow, bridge with password", with(
			"AuthMode", "SCRAM", "ScramSecretArn", testScramArn, "ScramSecretKmsKeyArn", testKmsKeyArn,
			"IoTMode", "shadow", "BridgeMqttBroker", "ssl://mqtt.example.com:8883",
			"BridgeMqttUsername", "bridge", "BridgeMqttPasswordSecretArn", testBridgePass)},
		{"TLS only, bridge without password", with("AuthMode", "TLS", "BridgeMqttBroker", "ssl://mqtt.example.com:8883")},
		{"first deployment without services", with("RunServices", "false")},
	}
}

// TestCloudFormationReferences checks the template statically: known sections and resource
// types, every Ref, Fn::GetAtt, ${} of Fn::Sub, condition, mapping and DependsOn resolves, and
// every parameter, condition and mapping is used.
func TestCloudFormationReferences(t *testing.T) {
	t.Parallel()
	tpl, err := loadCFN(cfnTemplate)
	if err != nil {
		t.Fatal(err)
	}
	sections := []string{"AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules", "Mappings", "Conditions", "Resources", "Outputs"}
	for k := range tpl {
		if !slices.Contains(sections, k) {
			t.Errorf("unknown top-level section %q", k)
		}
	}
	params, _ := tpl["Parameters"].(map[string]any)
	resources, _ := tpl["Resources"].(map[string]any)
	conditions, _ := tpl["Conditions"].(map[string]any)
	mappings, _ := tpl["Mappings"].(map[string]any)
	if len(resources) == 0 {
		t.Fatal("no resources")
	}
	for name := range params {
		if _, clash := resources[name]; clash {
			t.Errorf("%s is both a parameter and a resource", name)
		}
	}

	var refs []cfnRef
	for _, section := range []string{"Rules", "Conditions", "Resources", "Outputs"} {
		refs = append(refs, cfnRefs(tpl[section], section)...)
	}
	used := map[string]bool{}
	for name, r := range resources {
		rm, _ := r.(map[string]any)
		typ, _ := rm["Type"].(string)
		if _, known := getAttAttributes[typ]; !known {
			t.Errorf("resource %s: type %q is not one this test knows; add its GetAtt attributes to getAttAttributes", name, typ)
		}
		if _, ok := rm["Properties"].(map[string]any); !ok {
			t.Errorf("resource %s has no Properties", name)
		}
		if c, ok := rm["Condition"]; ok {
			refs = append(refs, cfnRef{kind: "Condition", target: fmt.Sprint(c), at: "Resources/" + name + "/Condition"})
		}
		var deps []any
		switch d := rm["DependsOn"].(type) {
		case string:
			deps = []any{d}
		case []any:
			deps = d
		}
		for _, d := range deps {
			if _, ok := resources[fmt.Sprint(d)]; !ok {
				t.Errorf("resource %s: DependsOn %v is not a resource", name, d)
			}
		}
	}
	for _, r := range refs {
		used[r.kind+":"+r.target] = true
		switch r.kind {
		case "Ref":
			_, isParam := params[r.target]
			_, isRes := resources[r.target]
			_, isPseudo := pseudoParameters[r.target]
			if !isParam && !isRes && !isPseudo {
				t.Errorf("%s: Ref %q is no parameter, resource or pseudo parameter", r.at, r.target)
			}
		case "GetAtt":
			res, ok := resources[r.target].(map[string]any)
			if !ok {
				t.Errorf("%s: GetAtt of %q, which is no resource", r.at, r.target)
				continue
			}
			typ, _ := res["Type"].(string)
			if !slices.Contains(getAttAttributes[typ], r.attr) {
				t.Errorf("%s: GetAtt %s.%s: a %s has no attribute %q (it has %v)", r.at, r.target, r.attr, typ, r.attr, getAttAttributes[typ])
			}
		case "Condition":
			if _, ok := conditions[r.target]; !ok {
				t.Errorf("%s: condition %q is not defined", r.at, r.target)
			}
		case "Mapping":
			if _, ok := mappings[r.target]; !ok {
				t.Errorf("%s: mapping %q is not defined", r.at, r.target)
			}
		}
	}
	for _, p := range sortedKeys(params) {
		if !used["Ref:"+p] {
			t.Errorf("parameter %s is never used", p)
		}
	}
	for _, c := range sortedKeys(conditions) {
		if !used["Condition:"+c] {
			t.Errorf("condition %s is never used", c)
		}
	}
	for _, m := range sortedKeys(mappings) {
		if !used["Mapping:"+m] {
			t.Errorf("mapping %s is never used", m)
		}
	}
}

// TestCloudFormationLint runs cfn-lint, which knows every resource's property schema, when it
// is installed.
func TestCloudFormationLint(t *testing.T) {
	t.Parallel()
	lint, err := exec.LookPath("cfn-lint")
	if err != nil {
		loudSkip(t, "cfn-lint not installed (pip install cfn-lint): the template's property schemas are not checked")
	}
	out, err := exec.Command(lint, "--", cfnTemplate).CombinedOutput()
	if err != nil {
		t.Fatalf("cfn-lint %s: %v\n%s", cfnTemplate, err, out)
	}
}

// TestCloudFormationRender renders the template for each scenario and checks what
// CloudFormation would create: services per group, task definitions, IAM grants against the
// group graphs, and scaling on consumer lag.
func TestCloudFormationRender(t *testing.T) {
	t.Parallel()
	tpl, err := loadCFN(cfnTemplate)
	if err != nil {
		t.Fatal(err)
	}
	graphs := topologyGraphs(t)
	promDNS := prometheusDNSNames(t)
	for _, sc := range cfnScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			res, r, err := renderCFN(tpl, sc.params)
			if err != nil {
				t.Fatal(err)
			}
			d := &deployment{t: t, res: res, r: r, graphs: graphs}
			d.checkTaskDefinitions()
			d.checkRoles()
			d.checkServices(promDNS)
			d.checkScaling()
		})
	}
}

// deployment is a rendered template under test.
type deployment struct {
	t      *testing.T
	res    map[string]map[string]any
	r      *cfnRender
	graphs map[string]topologyGraph
}

func (d *deployment) param(name string) string { return fmt.Sprint(d.r.params[name]) }

func (d *deployment) ofType(typ string) []string {
	var names []string
	for _, name := range sortedKeys(d.res) {
		if d.res[name]["Type"] == typ {
			names = append(names, name)
		}
	}
	return names
}

func props(res map[string]any) map[string]any {
	p, _ := res["Properties"].(map[string]any)
	return p
}

// placeholder returns the logical id of a rendered "<Logical>" or "<Logical.Attr>".
func placeholder(v any) string {
	s := fmt.Sprint(v)
	if !strings.HasPrefix(s, "<") || !strings.HasSuffix(s, ">") {
		return ""
	}
	id, _, _ := strings.Cut(s[1:len(s)-1], ".")
	return id
}

func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return nil
}

// container is the one container of a task definition, with its environment as a map.
type container struct {
	def     map[string]any
	command []string
	env     map[string]string
	secrets map[string]string
}

func (d *deployment) container(taskDef string) container {
	d.t.Helper()
	cs, _ := props(d.res[taskDef])["ContainerDefinitions"].([]any)
	if len(cs) != 1 {
		d.t.Fatalf("%s: want one container, have %d", taskDef, len(cs))
	}
	c := container{def: cs[0].(map[string]any), env: map[string]string{}, secrets: map[string]string{}}
	c.command = strs(c.def["Command"])
	for _, e := range asList(c.def["Environment"]) {
		m := e.(map[string]any)
		name := fmt.Sprint(m["Name"])
		if _, dup := c.env[name]; dup {
			d.t.Errorf("%s: environment variable %s set twice", taskDef, name)
		}
		c.env[name] = fmt.Sprint(m["Value"])
	}
	for _, e := range asList(c.def["Secrets"]) {
		m := e.(map[string]any)
		c.secrets[fmt.Sprint(m["Name"])] = fmt.Sprint(m["ValueFrom"])
	}
	return c
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// role names what a container runs: a group, "bridge" or "ops".
func (d *deployment) role(taskDef string, c container) string {
	d.t.Helper()
	path := subcommandPath(c.command)
	switch strings.Join(path, " ") {
	case "run":
		groups := strings.Split(c.env["FLEETSTREAM_GROUPS"], ",")
		if len(groups) != 1 {
			d.t.Errorf("%s: runs groups %v: one ECS service per group, so each scales on its own lag", taskDef, groups)
		}
		if _, ok := d.graphs[groups[0]]; !ok {
			d.t.Errorf("%s: FLEETSTREAM_GROUPS=%s is not a group of `fleetstream topology describe`", taskDef, groups[0])
		}
		return groups[0]
	case "sink timeseries":
		return "timeseries-sink"
	case "sink commands":
		return "command-sink"
	case "bridge":
		return "bridge"
	case "topics ensure":
		return "ops"
	}
	d.t.Errorf("%s: unexpected command %v", taskDef, c.command)
	return ""
}

func (d *deployment) checkTaskDefinitions() {
	t := d.t
	seen := map[string]string{}
	for _, name := range d.ofType("AWS::ECS::TaskDefinition") {
		p := props(d.res[name])
		c := d.container(name)
		role := d.role(name, c)
		if prev, dup := seen[role]; dup {
			t.Errorf("%s and %s both run %s", prev, name, role)
		}
		seen[role] = name

		if !slices.Equal(strs(p["RequiresCompatibilities"]), []string{"FARGATE"}) || p["NetworkMode"] != "awsvpc" {
			t.Errorf("%s: want a Fargate task with awsvpc networking", name)
		}
		cpu, mem := fmt.Sprint(p["Cpu"]), fmt.Sprint(p["Memory"])
		m, _ := strconv.Atoi(mem)
		if !slices.Contains(fargateSizes[cpu], m) {
			t.Errorf("%s: cpu %s with memory %s is no Fargate size", name, cpu, mem)
		}
		if c.def["Image"] != testImage || c.def["Essential"] != true || c.def["ReadonlyRootFilesystem"] != true {
			t.Errorf("%s: want image ImageUri, essential, read-only root file system; have %v, %v, %v", name, c.def["Image"], c.def["Essential"], c.def["ReadonlyRootFilesystem"])
		}
		d.checkFlags(name, c)
		d.checkKafkaEnv(name, role, c)
		d.checkLogs(name, role, c)
		if role == "ops" {
			if c.def["HealthCheck"] != nil {
				t.Errorf("%s: a one-off task needs no health check", name)
			}
			continue
		}
		d.checkHTTP(name, c)
		d.checkShutdown(name, role, c)
		if _, isGroup := d.graphs[role]; isGroup {
			d.checkTables(name, p, c)
		}
		switch role {
		case "timeseries-sink":
			if c.env["FLEETSTREAM_TIMESTREAM_DATABASE"] != d.param("TimestreamDatabase") ||
				c.env["FLEETSTREAM_TIMESTREAM_TABLE"] != d.param("TimestreamTable") ||
				c.env["FLEETSTREAM_TIMESTREAM_EVENTS_TABLE"] != d.param("TimestreamEventsTable") {
				t.Errorf("%s: Timestream database and tables must be the ones the role may write: %v", name, c.env)
			}
			if c.env["FLEETSTREAM_TIMESTREAM_CREATE"] == "true" {
				t.Errorf("%s: --timestream-create needs timestream:CreateDatabase/CreateTable, which the role does not have", name)
			}
		case "command-sink":
			if c.env["FLEETSTREAM_COMMAND_BACKEND"] != "iot" || c.env["FLEETSTREAM_IOT_ENDPOINT"] != d.param("IoTEndpoint") || c.env["FLEETSTREAM_IOT_MODE"] != d.param("IoTMode") {
				t.Errorf("%s: want the iot backend on IoTEndpoint in IoTMode: %v", name, c.env)
			}
			if _, custom := c.env["FLEETSTREAM_COMMAND_TOPIC"]; custom {
				t.Errorf("%s: a custom command topic needs its own iot:Publish resource", name)
			}
		case "bridge":
			if c.env["FLEETSTREAM_MQTT_BROKER"] != d.param("BridgeMqttBroker") {
				t.Errorf("%s: FLEETSTREAM_MQTT_BROKER=%q, want the BridgeMqttBroker parameter", name, c.env["FLEETSTREAM_MQTT_BROKER"])
			}
			_, hasPass := c.secrets["FLEETSTREAM_MQTT_PASSWORD"]
			if hasPass != (d.param("BridgeMqttPasswordSecretArn") != "") {
				t.Errorf("%s: MQTT password secret %v with BridgeMqttPasswordSecretArn %q", name, hasPass, d.param("BridgeMqttPasswordSecretArn"))
			}
		}
	}
	wantRoles := []string{"ops"}
	for g := range d.graphs {
		wantRoles = append(wantRoles, g)
	}
	if d.param("BridgeMqttBroker") != "" {
		wantRoles = append(wantRoles, "bridge")
	}
	for _, r := range wantRoles {
		if _, ok := seen[r]; !ok {
			t.Errorf("no task definition runs %s", r)
		}
	}
	if len(seen) != len(wantRoles) {
		t.Errorf("task definitions run %v, want %v", sortedKeys(seen), wantRoles)
	}
}

// checkFlags maps every FLEETSTREAM_ variable and --flag of the container to a flag of the
// subcommand it runs, and keeps passwords out of plain environment variables.
func (d *deployment) checkFlags(name string, c container) {
	t := d.t
	path := subcommandPath(c.command)
	flags := flagsOf(t, path...)
	for _, arg := range c.command[len(path):] {
		if f, ok := strings.CutPrefix(arg, "--"); ok {
			f, _, _ = strings.Cut(f, "=")
			if !flags[f] {
				t.Errorf("%s: fleetstream %s has no flag --%s", name, strings.Join(path, " "), f)
			}
		}
	}
	for _, v := range append(sortedKeys(c.env), sortedKeys(c.secrets)...) {
		f, ok := envFlag(v)
		if !ok {
			t.Errorf("%s: environment variable %s is not FLEETSTREAM_<FLAG>", name, v)
			continue
		}
		if !flags[f] {
			t.Errorf("%s: %s sets no flag: fleetstream %s has no --%s", name, v, strings.Join(path, " "), f)
		}
	}
	for v := range c.env {
		if strings.Contains(v, "PASSWORD") || strings.Contains(v, "SECRET") {
			t.Errorf("%s: %s in plain environment; use Secrets", name, v)
		}
	}
}

func (d *deployment) checkKafkaEnv(name, role string, c container) {
	t := d.t
	if c.env["FLEETSTREAM_BROKERS"] != testBrokers || c.env["FLEETSTREAM_TLS"] != "true" {
		t.Errorf("%s: want FLEETSTREAM_BROKERS from BootstrapBrokers and FLEETSTREAM_TLS=true, have %q %q", name, c.env["FLEETSTREAM_BROKERS"], c.env["FLEETSTREAM_TLS"])
	}
	mech, region := c.env["FLEETSTREAM_SASL_MECHANISM"], c.env["FLEETSTREAM_SASL_REGION"]
	_, user := c.secrets["FLEETSTREAM_SASL_USERNAME"]
	switch d.param("AuthMode") {
	case "IAM":
		if mech != "AWS_MSK_IAM" || region != pseudoParameters["AWS::Region"] || user {
			t.Errorf("%s: IAM auth wants FLEETSTREAM_SASL_MECHANISM=AWS_MSK_IAM and the region; have %q %q", name, mech, region)
		}
	case "SCRAM":
		if mech != "SCRAM-SHA-512" || c.secrets["FLEETSTREAM_SASL_USERNAME"] != testScramArn+":username::" || c.secrets["FLEETSTREAM_SASL_PASSWORD"] != testScramArn+":password::" {
			t.Errorf("%s: SCRAM auth wants SCRAM-SHA-512 with username and password from the secret's JSON keys; have %q %v", name, mech, c.secrets)
		}
	case "TLS":
		if mech != "" || user {
			t.Errorf("%s: TLS auth sets no SASL; have %q", name, mech)
		}
	}
	if role != "bridge" {
		if c.env["FLEETSTREAM_PARTITIONS"] != d.param("Partitions") || c.env["FLEETSTREAM_REPLICATION"] != d.param("ReplicationFactor") {
			t.Errorf("%s: FLEETSTREAM_PARTITIONS/REPLICATION must come from the parameters", name)
		}
	}
}

func (d *deployment) checkLogs(name, role string, c container) {
	lc, _ := c.def["LogConfiguration"].(map[string]any)
	opts, _ := lc["Options"].(map[string]any)
	if lc["LogDriver"] != "awslogs" || placeholder(opts["awslogs-group"]) != "LogGroup" ||
		opts["awslogs-region"] != pseudoParameters["AWS::Region"] || opts["awslogs-stream-prefix"] == nil {
		d.t.Errorf("%s: want awslogs to the stack's log group with a stream prefix, have %v", name, lc)
	}
	if c.env["FLEETSTREAM_LOG_FORMAT"] != "json" {
		d.t.Errorf("%s (%s): FLEETSTREAM_LOG_FORMAT=json for CloudWatch Logs Insights", name, role)
	}
}

// checkHTTP: the health check probes the port the worker serves, with the healthcheck
// subcommand (distroless has no curl), and the port is mapped for Prometheus.
func (d *deployment) checkHTTP(name string, c container) {
	t := d.t
	addr := c.env["FLEETSTREAM_HTTP_ADDR"]
	_, port, err := splitHostPort(addr)
	if err != nil {
		t.Errorf("%s: FLEETSTREAM_HTTP_ADDR=%q: %v", name, addr, err)
		return
	}
	hc, _ := c.def["HealthCheck"].(map[string]any)
	cmd := strs(hc["Command"])
	want := []string{"CMD", imageBinary, "healthcheck", "--url", "http://127.0.0.1:" + port + "/healthz"}
	if !slices.Equal(cmd, want) {
		t.Errorf("%s: health check %q, want %q", name, cmd, want)
	}
	hflags := flagsOf(t, "healthcheck")
	if !hflags["url"] {
		t.Errorf("fleetstream healthcheck has no --url flag")
	}
	interval, _ := hc["Interval"].(int)
	timeout, _ := hc["Timeout"].(int)
	if timeout <= 2 || timeout >= interval {
		t.Errorf("%s: health check timeout %d s must exceed the probe's own 2 s and stay below the interval %d s", name, timeout, interval)
	}
	mapped := false
	for _, pm := range asList(c.def["PortMappings"]) {
		mapped = mapped || fmt.Sprint(pm.(map[string]any)["ContainerPort"]) == port
	}
	if !mapped {
		t.Errorf("%s: port %s is not mapped", name, port)
	}
}

func splitHostPort(addr string) (string, string, error) {
	i := strings.LastIndex(addr, ":")
	if i < 0 {
		return "", "", fmt.Errorf("no port")
	}
	if _, err := strconv.Atoi(addr[i+1:]); err != nil {
		return "", "", fmt.Errorf("port %q", addr[i+1:])
	}
	return addr[:i], addr[i+1:], nil
}

// checkShutdown: ECS waits stopTimeout after SIGTERM before SIGKILL; the worker's own deadline
// (and the sink's drain inside it) must end first.
func (d *deployment) checkShutdown(name, role string, c container) {
	t := d.t
	stop, _ := c.def["StopTimeout"].(int)
	if stop <= 0 || stop > 120 {
		t.Errorf("%s: StopTimeout %v: set it, at most 120 s on Fargate", name, c.def["StopTimeout"])
	}
	if role == "bridge" {
		return
	}
	shutdown, err := time.ParseDuration(c.env["FLEETSTREAM_SHUTDOWN_TIMEOUT"])
	if err != nil {
		t.Errorf("%s: FLEETSTREAM_SHUTDOWN_TIMEOUT: %v", name, err)
		return
	}
	if time.Duration(stop)*time.Second < shutdown+5*time.Second {
		t.Errorf("%s: StopTimeout %d s leaves less than 5 s above --shutdown-timeout %s", name, stop, shutdown)
	}
	if v, ok := c.env["FLEETSTREAM_SINK_DRAIN_TIMEOUT"]; ok {
		drain, err := time.ParseDuration(v)
		if err != nil || drain >= shutdown {
			t.Errorf("%s: --sink-drain-timeout %s must be below --shutdown-timeout %s", name, v, shutdown)
		}
	}
}

// checkTables: a group keeps goka tables on the task's ephemeral storage, and provisions no
// topics itself (the ops task does, with the role that may).
func (d *deployment) checkTables(name string, p map[string]any, c container) {
	t := d.t
	if c.env["FLEETSTREAM_ENSURE_TOPICS"] != "false" {
		t.Errorf("%s: FLEETSTREAM_ENSURE_TOPICS=false: workers may not create every topic", name)
	}
	dir := c.env["FLEETSTREAM_DATA_DIR"]
	mounted := ""
	for _, mp := range asList(c.def["MountPoints"]) {
		m := mp.(map[string]any)
		if m["ContainerPath"] == dir {
			mounted = fmt.Sprint(m["SourceVolume"])
		}
	}
	declared := false
	for _, v := range asList(p["Volumes"]) {
		declared = declared || v.(map[string]any)["Name"] == mounted
	}
	if dir != imageDataDir || mounted == "" || !declared {
		t.Errorf("%s: FLEETSTREAM_DATA_DIR=%q must be %s with a task volume mounted there", name, dir, imageDataDir)
	}
	es, _ := p["EphemeralStorage"].(map[string]any)
	if fmt.Sprint(es["SizeInGiB"]) != d.param("TableStorageGiB") {
		t.Errorf("%s: EphemeralStorage %v, want TableStorageGiB", name, es)
	}
}

// grants returns a role's "action resource" pairs, failing on anything but plain Allow
// statements of known actions.
func (d *deployment) grants(role string) map[string]bool {
	t := d.t
	out := map[string]bool{}
	p := props(d.res[role])
	trust, _ := p["AssumeRolePolicyDocument"].(map[string]any)
	for _, s := range asList(trust["Statement"]) {
		st := s.(map[string]any)
		principal, _ := st["Principal"].(map[string]any)
		if st["Effect"] != "Allow" || st["Action"] != "sts:AssumeRole" || principal["Service"] != "ecs-tasks.amazonaws.com" {
			t.Errorf("%s: trust policy %v: only ECS tasks may assume it", role, st)
		}
	}
	for _, pol := range asList(p["Policies"]) {
		doc, _ := pol.(map[string]any)["PolicyDocument"].(map[string]any)
		if doc["Version"] != "2012-10-17" {
			t.Errorf("%s: policy version %v", role, doc["Version"])
		}
		for _, s := range asList(doc["Statement"]) {
			st := s.(map[string]any)
			for _, forbidden := range []string{"NotAction", "NotResource", "NotPrincipal"} {
				if _, ok := st[forbidden]; ok {
					t.Errorf("%s: %s in %v", role, forbidden, st)
				}
			}
			if st["Effect"] != "Allow" {
				t.Errorf("%s: statement %v is not an Allow", role, st)
			}
			for _, a := range strs(st["Action"]) {
				if !knownActions[a] {
					t.Errorf("%s: action %q is not on the allow-list of known actions", role, a)
				}
				for _, r := range strs(st["Resource"]) {
					if r == "*" && a != "timestream:DescribeEndpoints" {
						t.Errorf("%s: %s on every resource", role, a)
					}
					out[a+" "+r] = true
				}
			}
		}
	}
	return out
}

func topicArn(topic string) string {
	return strings.Replace(testClusterArn, ":cluster/", ":topic/", 1) + "/" + topic
}

func groupArn(group string) string {
	return strings.Replace(testClusterArn, ":cluster/", ":group/", 1) + "/" + group
}

// expected builds a set of "action resource" pairs.
type expected map[string]bool

func (e expected) add(resources []string, actions ...string) {
	for _, r := range resources {
		for _, a := range actions {
			e[a+" "+r] = true
		}
	}
}

func topicArns(topics ...[]string) []string {
	var out []string
	for _, ts := range topics {
		for _, t := range ts {
			if t != "" && !slices.Contains(out, topicArn(t)) {
				out = append(out, topicArn(t))
			}
		}
	}
	return out
}

// wantGrants is what each role needs, derived from the group graphs.
func (d *deployment) wantGrants(role string) expected {
	e := expected{}
	e.add([]string{testClusterArn}, "kafka-cluster:Connect", "kafka-cluster:DescribeCluster")
	region, account := pseudoParameters["AWS::Region"], pseudoParameters["AWS::AccountId"]
	if g, ok := d.graphs[role]; ok {
		table := []string{g.Table}
		e.add(topicArns(g.Inputs, g.Joins, table, apiViewTables), "kafka-cluster:DescribeTopic", "kafka-cluster:ReadData")
		e.add(topicArns(g.Outputs, table), "kafka-cluster:DescribeTopic", "kafka-cluster:WriteData")
		e.add(topicArns(table), "kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopicDynamicConfiguration")
		e.add([]string{groupArn(g.Group)}, "kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup")
	}
	switch role {
	case "timeseries-sink":
		db := fmt.Sprintf("arn:aws:timestream:%s:%s:database/%s", region, account, d.param("TimestreamDatabase"))
		e.add([]string{"*"}, "timestream:DescribeEndpoints")
		e.add([]string{db}, "timestream:DescribeDatabase")
		e.add([]string{db + "/table/" + d.param("TimestreamTable"), db + "/table/" + d.param("TimestreamEventsTable")},
			"timestream:DescribeTable", "timestream:WriteRecords")
	case "command-sink":
		if d.param("IoTMode") == "shadow" {
			e.add([]string{fmt.Sprintf("arn:aws:iot:%s:%s:thing/*", region, account)}, "iot:UpdateThingShadow")
		} else {
			// The classic shadow update topic of any thing; the topic ARN keeps $aws literally.
			e.add([]string{fmt.Sprintf("arn:aws:iot:%s:%s:topic/$aws/things/*/shadow/update", region, account)}, "iot:Publish")
		}
	case "bridge":
		var inputs []string
		for _, g := range d.graphs {
			if g.Kind == "processor" {
				inputs = append(inputs, g.Inputs...)
			}
		}
		e.add(topicArns(inputs, []string{deadLettersTopic}), "kafka-cluster:DescribeTopic", "kafka-cluster:WriteData")
	case "ops":
		var all, tables, groups []string
		for _, g := range d.graphs {
			all = append(all, g.Inputs...)
			all = append(all, g.Outputs...)
			all = append(all, g.Joins...)
			if g.Table != "" {
				all = append(all, g.Table)
				tables = append(tables, g.Table)
			}
			groups = append(groups, groupArn(g.Group))
		}
		e.add(topicArns(all), "kafka-cluster:DescribeTopic", "kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopicDynamicConfiguration")
		e.add(topicArns(tables), "kafka-cluster:DeleteTopic")
		e.add(groups, "kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup")
	}
	return e
}

func (d *deployment) checkRoles() {
	t := d.t
	taskRoles := map[string]bool{}
	for _, name := range d.ofType("AWS::ECS::TaskDefinition") {
		p := props(d.res[name])
		c := d.container(name)
		role := d.role(name, c)
		taskRole := placeholder(p["TaskRoleArn"])
		if placeholder(p["ExecutionRoleArn"]) != "ExecutionRole" || d.res[taskRole] == nil {
			t.Errorf("%s: execution role %v, task role %v", name, p["ExecutionRoleArn"], p["TaskRoleArn"])
			continue
		}
		if taskRoles[taskRole] {
			t.Errorf("%s: task role %s is shared; each role gets its own", name, taskRole)
		}
		taskRoles[taskRole] = true
		if _, ok := props(d.res[taskRole])["ManagedPolicyArns"]; ok {
			t.Errorf("%s: managed policies on a task role", taskRole)
		}
		got, want := d.grants(taskRole), d.wantGrants(role)
		for _, g := range sortedKeys(got) {
			if !want[g] {
				t.Errorf("%s (%s) may %s, which it does not need", taskRole, role, g)
			}
		}
		for _, g := range sortedKeys(want) {
			if !got[g] {
				t.Errorf("%s (%s) may not %s, which it needs", taskRole, role, g)
			}
		}
	}
	for _, name := range d.ofType("AWS::IAM::Role") {
		if name != "ExecutionRole" && !taskRoles[name] {
			t.Errorf("role %s is no task's role", name)
		}
	}
	// The execution role pulls images and writes logs (AWS managed policy) and reads exactly
	// the secrets the containers reference.
	exec := props(d.res["ExecutionRole"])
	if !slices.Equal(strs(exec["ManagedPolicyArns"]), []string{"arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"}) {
		t.Errorf("ExecutionRole managed policies %v", exec["ManagedPolicyArns"])
	}
	want := expected{}
	if d.param("AuthMode") == "SCRAM" {
		want.add([]string{testScramArn}, "secretsmanager:GetSecretValue")
		if d.param("ScramSecretKmsKeyArn") != "" {
			want.add([]string{testKmsKeyArn}, "kms:Decrypt")
		}
	}
	if d.param("BridgeMqttBroker") != "" && d.param("BridgeMqttPasswordSecretArn") != "" {
		want.add([]string{testBridgePass}, "secretsmanager:GetSecretValue")
	}
	got := d.grants("ExecutionRole")
	if !mapsEqual(got, want) {
		t.Errorf("ExecutionRole may %v, want %v", sortedKeys(got), sortedKeys(want))
	}
}

func mapsEqual(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func (d *deployment) checkServices(promDNS []string) {
	t := d.t
	services := d.ofType("AWS::ECS::Service")
	if d.param("RunServices") != "true" {
		if len(services) > 0 || len(d.ofType("AWS::ApplicationAutoScaling::ScalableTarget")) > 0 {
			t.Errorf("RunServices=false still creates %v", services)
		}
		return
	}
	namespace := d.param("DiscoveryNamespace")
	byRole := map[string]string{}
	for _, name := range services {
		p := props(d.res[name])
		td := placeholder(p["TaskDefinition"])
		if d.res[td] == nil {
			t.Errorf("%s: task definition %v", name, p["TaskDefinition"])
			continue
		}
		role := d.role(td, d.container(td))
		byRole[role] = name
		if placeholder(p["Cluster"]) != "Cluster" || p["LaunchType"] != "FARGATE" {
			t.Errorf("%s: want FARGATE in the stack's cluster", name)
		}
		nc, _ := p["NetworkConfiguration"].(map[string]any)
		vpc, _ := nc["AwsvpcConfiguration"].(map[string]any)
		if !slices.Equal(strs(vpc["Subnets"]), strs(d.r.params["Subnets"])) || !slices.Equal(strs(vpc["SecurityGroups"]), strs(d.r.params["SecurityGroups"])) {
			t.Errorf("%s: subnets and security groups must be the parameters", name)
		}
		dc, _ := p["DeploymentConfiguration"].(map[string]any)
		cb, _ := dc["DeploymentCircuitBreaker"].(map[string]any)
		if cb["Enable"] != true || cb["Rollback"] != true {
			t.Errorf("%s: enable the deployment circuit breaker with rollback", name)
		}
		// Prometheus finds the tasks by the Cloud Map name prometheus.yml resolves.
		regs := asList(p["ServiceRegistries"])
		if len(regs) != 1 {
			t.Errorf("%s: want one service registry", name)
			continue
		}
		disc := d.res[placeholder(regs[0].(map[string]any)["RegistryArn"])]
		dn := fmt.Sprint(props(disc)["Name"]) + "." + namespace
		if props(disc)["Name"] != p["ServiceName"] || !slices.Contains(promDNS, dn) {
			t.Errorf("%s: registered as %s, which prometheus.yml's dns_sd_configs (%v) must resolve", name, dn, promDNS)
		}
		if role == "bridge" {
			if p["DesiredCount"] != 1 || dc["MaximumPercent"] != 100 {
				t.Errorf("%s: exactly one bridge at a time (one MQTT session per client id): DesiredCount 1, MaximumPercent 100", name)
			}
		} else if _, ok := p["DesiredCount"]; ok {
			t.Errorf("%s: DesiredCount is Application Auto Scaling's; a stack update would reset it", name)
		}
	}
	for g := range d.graphs {
		if byRole[g] == "" {
			t.Errorf("no ECS service runs group %s", g)
		}
	}
	if (byRole["bridge"] != "") != (d.param("BridgeMqttBroker") != "") {
		t.Errorf("bridge service %q with BridgeMqttBroker %q", byRole["bridge"], d.param("BridgeMqttBroker"))
	}
	if _, ok := byRole["ops"]; ok {
		t.Errorf("the ops task definition is for run-task, not a service")
	}
}

func (d *deployment) checkScaling() {
	t := d.t
	if d.param("RunServices") != "true" {
		return
	}
	cluster := props(d.res["Cluster"])
	insights := false
	for _, s := range asList(cluster["ClusterSettings"]) {
		m := s.(map[string]any)
		insights = insights || (m["Name"] == "containerInsights" && m["Value"] == "enabled")
	}
	if !insights {
		t.Errorf("Cluster: the scaling policies divide by ECS/ContainerInsights RunningTaskCount: enable containerInsights")
	}
	clusterName := strings.Split(testClusterArn, "/")[1]
	scaled := map[string]bool{}
	policies := d.ofType("AWS::ApplicationAutoScaling::ScalingPolicy")
	for _, target := range d.ofType("AWS::ApplicationAutoScaling::ScalableTarget") {
		p := props(d.res[target])
		m := regexp.MustCompile(`^service/<Cluster>/<(\w+)\.Name>$`).FindStringSubmatch(fmt.Sprint(p["ResourceId"]))
		if m == nil || p["ServiceNamespace"] != "ecs" || p["ScalableDimension"] != "ecs:service:DesiredCount" {
			t.Errorf("%s: want an ECS service's DesiredCount, have %v", target, p["ResourceId"])
			continue
		}
		svc := m[1]
		td := placeholder(props(d.res[svc])["TaskDefinition"])
		group := d.role(td, d.container(td))
		g, ok := d.graphs[group]
		if !ok {
			t.Errorf("%s scales %s, which runs no group", target, svc)
			continue
		}
		scaled[group] = true
		if fmt.Sprint(p["MaxCapacity"]) != d.param("Partitions") || fmt.Sprint(p["MinCapacity"]) != d.param("MinTasks") {
			t.Errorf("%s: capacity %v..%v, want MinTasks..Partitions (never more tasks than partitions)", target, p["MinCapacity"], p["MaxCapacity"])
		}
		var policy map[string]any
		for _, pol := range policies {
			if placeholder(props(d.res[pol])["ScalingTargetId"]) == target {
				if policy != nil {
					t.Errorf("%s: more than one scaling policy", target)
				}
				policy = props(d.res[pol])
			}
		}
		if policy == nil || policy["PolicyType"] != "TargetTrackingScaling" {
			t.Errorf("%s: want one target tracking policy", target)
			continue
		}
		cfg, _ := policy["TargetTrackingScalingPolicyConfiguration"].(map[string]any)
		if fmt.Sprint(cfg["TargetValue"]) != d.param("LagPerTask") {
			t.Errorf("%s: TargetValue %v, want LagPerTask", target, cfg["TargetValue"])
		}
		spec, _ := cfg["CustomizedMetricSpecification"].(map[string]any)
		d.checkLagMetric(target, spec, g, clusterName, svc)
	}
	for group := range d.graphs {
		if !scaled[group] {
			t.Errorf("group %s does not scale on its lag", group)
		}
	}
}

// checkLagMetric: the metric is MSK's lag of the group on each of its input topics, divided by
// the service's running tasks.
func (d *deployment) checkLagMetric(target string, spec map[string]any, g topologyGraph, clusterName, svc string) {
	t := d.t
	var topics, ids []string
	returned := 0
	tasks := false
	var expr string
	for _, q := range asList(spec["Metrics"]) {
		m := q.(map[string]any)
		id := fmt.Sprint(m["Id"])
		ids = append(ids, id)
		if m["ReturnData"] == true {
			returned++
			expr = fmt.Sprint(m["Expression"])
		}
		stat, _ := m["MetricStat"].(map[string]any)
		metric, _ := stat["Metric"].(map[string]any)
		dims := map[string]string{}
		for _, dim := range asList(metric["Dimensions"]) {
			dm := dim.(map[string]any)
			dims[fmt.Sprint(dm["Name"])] = fmt.Sprint(dm["Value"])
		}
		switch {
		case metric == nil:
		case metric["Namespace"] == "AWS/Kafka":
			if metric["MetricName"] != "SumOffsetLag" && metric["MetricName"] != "MaxOffsetLag" {
				t.Errorf("%s: AWS/Kafka metric %v is no consumer lag metric", target, metric["MetricName"])
			}
			if len(dims) != 3 || dims["Cluster Name"] != clusterName || dims["Consumer Group"] != g.Group || dims["Topic"] == "" {
				t.Errorf("%s: lag dimensions %v, want Cluster Name %s, Consumer Group %s and a Topic", target, dims, clusterName, g.Group)
			}
			topics = append(topics, dims["Topic"])
		case metric["Namespace"] == "ECS/ContainerInsights" && metric["MetricName"] == "RunningTaskCount":
			tasks = dims["ClusterName"] == "<Cluster>" && dims["ServiceName"] == "<"+svc+".Name>"
			if !tasks {
				t.Errorf("%s: RunningTaskCount of %v, want the scaled service", target, dims)
			}
		default:
			t.Errorf("%s: unexpected metric %v", target, metric)
		}
	}
	slices.Sort(topics)
	inputs := slices.Sorted(slices.Values(g.Inputs))
	if !slices.Equal(topics, inputs) {
		t.Errorf("%s: lag of topics %v, want the group's inputs %v", target, topics, inputs)
	}
	if returned != 1 || !tasks {
		t.Errorf("%s: want one returned expression over lag and running tasks", target)
	}
	for _, tok := range regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`).FindAllString(expr, -1) {
		if !slices.Contains(ids, tok) {
			t.Errorf("%s: expression %q uses %s, which is no metric id", target, expr, tok)
		}
	}
	used := regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*`).FindAllString(expr, -1)
	for _, q := range asList(spec["Metrics"]) {
		m := q.(map[string]any)
		if id := fmt.Sprint(m["Id"]); m["ReturnData"] != true && !slices.Contains(used, id) {
			t.Errorf("%s: metric %s is not used by %q", target, id, expr)
		}
	}
}

// prometheusDNSNames returns the dns_sd_configs names of deploy/prometheus/prometheus.yml.
func prometheusDNSNames(t *testing.T) []string {
	t.Helper()
	var cfg struct {
		ScrapeConfigs []struct {
			DNSSD []struct {
				Names []string `yaml:"names"`
				Type  string   `yaml:"type"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	b, err := os.ReadFile(filepath.Join("prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range cfg.ScrapeConfigs {
		for _, sd := range sc.DNSSD {
			if sd.Type != "A" || sd.Port != 8080 {
				t.Errorf("prometheus.yml: dns_sd_configs type %s port %d, want A records on 8080", sd.Type, sd.Port)
			}
			names = append(names, sd.Names...)
		}
	}
	return names
}
