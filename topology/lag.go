package topology

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultLagInterval is how often a LagMonitor polls offsets.
const DefaultLagInterval = 10 * time.Second

// PartitionLag is a consumer group's lag on one partition: records written and not yet
// committed.
type PartitionLag struct {
	Group string
	TopicPartition
	Committed int64 // -1: nothing committed (the group starts at the log start)
	HighWater int64
	Lag       int64
}

// Lag returns group's lag on every partition of topics. A partition without a committed offset
// lags by every record it holds, since groups start at the oldest offset.
func (a *Admin) Lag(group string, topics []string) ([]PartitionLag, error) {
	req := make(map[string][]int32, len(topics))
	for _, t := range topics {
		req[t] = nil
	}
	tps, err := a.Partitions(req)
	if err != nil {
		return nil, err
	}
	committed, err := a.Committed(group, tps)
	if err != nil {
		return nil, err
	}
	hwms, err := a.HighWaterMarks(tps)
	if err != nil {
		return nil, err
	}
	var starts map[TopicPartition]int64
	out := make([]PartitionLag, 0, len(tps))
	for _, tp := range tps {
		l := PartitionLag{Group: group, TopicPartition: tp, Committed: committed[tp], HighWater: hwms[tp]}
		from := l.Committed
		if from < 0 {
			if starts == nil {
				if starts, err = a.LogStartOffsets(tps); err != nil {
					return nil, err
				}
			}
			from = starts[tp]
		}
		l.Lag = max(l.HighWater-from, 0)
		out = append(out, l)
	}
	return out, nil
}

// LagMonitor exports fleetstream_consumer_lag{group,topic,partition}: the high-water mark minus
// the committed offset of each partition each group reads, polled every Interval. It is an
// observer: it never fails its worker, it logs what it cannot read and tries again.
type LagMonitor struct {
	Kafka Kafka
	// Groups maps each consumer group to the topics it reads.
	Groups map[string][]string
	// Interval between polls, DefaultLagInterval when zero.
	Interval time.Duration
	Logger   *slog.Logger

	gauge *prometheus.GaugeVec
	seen  map[[3]string]bool
}

// NewLagMonitor registers fleetstream_consumer_lag with reg (nil: none).
func NewLagMonitor(k Kafka, groups map[string][]string, reg prometheus.Registerer) *LagMonitor {
	m := &LagMonitor{
		Kafka:  k,
		Groups: groups,
		gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetstream_consumer_lag",
			Help: "Records in a partition the group has not committed yet: high-water mark minus committed offset, polled every 10 s.",
		}, []string{"group", "topic", "partition"}),
		seen: map[[3]string]bool{},
	}
	if reg != nil {
		reg.MustRegister(m.gauge)
	}
	return m
}

// Run polls until ctx is done, then returns nil.
func (m *LagMonitor) Run(ctx context.Context) error {
	interval := m.Interval
	if interval <= 0 {
		interval = DefaultLagInterval
	}
	log := m.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var admin *Admin
	defer func() {
		if admin != nil {
			admin.Close()
		}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if admin == nil {
			a, err := ConnectAdmin(m.Kafka)
			if err != nil {
				log.Debug("consumer lag: cannot connect; trying again", "err", err)
			}
			admin = a
		}
		if admin != nil {
			if err := m.Poll(admin); err != nil {
				log.Debug("consumer lag: poll failed; reconnecting", "err", err)
				admin.Close()
				admin = nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Poll reads the lag of every group once and updates the gauge; partitions that are gone are
// removed from it.
func (m *LagMonitor) Poll(a *Admin) error {
	groups := make([]string, 0, len(m.Groups))
	for g := range m.Groups {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	now := map[[3]string]bool{}
	var firstErr error
	for _, g := range groups {
		lags, err := a.Lag(g, m.Groups[g])
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("lag of %s: %w", g, err)
			}
			// keep the group's last values rather than dropping them on a transient error
			for k := range m.seen {
				if k[0] == g {
					now[k] = true
				}
			}
			continue
		}
		for _, l := range lags {
			k := [3]string{g, l.Topic, strconv.Itoa(int(l.Partition))}
			m.gauge.WithLabelValues(k[:]...).Set(float64(l.Lag))
			now[k] = true
		}
	}
	for k := range m.seen {
		if !now[k] {
			m.gauge.DeleteLabelValues(k[:]...)
		}
	}
	m.seen = now
	return firstErr
}
