package fleet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/internal/devstack"
	"github.com/fleetstream/fleetstream/internal/fleet"
)

// fixture reads a payload from ../shared/payloads beside the repository.
func fixture(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "payloads", name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func with(m map[string]any, kv ...any) []byte {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		c[kv[i].(string)] = kv[i+1]
	}
	b, _ := json.Marshal(c)
	return b
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.DiscardHandler)
}

// TestTopologyOverTheWire runs the three processor groups against the embedded broker over
// TCP, produces the shared payload fixtures for many VINs with franz-go (an independent client
// partitioning with Kafka's murmur2), and checks every output topic and the HTTP API.
func TestTopologyOverTheWire(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	log := testLogger(t)
	kafka, err := devstack.StartKafka(ctx, devstack.KafkaConfig{Addr: "127.0.0.1:0", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer kafka.Close()

	cfg := fleet.DefaultConfig()
	cfg.Kafka.Brokers = kafka.Brokers()
	cfg.Kafka.SessionTimeout = 6 * time.Second
	cfg.Groups = fleet.ProcessorGroups()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Logger = log
	w, err := fleet.NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	runCtx, stop := context.WithCancel(ctx)
	go func() { runErr <- w.Run(runCtx) }()

	const vehicles = 24
	vins := make([]string, vehicles)
	for i := range vins {
		vins[i] = fmt.Sprintf("1FLEET%011d", i)
	}
	trip := fixture(t, "trip-aggregate.json")
	speed := fixture(t, "telemetry-vehicle-speed.json")
	gear := fixture(t, "telemetry-gear.json")
	loc := fixture(t, "telemetry-location.json")
	dtc := fixture(t, "dtc.json")
	tripID := trip["trip_id"].(string)

	client, err := kgo.NewClient(kgo.SeedBrokers(kafka.Addr()), kgo.DefaultProduceTopic("telemetry"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	var recs []*kgo.Record
	rec := func(topic, key string, value []byte) {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key), Value: value})
	}
	garbage := map[string][]byte{}
	for i, vin := range vins {
		rec("trips", vin, with(trip, "vin", vin))
		rec("telemetry", vin, with(speed, "vin", vin, "trip_id", tripID, "value", 64.2))
		rec("telemetry", vin, with(gear, "vin", vin, "trip_id", tripID))
		rec("telemetry", vin, with(loc, "vin", vin, "trip_id", tripID))
		// Oil overheat opens an anomaly, the next reading clears it.
		rec("telemetry", vin, with(speed, "vin", vin, "trip_id", tripID, "name", "oil_temp", "value", 300.0, "timestamp", "2021-03-06 08:13:06.000000000"))
		rec("telemetry", vin, with(speed, "vin", vin, "trip_id", tripID, "name", "oil_temp", "value", 230.0, "timestamp", "2021-03-06 08:13:07.000000000"))
		// A stop-worthy DTC, sent twice (the device resending): one event, one command.
		rec("diagnostics", vin, with(dtc, "vin", vin, "trip_id", tripID, "value", "P0217"))
		rec("diagnostics", vin, with(dtc, "vin", vin, "trip_id", tripID, "value", "P0217", "timestamp", "2021-03-06 08:14:35.000000000"))
		if i%4 == 0 {
			g := []byte(fmt.Sprintf(`{"name":"speed","value":"fast","vin":%q}garbage-%d`, vin, i))
			garbage[vin] = g
			rec("telemetry", vin, g)
		}
	}
	if err := client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}

	anomalies := consumeUntil(t, ctx, kafka.Addr(), "anomalies", 2*vehicles)
	events := consumeUntil(t, ctx, kafka.Addr(), "dtc-events", vehicles)
	commands := consumeUntil(t, ctx, kafka.Addr(), "commands", vehicles)
	dead := consumeUntil(t, ctx, kafka.Addr(), "dead-letters", len(garbage))

	perVIN := map[string][]codecs.AnomalyState{}
	for _, r := range anomalies {
		var a codecs.Anomaly
		mustJSON(t, r.Value, &a)
		if a.Rule != "oil_overheat" {
			t.Errorf("unexpected anomaly rule %q for %s", a.Rule, a.VIN)
		}
		if string(r.Key) != a.VIN {
			t.Errorf("anomaly keyed %q for VIN %q", r.Key, a.VIN)
		}
		perVIN[a.VIN] = append(perVIN[a.VIN], a.State)
	}
	for _, vin := range vins {
		if got := perVIN[vin]; len(got) != 2 || got[0] != codecs.AnomalyOpen || got[1] != codecs.AnomalyCleared {
			t.Errorf("%s: anomalies %v, want [open cleared]", vin, got)
		}
	}
	cmdIDs := map[string]string{}
	for _, r := range commands {
		var c codecs.Command
		mustJSON(t, r.Value, &c)
		if prev, dup := cmdIDs[c.VIN]; dup {
			t.Errorf("%s: second command %s after %s", c.VIN, c.ID, prev)
		}
		cmdIDs[c.VIN] = c.ID
		if want := codecs.CommandID(c.VIN, tripID, "P0217", codecs.CommandEngineStop); c.ID != want {
			t.Errorf("%s: command id %s, want deterministic %s", c.VIN, c.ID, want)
		}
	}
	for _, r := range events {
		var e codecs.DTCEvent
		mustJSON(t, r.Value, &e)
		if e.Code != "P0217" || !e.StopWorthy || e.System != "powertrain" {
			t.Errorf("dtc event %+v", e)
		}
	}
	for _, r := range dead {
		var d codecs.DeadLetter
		mustJSON(t, r.Value, &d)
		if want, ok := garbage[d.Key]; !ok || string(d.Value) != string(want) {
			t.Errorf("dead letter for %q carries %q, want the original bytes %q", d.Key, d.Value, want)
		}
		if d.Topic != "telemetry" || d.Reason == "" || d.Stage != "vehicle-state" {
			t.Errorf("dead letter envelope %+v", d)
		}
	}

	// The HTTP API joins vehicle and trip state for a VIN on any partition.
	base := "http://" + w.HTTPAddr()
	waitFor(t, ctx, "ready", func() bool { return get(base+"/readyz") == http.StatusOK })
	for _, vin := range vins {
		var v struct {
			VIN     string         `json:"vin"`
			Signals map[string]any `json:"signals"`
			Trip    *struct {
				TripID string `json:"trip_id"`
			} `json:"trip"`
		}
		waitFor(t, ctx, "vehicle "+vin, func() bool {
			b, code := getBody(base + "/api/vehicles/" + vin)
			if code != http.StatusOK {
				return false
			}
			mustJSON(t, b, &v)
			return v.Trip != nil && v.Signals["oil_temp"] == 230.0
		})
		if v.Trip.TripID != tripID || v.Signals["transmission_gear_position"] != "fifth" {
			t.Errorf("%s: joined state %+v", vin, v)
		}
	}
	if code := get(base + "/api/vehicles/NOSUCHVIN00000000"); code != http.StatusNotFound {
		t.Errorf("unknown VIN: status %d, want 404", code)
	}

	stop()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("worker stopped with %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("worker did not stop within 20 s")
	}
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// consumeUntil reads topic from the start until it holds at least n records, then a little
// longer to catch any surplus (a duplicate command, say).
func consumeUntil(t *testing.T, ctx context.Context, broker, topic string, n int) []*kgo.Record {
	t.Helper()
	c, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(90 * time.Second)
	var settle time.Time
	for {
		fctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := c.PollFetches(fctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
		if len(out) >= n && settle.IsZero() {
			settle = time.Now().Add(time.Second)
		}
		if !settle.IsZero() && time.Now().After(settle) {
			return out
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("%s: %d records after 90 s, want %d", topic, len(out), n)
		}
	}
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

func get(url string) int {
	_, code := getBody(url)
	return code
}

func getBody(url string) ([]byte, int) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return nil, 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b, resp.StatusCode
}

func waitFor(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
