package topology

import (
	"context"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRecoveryMetrics runs a goka processor whose table already holds records and reads
// fleetstream_table_recovered and fleetstream_table_recovery_lag before and after it recovered.
func TestRecoveryMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 40*time.Second)
	defer cancel()
	k, cfg := testKafka(t)
	if _, err := EnsureTopics(ctx, cfg, []TopicSpec{
		{Name: "counts-in", Partitions: 2, Replication: 1},
		{Name: "counter-table", Partitions: 2, Replication: 1, Compacted: true},
	}); err != nil {
		t.Fatal(err)
	}
	p := kgoClient(t, k.Addr())
	var recs []*kgo.Record
	for _, key := range []string{"a", "b", "c", "d"} {
		recs = append(recs, &kgo.Record{Topic: "counter-table", Key: []byte(key), Value: []byte("1")})
	}
	if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	reg := prometheus.NewRegistry()
	m := NewRecoveryMetrics(reg)
	graph := goka.DefineGroup("counter",
		goka.Input("counts-in", new(codec.String), func(ctx goka.Context, _ any) { ctx.SetValue("1") }),
		goka.Persist(new(codec.String)),
	)
	b := Builder{Kafka: cfg, Replication: 1}
	b.Kafka.SessionTimeout = 6 * time.Second
	proc, err := b.Processor(graph)
	if err != nil {
		t.Fatal(err)
	}
	m.Track("counter", proc)
	if got := series(t, reg, "fleetstream_table_recovered"); got[`group="counter"`] != 0 || len(got) != 1 {
		t.Errorf("recovered before Run = %v, want 0", got)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- proc.Run(runCtx) }()
	for !proc.Recovered() {
		if ctx.Err() != nil {
			t.Fatal("processor did not recover")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := series(t, reg, "fleetstream_table_recovered"); got[`group="counter"`] != 1 {
		t.Errorf("fleetstream_table_recovered = %v, want 1", got)
	}
	if got := series(t, reg, "fleetstream_table_recovery_lag"); len(got) != 1 || got[`group="counter",table="counter-table"`] != 0 {
		t.Errorf("fleetstream_table_recovery_lag = %v, want 0 for counter-table", got)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := series(t, reg, "fleetstream_table_recovered"); got[`group="counter"`] != 0 {
		t.Errorf("recovered after stop = %v, want 0", got)
	}
}
