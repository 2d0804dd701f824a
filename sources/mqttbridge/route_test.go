package mqttbridge

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/topology"
)

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		ok, wild      bool
	}{
		{"connectedcar/telemetry/#", "connectedcar/telemetry/VIN1", true, true},
		{"connectedcar/telemetry/#", "connectedcar/telemetry", true, false},
		{"connectedcar/telemetry/#", "connectedcar/telemetry/VIN1/extra", true, true},
		{"connectedcar/telemetry/#", "connectedcar/trip/VIN1", false, false},
		{"connectedcar/+/+", "connectedcar/dtc/VIN1", true, true},
		{"connectedcar/+/+", "connectedcar/dtc", false, false},
		{"connectedcar/+/+", "connectedcar/dtc/VIN1/x", false, false},
		{"fleet/+/telemetry", "fleet/VIN1/telemetry", true, false},
		{"fleet/telemetry", "fleet/telemetry", true, false},
		{"#", "anything/at/all", true, true},
		{"#", "$aws/things/VIN1/shadow/update", false, false},
		{"+/things/+/shadow/update", "$aws/things/VIN1/shadow/update", false, false},
		{"$aws/things/+/shadow/update", "$aws/things/VIN1/shadow/update", true, false},
	} {
		ok, wild := match(tc.filter, tc.topic)
		if ok != tc.ok || wild != tc.wild {
			t.Errorf("match(%q, %q) = %v, %v; want %v, %v", tc.filter, tc.topic, ok, wild, tc.ok, tc.wild)
		}
	}
}

func TestValidFilter(t *testing.T) {
	for _, f := range []string{"#", "a/#", "a/+/b", "+", "$aws/things/+/shadow/update"} {
		if err := validFilter(f); err != nil {
			t.Errorf("validFilter(%q): %v", f, err)
		}
	}
	for _, f := range []string{"", "a/#/b", "a#", "a/b+", "a/+b/c"} {
		if err := validFilter(f); err == nil {
			t.Errorf("validFilter(%q) accepted it", f)
		}
	}
}

func TestParseRoute(t *testing.T) {
	r, err := ParseRoute(" vehicles/+/status = status ")
	if err != nil || r != (Route{Filter: "vehicles/+/status", Topic: "status"}) {
		t.Errorf("ParseRoute = %+v, %v", r, err)
	}
	for _, s := range []string{"no-equals", "a/#/b=x", "a/b="} {
		if _, err := ParseRoute(s); err == nil {
			t.Errorf("ParseRoute(%q) accepted it", s)
		}
	}
}

func TestRoute(t *testing.T) {
	routes := append(DefaultRoutes(topology.DefaultTopics()), Route{Filter: "fleet/+/status", Topic: "status"})
	r := router{routes: routes, deadLetter: "dead-letters", maxPayload: 100}
	for _, tc := range []struct {
		name, topic, payload string
		want                 destination
	}{
		{"vin from topic", "connectedcar/telemetry/5JO226H6QR3J3T7TI", `{}`, destination{topic: "telemetry", key: "5JO226H6QR3J3T7TI"}},
		{"trip", "connectedcar/trip/ABC", `not even json`, destination{topic: "trips", key: "ABC"}},
		{"dtc", "connectedcar/dtc/ABC", `{}`, destination{topic: "diagnostics", key: "ABC"}},
		{"vin from payload", "connectedcar/telemetry", `{"vin":"WDD2QF7SK5N7D0KR3"}`, destination{topic: "telemetry", key: "WDD2QF7SK5N7D0KR3"}},
		{"v3 VIN from payload", "fleet/dev-1/status", `{"VIN":"WDD2QF7SK5N7D0KR3"}`, destination{topic: "status", key: "WDD2QF7SK5N7D0KR3"}},
		{"bad level, payload vin", "connectedcar/telemetry/bad.vin", `{"vin":"GOODVIN"}`, destination{topic: "telemetry", key: "GOODVIN"}},
		{"no vin", "connectedcar/telemetry", `{"name":"speed"}`, destination{topic: "dead-letters", reason: codecs.ReasonMissingVIN}},
		{"invalid json", "fleet/dev-1/status", `{"vin":`, destination{topic: "dead-letters", reason: codecs.ReasonInvalidJSON}},
		{"unknown topic", "connectedcar/weather/ABC", `{}`, destination{topic: "dead-letters", reason: ReasonUnknownTopic}},
		{"too large", "connectedcar/telemetry/ABC", strings.Repeat("x", 101), destination{topic: "dead-letters", reason: codecs.ReasonTooLarge}},
	} {
		got := r.route(tc.topic, []byte(tc.payload))
		got.detail = ""
		if got != tc.want {
			t.Errorf("%s: route(%s) = %+v, want %+v", tc.name, tc.topic, got, tc.want)
		}
	}
}

func TestAckWindowReleasesInOrder(t *testing.T) {
	var w ackWindow
	ps := make([]*pending, 5)
	for i := range ps {
		ps[i] = &pending{attempts: i}
		w.push(ps[i])
	}
	if got := w.complete(ps[2]); len(got) != 0 {
		t.Fatalf("completing the third released %d", len(got))
	}
	if got := w.complete(ps[0]); len(got) != 1 || got[0] != ps[0] {
		t.Fatalf("completing the first released %v", got)
	}
	if got := w.complete(ps[1]); len(got) != 2 || got[0] != ps[1] || got[1] != ps[2] {
		t.Fatalf("completing the second released %v, want the second and third", got)
	}
	w.remove(ps[4])
	if got := w.complete(ps[3]); len(got) != 1 || w.len() != 0 {
		t.Fatalf("released %d, %d left", len(got), w.len())
	}
}

func TestDeadLetterEnvelope(t *testing.T) {
	p := &pending{msg: fakeMessage{topic: "connectedcar/weather/X", payload: []byte("0123456789")}, received: time.Unix(10, 0)}
	if err := p.deadLetter("dead-letters", ReasonUnknownTopic, "no route", 4); err != nil {
		t.Fatal(err)
	}
	var dl codecs.DeadLetter
	if err := json.Unmarshal(p.value, &dl); err != nil {
		t.Fatal(err)
	}
	if dl.Topic != "connectedcar/weather/X" || dl.Offset != -1 || dl.Partition != -1 || string(dl.Value) != "0123" ||
		dl.Reason != ReasonUnknownTopic || dl.Stage != "mqttbridge" || !dl.Time.Equal(time.Unix(10, 0)) {
		t.Errorf("dead letter %+v", dl)
	}
	if string(p.key) != "connectedcar/weather/X" || p.dest.topic != "dead-letters" {
		t.Errorf("dead letter keyed %q to %s", p.key, p.dest.topic)
	}
}

type fakeMessage struct {
	topic   string
	payload []byte
}

func (m fakeMessage) Duplicate() bool   { return false }
func (m fakeMessage) Qos() byte         { return 1 }
func (m fakeMessage) Retained() bool    { return false }
func (m fakeMessage) Topic() string     { return m.topic }
func (m fakeMessage) MessageID() uint16 { return 1 }
func (m fakeMessage) Payload() []byte   { return m.payload }
func (m fakeMessage) Ack()              {}

func TestConfigValidate(t *testing.T) {
	ok := Config{Kafka: topology.Kafka{Brokers: []string{"127.0.0.1:9092"}}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	for _, tc := range []struct {
		mutate func(*Config)
		field  string
	}{
		{func(c *Config) { c.Broker = "localhost" }, "Broker"},
		{func(c *Config) { c.Broker = "http://localhost:1883" }, "Broker"},
		{func(c *Config) { c.ClientID = "a/b" }, "ClientID"},
		{func(c *Config) { c.Filters = []string{"a/#/b"} }, "Filters"},
		{func(c *Config) { c.Routes = []Route{{Filter: "a/#", Topic: ""}} }, "route"},
		{func(c *Config) { c.MaxInFlight = 70000 }, "MaxInFlight"},
		{func(c *Config) { c.MaxInFlight = -1 }, "MaxInFlight"},
		{func(c *Config) { c.MaxPayloadBytes = 1 << 20 }, "MaxPayloadBytes"},
		{func(c *Config) { c.Linger = -1 }, "Linger"},
		{func(c *Config) { c.KeepAlive = time.Millisecond }, "KeepAlive"},
		{func(c *Config) { c.Kafka.Brokers = []string{"nohost"} }, "kafka"},
	} {
		c := ok
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("want an error naming %s, got %v", tc.field, err)
		}
	}
}
