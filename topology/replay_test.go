package topology

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fleetstream/fleetstream/internal/devstack"
)

func TestResetTarget(t *testing.T) {
	p := PartitionPlan{Committed: 40, LogStart: 10, HighWater: 100}
	none := PartitionPlan{Committed: -1, LogStart: 10, HighWater: 100}
	for _, c := range []struct {
		name     string
		reset    Reset
		p        PartitionPlan
		atTime   int64
		hasTime  bool
		want     int64
		warnings []string
	}{
		{"earliest", Reset{Kind: ResetEarliest}, p, 0, false, 10, []string{"records 0 to 9 are gone"}},
		{"earliest from 0", Reset{Kind: ResetEarliest}, PartitionPlan{Committed: 5, HighWater: 9}, 0, false, 0, nil},
		{"latest skips", Reset{Kind: ResetLatest}, p, 0, false, 100, []string{"60 records from 40 on are never processed"}},
		{"datetime", Reset{Kind: ResetDatetime, Time: time.Unix(1, 0)}, p, 25, true, 25, nil},
		{"datetime after last record", Reset{Kind: ResetDatetime, Time: time.Unix(1, 0)}, p, -1, true, 100, []string{"never processed"}},
		{"duration", Reset{Kind: ResetDuration, Duration: time.Hour}, p, 30, true, 30, nil},
		{"shift back", Reset{Kind: ResetShift, Shift: -15}, p, 0, false, 25, nil},
		{"shift below log start", Reset{Kind: ResetShift, Shift: -100}, p, 0, false, 10, []string{"target -60 is below the log start offset 10"}},
		{"shift without commit", Reset{Kind: ResetShift, Shift: 5}, none, 0, false, 15, []string{"5 records from 10 on"}},
		{"offset below log start", Reset{Kind: ResetOffset, Offset: 3}, p, 0, false, 10, []string{"target 3 is below the log start offset 10"}},
		{"offset past end", Reset{Kind: ResetOffset, Offset: 500}, p, 0, false, 100, []string{"past the high-water mark 100"}},
		{"committed below log start", Reset{Kind: ResetOffset, Offset: 20}, PartitionPlan{Committed: 2, LogStart: 10, HighWater: 100}, 0, false, 20,
			[]string{"committed offset 2 is already below the log start offset 10"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, warnings := c.reset.target(c.p, c.atTime, c.hasTime)
			if got != c.want {
				t.Errorf("target = %d, want %d", got, c.want)
			}
			all := strings.Join(warnings, "\n")
			for _, w := range c.warnings {
				if !strings.Contains(all, w) {
					t.Errorf("warnings %q lack %q", warnings, w)
				}
			}
			if len(c.warnings) == 0 && len(warnings) > 0 {
				t.Errorf("unexpected warnings %q", warnings)
			}
		})
	}
}

func TestResetValidate(t *testing.T) {
	for _, bad := range []Reset{{}, {Kind: "to-tomorrow"}, {Kind: ResetDatetime}, {Kind: ResetDuration}, {Kind: ResetShift}, {Kind: ResetOffset, Offset: -1}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	req := ReplayRequest{Group: "g", Topics: map[string][]int32{"in": nil}, Reset: Reset{Kind: ResetEarliest}, ResetState: true}
	if err := req.Validate(); err == nil || !strings.Contains(err.Error(), "keeps no table") {
		t.Errorf("reset-state without a table: %v", err)
	}
}

func TestLocalTableDirs(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{
		"processors/vehicle-state/vehicle-state-table.0",
		"processors/vehicle-state/vehicle-state-table.11",
		"processors/dtc-monitor/vehicle-state-table.0", // a joined copy
		"processors/dtc-monitor/dtc-monitor-table.0",
		"processors/vehicle-state/vehicle-state-table-old.1", // another table sharing the prefix
		"processors/vehicle-state-table.2",                   // layout before per-group directories
		"views/vehicle-state-table.0",
		"views/trip-state-table.0",
	} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := LocalTableDirs(dir, "vehicle-state-table")
	if err != nil {
		t.Fatal(err)
	}
	var rel []string
	for _, g := range got {
		r, _ := filepath.Rel(dir, g)
		rel = append(rel, r)
	}
	want := []string{
		"processors/dtc-monitor/vehicle-state-table.0",
		"processors/vehicle-state-table.2",
		"processors/vehicle-state/vehicle-state-table.0",
		"processors/vehicle-state/vehicle-state-table.11",
		"views/vehicle-state-table.0",
	}
	if strings.Join(rel, ",") != strings.Join(want, ",") {
		t.Errorf("LocalTableDirs = %v\nwant %v", rel, want)
	}
	if none, _ := LocalTableDirs("", "vehicle-state-table"); none != nil {
		t.Errorf("no storage dir: %v", none)
	}
}

// testKafka starts the embedded broker for a test.
func testKafka(t *testing.T) (*devstack.Kafka, Kafka) {
	t.Helper()
	k, err := devstack.StartKafka(t.Context(), devstack.KafkaConfig{Addr: "127.0.0.1:0", GroupMinSessionTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Close)
	cfg := DefaultKafka()
	cfg.Brokers = k.Brokers()
	return k, cfg
}

func kgoClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	c, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestReplayOverTheWire plans and executes replays against the embedded broker: every reset
// kind, the refusal while the group has a member, and the table reset.
func TestReplayOverTheWire(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	k, cfg := testKafka(t)
	specs := []TopicSpec{
		{Name: "in", Partitions: 2, Replication: 1},
		{Name: "g-table", Partitions: 2, Replication: 1, Compacted: true},
	}
	if _, err := EnsureTopics(ctx, cfg, specs); err != nil {
		t.Fatal(err)
	}
	// 10 records per partition of "in", stamped a minute apart from base; 4 table records.
	base := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for p := range int32(2) {
		for i := range 10 {
			recs = append(recs, &kgo.Record{Topic: "in", Partition: p, Key: []byte("k"), Value: []byte(fmt.Sprint(i)), Timestamp: base.Add(time.Duration(i) * time.Minute)})
		}
		recs = append(recs, &kgo.Record{Topic: "g-table", Partition: p, Key: []byte("a"), Value: []byte("1")},
			&kgo.Record{Topic: "g-table", Partition: p, Key: []byte("b"), Value: []byte("2")})
	}
	manual := kgoClient(t, k.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := manual.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	admin, err := ConnectAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	tp0, tp1 := TopicPartition{"in", 0}, TopicPartition{"in", 1}
	// The group has committed 7 on partition 0 and nothing on partition 1.
	if err := admin.Commit("g", map[TopicPartition]int64{tp0: 7}); err != nil {
		t.Fatal(err)
	}
	lags, err := admin.Lag("g", []string{"in"})
	if err != nil {
		t.Fatal(err)
	}
	if len(lags) != 2 || lags[0].Lag != 3 || lags[1].Lag != 10 {
		t.Errorf("lag = %+v, want 3 on partition 0 and 10 on partition 1 (nothing committed)", lags)
	}

	storage := t.TempDir()
	local := filepath.Join(storage, "processors", "g", "g-table.0")
	if err := os.MkdirAll(local, 0o755); err != nil {
		t.Fatal(err)
	}
	req := ReplayRequest{Group: "g", Topics: map[string][]int32{"in": nil}, Table: "g-table", StorageDir: storage,
		Now: func() time.Time { return base.Add(12 * time.Minute) }}
	for _, c := range []struct {
		reset  Reset
		p0, p1 int64
	}{
		{Reset{Kind: ResetEarliest}, 0, 0},
		{Reset{Kind: ResetLatest}, 10, 10},
		{Reset{Kind: ResetDatetime, Time: base.Add(4*time.Minute + time.Second)}, 5, 5},
		{Reset{Kind: ResetDuration, Duration: 5 * time.Minute}, 7, 7},
		{Reset{Kind: ResetShift, Shift: -2}, 5, 0},
		{Reset{Kind: ResetOffset, Offset: 3}, 3, 3},
	} {
		r := req
		r.Reset = c.reset
		plan, err := admin.PlanReplay(ctx, r)
		if err != nil {
			t.Fatalf("%s: %v", c.reset.Kind, err)
		}
		got := plan.Targets()
		if got[tp0] != c.p0 || got[tp1] != c.p1 {
			t.Errorf("%s: targets %v, want %d and %d", c.reset.Kind, got, c.p0, c.p1)
		}
	}

	// A member in the group: the plan names it, Execute refuses.
	member := kgoClient(t, k.Addr(), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("in"), kgo.ClientID("worker-7"),
		kgo.DisableAutoCommit(), kgo.SessionTimeout(time.Second), kgo.HeartbeatInterval(200*time.Millisecond))
	req.Reset = Reset{Kind: ResetEarliest}
	req.ResetState = true
	var plan *Plan
	deadline := time.Now().Add(15 * time.Second)
	for {
		member.PollRecords(ctx, 1)
		if plan, err = admin.PlanReplay(ctx, req); err != nil {
			t.Fatal(err)
		}
		if len(plan.Members) > 0 || time.Now().After(deadline) {
			break
		}
	}
	err = admin.ExecuteReplay(ctx, plan)
	var active *ActiveGroupError
	if !errors.As(err, &active) || !errors.Is(err, ErrGroupActive) || !strings.Contains(err.Error(), "worker-7") {
		t.Fatalf("execute with a member: %v, want an ActiveGroupError naming worker-7", err)
	}
	var out strings.Builder
	if err := plan.Render(&out, false); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"replay of group g, offsets reset to the earliest offset (dry run",
		"in     0          7          0          10          0       10",
		"in     1          -          0          10          0       10",
		"20 records to reprocess on 2 partitions",
		"state: table topic g-table (4 records) is deleted and created again with 2 partitions, replication 1, cleanup.policy=compact",
		"state: removes local storage " + local,
		"refused on --execute: group g is",
		"worker-7",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q:\n%s", want, out.String())
		}
	}
	member.LeaveGroup()
	member.Close()

	// Without members it runs: offsets at the targets, the table empty, local storage gone.
	if err := admin.ExecuteReplay(ctx, plan); err != nil {
		t.Fatal(err)
	}
	committed, err := admin.Committed("g", []TopicPartition{tp0, tp1})
	if err != nil {
		t.Fatal(err)
	}
	if committed[tp0] != 0 || committed[tp1] != 0 {
		t.Errorf("committed after replay = %v, want 0 and 0", committed)
	}
	shape, err := admin.DescribeTopic("g-table")
	if err != nil {
		t.Fatal(err)
	}
	if shape.Partitions != 2 || shape.Configs["cleanup.policy"] != "compact" {
		t.Errorf("table recreated as %+v", shape)
	}
	hwm, err := admin.HighWaterMarks([]TopicPartition{{"g-table", 0}, {"g-table", 1}})
	if err != nil {
		t.Fatal(err)
	}
	for tp, off := range hwm {
		if off != 0 {
			t.Errorf("%s: high-water mark %d after the reset, want 0", tp, off)
		}
	}
	if _, err := os.Stat(local); !os.IsNotExist(err) {
		t.Errorf("local storage %s still there: %v", local, err)
	}
}
