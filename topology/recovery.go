package topology

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"
)

// RecoveryMetrics exports the table recovery of the processors it tracks, read from goka at
// scrape time:
//
//	fleetstream_table_recovered{group}             1 once the processor recovered its tables and runs
//	fleetstream_table_recovery_lag{group,table}    table records still to load before processing starts
//
// A group whose processor is being rebuilt counts as not recovered.
type RecoveryMetrics struct {
	mu         sync.Mutex
	processors map[string]*goka.Processor

	recovered *prometheus.Desc
	lag       *prometheus.Desc
}

// NewRecoveryMetrics registers the collector with reg (nil: none).
func NewRecoveryMetrics(reg prometheus.Registerer) *RecoveryMetrics {
	m := &RecoveryMetrics{
		processors: map[string]*goka.Processor{},
		recovered: prometheus.NewDesc("fleetstream_table_recovered",
			"1 once the group's processor has recovered its group and joined tables and processes input, else 0.",
			[]string{"group"}, nil),
		lag: prometheus.NewDesc("fleetstream_table_recovery_lag",
			"Records of a table (the group's own or a joined one) still to load on this worker before the group processes input; 0 when recovered.",
			[]string{"group", "table"}, nil),
	}
	if reg != nil {
		reg.MustRegister(m)
	}
	return m
}

// Track makes p the processor of group, replacing the one before (a restart builds a new one).
func (m *RecoveryMetrics) Track(group string, p *goka.Processor) {
	m.mu.Lock()
	m.processors[group] = p
	m.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *RecoveryMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.recovered
	ch <- m.lag
}

// Collect implements prometheus.Collector.
func (m *RecoveryMetrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	groups := make([]string, 0, len(m.processors))
	for g := range m.processors {
		groups = append(groups, g)
	}
	procs := make(map[string]*goka.Processor, len(m.processors))
	for g, p := range m.processors {
		procs[g] = p
	}
	m.mu.Unlock()
	sort.Strings(groups)
	for _, g := range groups {
		p := procs[g]
		recovered := 0.0
		if p.Recovered() {
			recovered = 1
		}
		ch <- prometheus.MustNewConstMetric(m.recovered, prometheus.GaugeValue, recovered, g)
		for table, lag := range recoveryLag(p) {
			ch <- prometheus.MustNewConstMetric(m.lag, prometheus.GaugeValue, float64(lag), g, table)
		}
	}
}

// recoveryLag sums, per table, the records still to load on the partitions that recover.
func recoveryLag(p *goka.Processor) map[string]int64 {
	out := map[string]int64{}
	graph := p.Graph()
	if t := graph.GroupTable(); t != nil {
		out[t.Topic()] = 0
	}
	for _, j := range graph.JointTables() {
		out[j.Topic()] = 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	stats := p.StatsWithContext(ctx)
	if stats == nil {
		return out
	}
	add := func(table string, ts *goka.TableStats) {
		if ts == nil || ts.Status == goka.PartitionRunning || ts.Recovery == nil || ts.Recovery.Hwm <= 0 {
			return
		}
		// Recovery.Offset is the last record loaded (the first to load before any is).
		out[table] += max(ts.Recovery.Hwm-ts.Recovery.Offset-1, 0)
	}
	for _, pp := range stats.Group {
		if t := graph.GroupTable(); t != nil {
			add(t.Topic(), pp.TableStats)
		}
		for table, ts := range pp.Joined {
			add(table, ts)
		}
	}
	return out
}

// NamedReadiness is a unit's name and its readiness check (nil error: ready).
type NamedReadiness struct {
	Name  string
	Ready func() error
}

// UnitReadiness exports fleetstream_unit_ready{unit}: 1 while a unit (processor group, sink,
// view) is ready, 0 while it starts, recovers or restarts. Units are read at every scrape, so
// units added after registration are included.
type UnitReadiness struct {
	units func() []NamedReadiness
	desc  *prometheus.Desc
}

// NewUnitReadiness registers the collector with reg (nil: none).
func NewUnitReadiness(units func() []NamedReadiness, reg prometheus.Registerer) *UnitReadiness {
	u := &UnitReadiness{
		units: units,
		desc: prometheus.NewDesc("fleetstream_unit_ready",
			"1 while the unit (processor group, sink, view) is ready: running, tables recovered; 0 while it starts, recovers or restarts.",
			[]string{"unit"}, nil),
	}
	if reg != nil {
		reg.MustRegister(u)
	}
	return u
}

// Describe implements prometheus.Collector.
func (u *UnitReadiness) Describe(ch chan<- *prometheus.Desc) { ch <- u.desc }

// Collect implements prometheus.Collector.
func (u *UnitReadiness) Collect(ch chan<- prometheus.Metric) {
	for _, n := range u.units() {
		v := 0.0
		if n.Ready() == nil {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(u.desc, prometheus.GaugeValue, v, n.Name)
	}
}
