package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fleetstream/fleetstream/internal/devstack"
	"github.com/fleetstream/fleetstream/internal/fleet"
	"github.com/fleetstream/fleetstream/topology"
)

func TestParseTopicSpec(t *testing.T) {
	for _, c := range []struct {
		spec  string
		topic string
		parts []int32
		err   bool
	}{
		{"telemetry", "telemetry", nil, false},
		{"telemetry:0,3", "telemetry", []int32{0, 3}, false},
		{"telemetry: 1", "telemetry", []int32{1}, false},
		{":0", "", nil, true},
		{"telemetry:x", "", nil, true},
		{"telemetry:-1", "", nil, true},
		{"telemetry:1,1", "", nil, true},
		{"telemetry:", "", nil, true},
	} {
		topic, parts, err := parseTopicSpec(c.spec)
		if (err != nil) != c.err || topic != c.topic || !slices.Equal(parts, c.parts) {
			t.Errorf("parseTopicSpec(%q) = %q, %v, %v", c.spec, topic, parts, err)
		}
	}
}

// TestReplayFlagErrors: every mistake is reported before anything connects (no broker here).
func TestReplayFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--to-earliest"}, nil, "--group is required"},
		{[]string{"--group", "vehicle-state"}, nil, "choose exactly one target"},
		{[]string{"--group", "vehicle-state", "--to-earliest", "--shift-by", "-5"}, nil, "got 2: --to-earliest --shift-by"},
		{[]string{"--group", "vehicle-state", "--to-datetime", "yesterday"}, nil, "want RFC 3339"},
		{[]string{"--group", "vehicle-state", "--by-duration", "-1h"}, nil, "positive duration"},
		{[]string{"--group", "vehicle-state", "--to-earliest=false"}, nil, "chooses no target"},
		{[]string{"--group", "someone-else", "--to-earliest"}, nil, "not a fleetstream group"},
		{[]string{"--group", "timeseries-sink", "--to-earliest", "--reset-state"}, nil, "keeps no table"},
		{[]string{"--group", "vehicle-state", "--topic", "telemetry", "--topic", "telemetry:1", "--to-earliest"}, nil, "given twice"},
		{[]string{"--group", "vehicle-state", "--to-earliest"}, map[string]string{"FLEETSTREAM_EXECUTE": "true"}, "must be given on the command line"},
	} {
		for k, v := range c.env {
			t.Setenv(k, v)
		}
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"replay", "--brokers", "127.0.0.1:1"}, c.args...), &out, &out)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("replay %v: %v, want an error containing %q", c.args, err, c.want)
		}
		for k := range c.env {
			os.Unsetenv(k)
		}
	}
}

// tableSnapshot reads a table topic from the start and returns the newest value per key.
func tableSnapshot(t *testing.T, ctx context.Context, broker, topic string) map[string]string {
	t.Helper()
	admin, err := topology.ConnectAdmin(kafkaOf(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	tps, err := admin.Partitions(map[string][]int32{topic: nil})
	if err != nil {
		t.Fatal(err)
	}
	hwms, err := admin.HighWaterMarks(tps)
	if err != nil {
		t.Fatal(err)
	}
	offsets := map[string]map[int32]kgo.Offset{topic: {}}
	remaining := map[int32]int64{}
	for _, tp := range tps {
		offsets[topic][tp.Partition] = kgo.NewOffset().AtStart()
		if hwms[tp] > 0 {
			remaining[tp.Partition] = hwms[tp]
		}
	}
	c, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumePartitions(offsets))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out := map[string]string{}
	for len(remaining) > 0 {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %s: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Value == nil {
				delete(out, string(r.Key))
			} else {
				out[string(r.Key)] = string(r.Value)
			}
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
		})
	}
	return out
}

func kafkaOf(broker string) topology.Kafka {
	k := topology.DefaultKafka()
	k.Brokers = []string{broker}
	return k
}

// waitCaughtUp waits until group has committed every record of its input topics.
func waitCaughtUp(t *testing.T, ctx context.Context, broker, group string, topics []string) {
	t.Helper()
	admin, err := topology.ConnectAdmin(kafkaOf(broker))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for {
		lags, err := admin.Lag(group, topics)
		total := int64(0)
		for _, l := range lags {
			total += l.Lag
		}
		if err == nil && total == 0 && len(lags) > 0 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("group %s did not catch up with %v: lag %d, %v", group, topics, total, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// shadowTokens subscribes to AWS IoT shadow updates on the MQTT broker and collects the
// clientToken (command id) of each.
type shadowTokens struct {
	mu     sync.Mutex
	tokens []string
}

func subscribeShadows(t *testing.T, addr string) *shadowTokens {
	t.Helper()
	s := &shadowTokens{}
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("replay-test-vehicles")
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe("$aws/things/+/shadow/update", 1, func(_ mqtt.Client, m mqtt.Message) {
		var p struct {
			ClientToken string `json:"clientToken"`
		}
		_ = json.Unmarshal(m.Payload(), &p)
		s.mu.Lock()
		s.tokens = append(s.tokens, p.ClientToken)
		s.mu.Unlock()
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt subscribe: %v", tok.Error())
	}
	return s
}

func (s *shadowTokens) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.tokens)
}

// phases runs the groups a phase at a time, each phase's worker starting once the groups
// before it caught up, so that joins see complete tables and both runs derive the same state.
var phases = [][]string{
	{fleet.GroupTripState},
	{fleet.GroupVehicleState},
	{fleet.GroupDTCMonitor, fleet.GroupCommandSink},
}

// runGroupsUntilCaughtUp runs the groups in phases until every group caught up, then stops
// the workers.
func runGroupsUntilCaughtUp(t *testing.T, ctx context.Context, base fleet.Config) {
	t.Helper()
	broker := base.Kafka.Brokers[0]
	var wg sync.WaitGroup
	runCtx, stop := context.WithCancel(ctx)
	errs := make(chan error, len(phases))
	for _, groups := range phases {
		cfg := base
		cfg.Groups = groups
		w, err := fleet.NewWorker(cfg)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(runCtx); err != nil {
				errs <- fmt.Errorf("worker %v: %w", groups, err)
			}
		}()
		for _, g := range groups {
			topics, err := fleet.InputTopics(cfg, g)
			if err != nil {
				t.Fatal(err)
			}
			waitCaughtUp(t, ctx, broker, g, topics)
		}
	}
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func testLog() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// TestReplayRebuildsState runs the processor groups and the command sink over the embedded
// broker, replays trip-state, vehicle-state and dtc-monitor to the earliest offset with
// --reset-state through the CLI, runs them again, and finds every table as the first run left
// it (not applied twice), the same command ids emitted again, and each command delivered to
// its vehicle once.
func TestReplayRebuildsState(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	log := testLog()
	kafka, err := devstack.StartKafka(ctx, devstack.KafkaConfig{Addr: "127.0.0.1:0", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer kafka.Close()
	mq, err := devstack.StartMQTT(ctx, devstack.MQTTConfig{Addr: "127.0.0.1:0", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer mq.Close()
	vehicles := subscribeShadows(t, mq.Addr())

	dataDir := t.TempDir()
	cfg := fleet.DefaultConfig()
	cfg.Kafka.Brokers = kafka.Brokers()
	cfg.Kafka.SessionTimeout = 6 * time.Second
	cfg.HTTPAddr = ""
	cfg.DataDir = dataDir
	cfg.Logger = log
	cfg.Sinks.Commands.MQTT.Brokers = []string{"tcp://" + mq.Addr()}
	if _, err := topology.EnsureTopics(ctx, cfg.Kafka, cfg.Provisioning.Specs(cfg.Topics, fleet.Tables()...)); err != nil {
		t.Fatal(err)
	}

	// 12 vehicles: a trip, 4 readings each of three signals, a stop-worthy DTC sent twice.
	const n = 12
	start := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	add := func(topic, vin string, v map[string]any) {
		b, _ := json.Marshal(v)
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(vin), Value: b})
	}
	ts := func(d time.Duration) string { return start.Add(d).Format("2006-01-02 15:04:05.000000000") }
	for i := range n {
		vin := fmt.Sprintf("1REPLAY%010d", i)
		trip := "trip-" + vin
		add("trips", vin, map[string]any{"vin": vin, "trip_id": trip, "name": "aggregated_telemetrics", "start_time": start.Format(time.RFC3339Nano),
			"timestamp": ts(time.Minute), "odometer": 12.5, "vehicle_speed_mean": 41.5, "latitude": 38.9, "longitude": -77.2})
		for k := range 4 {
			at := time.Duration(k+1) * 10 * time.Second
			add("telemetry", vin, map[string]any{"vin": vin, "trip_id": trip, "name": "vehicle_speed", "value": 40.0 + float64(k), "timestamp": ts(at)})
			add("telemetry", vin, map[string]any{"vin": vin, "trip_id": trip, "name": "oil_temp", "value": 200.0 + 30*float64(k%3), "timestamp": ts(at)})
			add("telemetry", vin, map[string]any{"vin": vin, "trip_id": trip, "name": "ignition_status", "value": "run", "timestamp": ts(at)})
		}
		add("diagnostics", vin, map[string]any{"vin": vin, "trip_id": trip, "name": "dtc", "value": "P0217", "timestamp": ts(50 * time.Second)})
		add("diagnostics", vin, map[string]any{"vin": vin, "trip_id": trip, "name": "dtc", "value": "P0217", "timestamp": ts(55 * time.Second)})
	}
	producer, err := kgo.NewClient(kgo.SeedBrokers(kafka.Addr())) // murmur2, as the processors
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	tables := []string{"trip-state-table", "vehicle-state-table", "dtc-monitor-table"}
	runGroupsUntilCaughtUp(t, ctx, cfg)
	first := map[string]map[string]string{}
	for _, table := range tables {
		first[table] = tableSnapshot(t, ctx, kafka.Addr(), table)
		if len(first[table]) != n {
			t.Fatalf("%s holds %d vehicles after the first run, want %d", table, len(first[table]), n)
		}
	}
	var vs struct {
		Messages int64 `json:"messages"`
	}
	if err := json.Unmarshal([]byte(first["vehicle-state-table"]["1REPLAY0000000000"]), &vs); err != nil || vs.Messages != 12 {
		t.Fatalf("vehicle state after the first run: %+v, %v; want 12 signals applied", vs, err)
	}
	commandsFirst := commandIDs(t, ctx, kafka.Addr())
	if len(commandsFirst) != n {
		t.Fatalf("first run: %d commands, want one per vehicle", len(commandsFirst))
	}

	// A dry run changes nothing and says so.
	var out bytes.Buffer
	if err := run(ctx, []string{"replay", "--brokers", kafka.Addr(), "--group", "vehicle-state", "--to-earliest", "--reset-state", "--data-dir", dataDir}, &out, &out); err != nil {
		t.Fatalf("dry run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"dry run: nothing changed", "144 records to reprocess on 6 partitions",
		"state: table topic vehicle-state-table", "state: removes local storage " + dataDir + "/tables/processors/vehicle-state/vehicle-state-table.",
		dataDir + "/tables/processors/dtc-monitor/vehicle-state-table."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out.String())
		}
	}
	if got := tableSnapshot(t, ctx, kafka.Addr(), "vehicle-state-table"); len(got) != n {
		t.Fatalf("the dry run changed the table: %d vehicles", len(got))
	}

	for _, g := range []string{"trip-state", "vehicle-state", "dtc-monitor"} {
		out.Reset()
		if err := run(ctx, []string{"replay", "--brokers", kafka.Addr(), "--group", g, "--to-earliest", "--reset-state", "--data-dir", dataDir, "--execute"}, &out, &out); err != nil {
			t.Fatalf("replay %s: %v\n%s", g, err, out.String())
		}
		if !strings.Contains(out.String(), "(executed)") || !strings.Contains(out.String(), "done: start the "+g+" workers") {
			t.Errorf("replay %s output:\n%s", g, out.String())
		}
		if got := tableSnapshot(t, ctx, kafka.Addr(), g+"-table"); len(got) != 0 {
			t.Errorf("%s-table holds %d records after the reset", g, len(got))
		}
	}

	runGroupsUntilCaughtUp(t, ctx, cfg)
	for _, table := range tables {
		again := tableSnapshot(t, ctx, kafka.Addr(), table)
		for vin, want := range first[table] {
			if again[vin] != want {
				t.Errorf("%s[%s] after the replay:\n%s\nwant (first run):\n%s", table, vin, again[vin], want)
			}
		}
		if len(again) != len(first[table]) {
			t.Errorf("%s holds %d keys after the replay, %d before", table, len(again), len(first[table]))
		}
	}
	commandsAgain := commandIDs(t, ctx, kafka.Addr())
	if len(commandsAgain) != n {
		t.Errorf("after the replay: %d distinct command ids, want the same %d", len(commandsAgain), n)
	}
	for id, copies := range commandsAgain {
		if copies != 2 || commandsFirst[id] != 1 {
			t.Errorf("command %s: %d copies after the replay (first run %d), want the same id re-emitted once", id, copies, commandsFirst[id])
		}
	}
	// The command sink kept its table: each command reached its vehicle once.
	time.Sleep(500 * time.Millisecond)
	seen := map[string]int{}
	for _, tok := range vehicles.get() {
		seen[tok]++
	}
	for id := range commandsFirst {
		if seen[id] != 1 {
			t.Errorf("command %s reached its vehicle %d times, want once", id, seen[id])
		}
	}
	if len(seen) != n {
		t.Errorf("vehicles got %d distinct commands, want %d", len(seen), n)
	}
}

// commandIDs counts the records of the commands topic per command id.
func commandIDs(t *testing.T, ctx context.Context, broker string) map[string]int {
	t.Helper()
	out := map[string]int{}
	c, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics("commands"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := c.PollFetches(pctx)
		cancel()
		if fs.NumRecords() == 0 {
			return out
		}
		fs.EachRecord(func(r *kgo.Record) {
			var cmd struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(r.Value, &cmd); err != nil || cmd.ID == "" {
				t.Errorf("command record %s: %v", r.Value, err)
			}
			out[cmd.ID]++
		})
	}
}
