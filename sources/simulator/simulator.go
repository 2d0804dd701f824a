package simulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/topology"
)

const (
	// maxWorkers bounds the goroutines that drive the fleet; each owns every maxWorkers-th
	// vehicle and publishes its messages in order.
	maxWorkers = 128
	// reportEvery is how often Run logs the achieved rate.
	reportEvery = 10 * time.Second
	// errorLogEvery rate-limits the log of publish errors.
	errorLogEvery = 5 * time.Second
)

// ErrAlreadyRunning is returned by a second call of Run.
var ErrAlreadyRunning = errors.New("simulator: Run was already called")

// Simulator drives a fleet of simulated connected cars and publishes what they send.
type Simulator struct {
	cfg      Config
	pub      Publisher
	vehicles []*vehicle
	byVIN    map[string]*vehicle
	inbox    []atomic.Pointer[command] // per vehicle, newest command wins
	bucket   *tokenBucket

	messages *prometheus.CounterVec
	errors   prometheus.Counter
	counts   [3]atomic.Int64 // telemetry, trip, dtc
	failed   atomic.Int64
	started  atomic.Bool
	begin    atomic.Int64 // unix nanos of Run's start
	lastErr  atomic.Int64 // unix nanos of the last logged publish error
}

// Stats is what a simulator has published so far.
type Stats struct {
	Telemetry, Trips, DTCs int64
	// Failed counts publishes that returned an error; those messages are not sent again.
	Failed int64
	// Elapsed is the time since Run started.
	Elapsed time.Duration
}

// Messages is the number of vehicle messages published.
func (s Stats) Messages() int64 { return s.Telemetry + s.Trips + s.DTCs }

// Rate is the achieved rate in messages per second.
func (s Stats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Messages()) / s.Elapsed.Seconds()
}

// New builds the fleet: VINs and starting points come from cfg.Seed. It registers the
// simulator's metrics with cfg.Registerer.
func New(cfg Config, pub Publisher) (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if pub == nil {
		return nil, errNoPublisher
	}
	cfg = cfg.withDefaults()
	s := &Simulator{cfg: cfg, pub: pub, byVIN: make(map[string]*vehicle, cfg.Vehicles)}
	codes := cfg.dtcTable()
	for i := 0; len(s.vehicles) < cfg.Vehicles; i++ {
		v := newVehicle(&s.cfg, codes, i)
		if s.byVIN[v.vin] != nil {
			continue // a VIN drawn twice (36^17 makes this theoretical); draw the next vehicle
		}
		v.index = len(s.vehicles)
		s.byVIN[v.vin] = v
		s.vehicles = append(s.vehicles, v)
	}
	s.inbox = make([]atomic.Pointer[command], len(s.vehicles))
	if cfg.Rate > 0 {
		s.bucket = newTokenBucket(cfg.Rate)
	}

	messages := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetstream_simulator_messages_total",
		Help: "Vehicle messages the simulator published, by kind (telemetry, trip, dtc).",
	}, []string{"kind"})
	failures := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "fleetstream_simulator_publish_errors_total",
		Help: "Publishes that failed; the simulator carries on without resending them.",
	})
	var err error
	if s.messages, err = topology.Register(cfg.Registerer, messages); err != nil {
		return nil, err
	}
	if s.errors, err = topology.Register(cfg.Registerer, failures); err != nil {
		return nil, err
	}
	for _, k := range []Kind{KindTelemetry, KindTrip, KindDTC} {
		s.messages.WithLabelValues(string(k))
	}
	return s, nil
}

// VINs returns the fleet's VINs in vehicle order.
func (s *Simulator) VINs() []string {
	vins := make([]string, len(s.vehicles))
	for i, v := range s.vehicles {
		vins[i] = v.vin
	}
	return vins
}

// Stats returns what has been published so far.
func (s *Simulator) Stats() Stats {
	st := Stats{
		Telemetry: s.counts[0].Load(),
		Trips:     s.counts[1].Load(),
		DTCs:      s.counts[2].Load(),
		Failed:    s.failed.Load(),
	}
	if b := s.begin.Load(); b != 0 {
		st.Elapsed = time.Since(time.Unix(0, b))
	}
	return st
}

// Command hands a shadow update to the vehicle with the given VIN, as if it had arrived on its
// shadow topic; it takes effect on the vehicle's next tick. It reports whether the VIN belongs
// to the fleet and the payload asks something of the engine.
func (s *Simulator) Command(vin string, payload []byte) bool {
	c, ok := parseCommand(payload)
	if !ok {
		return false
	}
	v, known := s.byVIN[vin]
	if !known {
		return false
	}
	s.inbox[v.index].Store(&c)
	return true
}

// Run drives the fleet until ctx ends, then returns nil. Through a CommandSource it first
// subscribes to the shadow topics, so vehicles obey stop commands. Publish errors are counted
// and logged, never fatal: a vehicle carries on as a real one would.
func (s *Simulator) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	if cs, ok := s.pub.(CommandSource); ok {
		filter := strings.Replace(s.cfg.ShadowTopic, VINPlaceholder, "+", 1)
		if err := cs.SubscribeCommands(ctx, filter, s.onCommand); err != nil {
			return fmt.Errorf("simulator: subscribe to commands on %s: %w", filter, err)
		}
	}
	start := time.Now()
	s.begin.Store(start.UnixNano())
	mode := "paced"
	if s.bucket != nil {
		mode = "rate"
	}
	s.cfg.Logger.Info("simulator started", "vehicles", len(s.vehicles), "format", s.cfg.Format,
		"mode", mode, "interval", s.cfg.Interval, "rate", s.cfg.Rate, "seed", s.cfg.Seed)

	workers := min(len(s.vehicles), maxWorkers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		var own []int
		for i := w; i < len(s.vehicles); i += workers {
			own = append(own, i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.bucket != nil {
				s.driveAsFastAsAllowed(ctx, own)
			} else {
				s.drivePaced(ctx, start, own)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.report(ctx)
	}()
	wg.Wait()

	st := s.Stats()
	s.cfg.Logger.Info("simulator stopped", "messages", st.Messages(), "telemetry", st.Telemetry,
		"trips", st.Trips, "dtcs", st.DTCs, "failed", st.Failed, "elapsed", st.Elapsed.Round(time.Millisecond),
		"messages_per_second", round(st.Rate(), 1))
	return nil
}

// onCommand routes a message of the shadow topic filter to its vehicle.
func (s *Simulator) onCommand(topic string, payload []byte) {
	prefix, suffix, _ := strings.Cut(s.cfg.ShadowTopic, VINPlaceholder)
	if !strings.HasPrefix(topic, prefix) || !strings.HasSuffix(topic, suffix) || len(topic) < len(prefix)+len(suffix) {
		return
	}
	vin := topic[len(prefix) : len(topic)-len(suffix)]
	if _, known := s.byVIN[vin]; !known {
		return
	}
	if s.Command(vin, payload) {
		s.cfg.Logger.Debug("command received", "vin", vin, "payload", string(payload))
	}
}

// drivePaced ticks each owned vehicle every Interval, staggered across the interval so the
// fleet does not publish in bursts. A worker that falls behind skips ticks instead of
// bunching them.
func (s *Simulator) drivePaced(ctx context.Context, start time.Time, own []int) {
	interval := s.cfg.Interval
	type slot struct {
		i   int
		due time.Time
	}
	slots := make([]slot, len(own))
	for k, i := range own {
		offset := time.Duration(float64(interval) * float64(i) / float64(len(s.vehicles)))
		slots[k] = slot{i: i, due: start.Add(offset)}
	}
	sort.Slice(slots, func(a, b int) bool { return slots[a].due.Before(slots[b].due) })
	timer := time.NewTimer(0)
	defer timer.Stop()
	for k := 0; ; k = (k + 1) % len(slots) {
		sl := &slots[k]
		if wait := time.Until(sl.due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		if !s.tick(ctx, sl.i, interval.Seconds()) {
			return
		}
		sl.due = sl.due.Add(interval)
		if behind := time.Since(sl.due); behind > interval {
			sl.due = time.Now() // drop the missed ticks
		}
	}
}

// driveAsFastAsAllowed ticks owned vehicles back to back; the token bucket in publish sets the
// pace, and each tick advances a vehicle by the time since its previous one.
func (s *Simulator) driveAsFastAsAllowed(ctx context.Context, own []int) {
	last := make([]time.Time, len(own))
	for k := 0; ; k = (k + 1) % len(own) {
		if ctx.Err() != nil {
			return
		}
		now := s.cfg.Now()
		dt := 0.0
		if !last[k].IsZero() {
			dt = max(0, now.Sub(last[k]).Seconds())
		}
		last[k] = now
		if !s.tick(ctx, own[k], dt) {
			return
		}
	}
}

// tick advances vehicle i and publishes what it sends; false means ctx ended.
func (s *Simulator) tick(ctx context.Context, i int, dt float64) bool {
	v := s.vehicles[i]
	if c := s.inbox[i].Swap(nil); c != nil {
		v.pending = c
	}
	msgs, err := v.tick(s.cfg.Now(), dt)
	if err != nil {
		s.cfg.Logger.Error("vehicle tick failed", "vin", v.vin, "error", err)
		return ctx.Err() == nil
	}
	for _, m := range msgs {
		if !s.publish(ctx, m) {
			return false
		}
	}
	return true
}

// publish sends m; false means ctx ended.
func (s *Simulator) publish(ctx context.Context, m message) bool {
	if s.bucket != nil && m.kind != KindShadow {
		if err := s.bucket.wait(ctx); err != nil {
			return false
		}
	}
	if err := s.pub.Publish(ctx, m.topic, m.vin, m.payload); err != nil {
		if ctx.Err() != nil {
			return false
		}
		s.failed.Add(1)
		s.errors.Inc()
		s.logPublishError(m, err)
		return true
	}
	switch m.kind {
	case KindTelemetry:
		s.counts[0].Add(1)
	case KindTrip:
		s.counts[1].Add(1)
	case KindDTC:
		s.counts[2].Add(1)
	default:
		return true
	}
	s.messages.WithLabelValues(string(m.kind)).Inc()
	return true
}

func (s *Simulator) logPublishError(m message, err error) {
	now := time.Now().UnixNano()
	last := s.lastErr.Load()
	if now-last < int64(errorLogEvery) || !s.lastErr.CompareAndSwap(last, now) {
		return
	}
	s.cfg.Logger.Warn("publish failed", "vin", m.vin, "topic", m.topic, "kind", m.kind,
		"failed_total", s.failed.Load(), "error", err)
}

// report logs the achieved rate every reportEvery.
func (s *Simulator) report(ctx context.Context) {
	t := time.NewTicker(reportEvery)
	defer t.Stop()
	var prev int64
	prevAt := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			st := s.Stats()
			n := st.Messages()
			s.cfg.Logger.Info("simulator progress", "messages", n, "failed", st.Failed,
				"messages_per_second", round(float64(n-prev)/now.Sub(prevAt).Seconds(), 1),
				slog.Float64("target_rate", s.cfg.Rate))
			prev, prevAt = n, now
		}
	}
}
