package topology

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestLagMonitorPoll(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	k, cfg := testKafka(t)
	if _, err := EnsureTopics(ctx, cfg, []TopicSpec{{Name: "in", Partitions: 2, Replication: 1}}); err != nil {
		t.Fatal(err)
	}
	p := kgoClient(t, k.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, &kgo.Record{Topic: "in", Partition: int32(i % 2), Value: []byte("x")})
	}
	if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	admin, err := ConnectAdmin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.Commit("reader", map[TopicPartition]int64{{"in", 0}: 1}); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	m := NewLagMonitor(cfg, map[string][]string{"reader": {"in"}, "new": {"in"}}, reg)
	if err := m.Poll(admin); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		group, partition string
		want             float64
	}{
		{"reader", "0", 2}, // 3 records, 1 committed
		{"reader", "1", 2}, // nothing committed: every record
		{"new", "0", 3},    // a group the broker never saw
		{"new", "1", 2},
	} {
		key := `group="` + c.group + `",partition="` + c.partition + `",topic="in"`
		if got := series(t, reg, "fleetstream_consumer_lag")[key]; got != c.want {
			t.Errorf("fleetstream_consumer_lag{group=%q,partition=%s} = %v, want %v", c.group, c.partition, got, c.want)
		}
	}
	if n := len(series(t, reg, "fleetstream_consumer_lag")); n != 4 {
		t.Errorf("%d series, want 4", n)
	}

	// A topic that disappears: its series go, the poll reports the error.
	m.Groups = map[string][]string{"reader": {"in"}}
	if err := m.Poll(admin); err != nil {
		t.Fatal(err)
	}
	if n := len(series(t, reg, "fleetstream_consumer_lag")); n != 2 {
		t.Errorf("%d series after dropping a group, want 2", n)
	}
	m.Groups = map[string][]string{"reader": {"no-such-topic"}}
	if err := m.Poll(admin); err == nil {
		t.Error("poll of a missing topic succeeded")
	}
}

func TestUnitReadiness(t *testing.T) {
	reg := prometheus.NewRegistry()
	down := errors.New("recovering")
	units := []NamedReadiness{{"vehicle-state", func() error { return nil }}, {"view:trip-state-table", func() error { return down }}}
	NewUnitReadiness(func() []NamedReadiness { return units }, reg)
	got := series(t, reg, "fleetstream_unit_ready")
	if len(got) != 2 || got[`unit="vehicle-state"`] != 1 || got[`unit="view:trip-state-table"`] != 0 {
		t.Errorf("fleetstream_unit_ready = %v, want vehicle-state 1 and the view 0", got)
	}
}
