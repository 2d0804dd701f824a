package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/internal/httpapi"
	"github.com/fleetstream/fleetstream/processors"
	"github.com/fleetstream/fleetstream/processors/dtcmonitor"
	"github.com/fleetstream/fleetstream/processors/rules"
	"github.com/fleetstream/fleetstream/processors/tripstate"
	"github.com/fleetstream/fleetstream/processors/vehiclestate"
	"github.com/fleetstream/fleetstream/topology"
)

// Worker is a configured, not yet running set of groups, views and HTTP.
type Worker struct {
	cfg      Config
	log      *slog.Logger
	registry *prometheus.Registry
	builder  topology.Builder
	metrics  *processors.Metrics
	restarts *prometheus.CounterVec
	units    []*topology.Supervisor
	http     *httpapi.Server
	// extra runs alongside the groups (the dev stack's simulator and bridge).
	extra []namedRunner
}

type namedRunner struct {
	name  string
	run   func(ctx context.Context) error
	ready func() error
}

func goStream(name string) goka.Stream { return goka.Stream(name) }

// Tables lists the group tables a deployment provisions next to its topics.
func Tables() []string {
	return []string{string(tripstate.Table), string(vehiclestate.Table), string(dtcmonitor.Table), string(goka.GroupTable(GroupCommandSink))}
}

// NewWorker validates cfg and prepares every unit; nothing connects yet.
func NewWorker(cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Worker{cfg: cfg, log: cfg.logger(), registry: prometheus.NewRegistry()}
	w.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	w.restarts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetstream_restarts_total",
		Help: "Times a group, sink or view stopped and was rebuilt by its supervisor.",
	}, []string{"unit"})
	w.registry.MustRegister(w.restarts)
	storage := ""
	if cfg.DataDir != "" {
		storage = filepath.Join(cfg.DataDir, "tables")
	}
	w.builder = topology.Builder{
		Kafka:       cfg.Kafka,
		StorageDir:  storage,
		Replication: int(cfg.Provisioning.Replication),
		HotStandby:  cfg.HotStandby,
		Logger:      w.log,
		Hooks:       topology.NewHooks(w.registry),
	}
	w.metrics = processors.NewMetrics(w.registry)

	ruleSet := rules.Default()
	if cfg.RulesFile != "" {
		var err error
		if ruleSet, err = rules.Load(cfg.RulesFile); err != nil {
			return nil, fmt.Errorf("rules: %w", err)
		}
	}
	graphs := defineGroups(cfg, ruleSet, w.metrics)
	for _, g := range cfg.Groups {
		define, ok := graphs[g]
		if !ok {
			continue
		}
		w.addProcessor(g, define)
	}
	if err := w.addSinks(); err != nil {
		return nil, err
	}
	if err := w.addOps(); err != nil {
		return nil, err
	}
	if cfg.HTTPAddr != "" {
		if err := w.addHTTP(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Registry is the worker's metrics registry, for extra collectors (simulator, bridge).
func (w *Worker) Registry() *prometheus.Registry { return w.registry }

// Builder is the worker's goka builder.
func (w *Worker) Builder() topology.Builder { return w.builder }

// HTTPAddr is the address HTTP listens on once Run started it ("" without HTTP).
func (w *Worker) HTTPAddr() string {
	if w.http == nil {
		return ""
	}
	return w.http.Addr()
}

func (w *Worker) supervise(name string, build func() (topology.Runner, error)) *topology.Supervisor {
	s := &topology.Supervisor{
		Name:   name,
		Build:  build,
		Logger: w.log,
		OnRestart: func(name string, err error) {
			w.restarts.WithLabelValues(name).Inc()
		},
	}
	w.units = append(w.units, s)
	return s
}

func (w *Worker) addProcessor(group string, define func() *goka.GroupGraph) {
	w.supervise(group, func() (topology.Runner, error) {
		p, err := w.builder.Processor(define())
		if err != nil {
			return nil, err
		}
		return topology.ProcessorUnit{P: p}, nil
	})
}

func (w *Worker) addHTTP() error {
	var store *vehicleStore
	vehicles := w.view(vehiclestate.Table, codecs.JSON[codecs.VehicleState]{})
	trips := w.view(tripstate.Table, codecs.JSON[codecs.TripState]{})
	store = &vehicleStore{vehicles: vehicles, trips: trips}
	w.http = httpapi.New(httpapi.Options{
		Addr:     w.cfg.HTTPAddr,
		Logger:   w.log,
		Gatherer: w.registry,
		Ready:    w.Ready,
		Vehicles: store,
	})
	// Bind now: a taken port fails at start-up, and the chosen port (":0") is known at once.
	return w.http.Listen()
}

// view prepares a supervised view; the returned pointer is replaced on each restart, so the
// store reads through viewRef.
func (w *Worker) view(table goka.Table, codec goka.Codec) *viewRef {
	ref := &viewRef{}
	w.supervise("view:"+string(table), func() (topology.Runner, error) {
		v, err := w.builder.View(table, codec)
		if err != nil {
			return nil, err
		}
		ref.set(v)
		return topology.ViewUnit{V: v}, nil
	})
	return ref
}

// Ready is nil when every unit runs and is ready: tables recovered, views caught up.
func (w *Worker) Ready(context.Context) error {
	var errs []error
	for _, u := range w.units {
		if err := u.Ready(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, r := range w.extra {
		if r.ready == nil {
			continue
		}
		if err := r.ready(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.name, err))
		}
	}
	return errors.Join(errs...)
}

// Run provisions topics (if configured) and runs every unit until ctx is done, then shuts down
// within the configured timeout.
func (w *Worker) Run(ctx context.Context) error {
	if w.cfg.EnsureTopics {
		res, err := topology.EnsureTopics(ctx, w.cfg.Kafka, w.cfg.Provisioning.Specs(w.cfg.Topics, Tables()...))
		if err != nil {
			return fmt.Errorf("topics: %w", err)
		}
		if len(res.Created) > 0 {
			w.log.Info("created topics", "topics", res.Created, "partitions", w.cfg.Provisioning.Partitions)
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	g, gctx := errgroup.WithContext(runCtx)
	for _, u := range w.units {
		g.Go(func() error { return u.Run(gctx) })
	}
	for _, r := range w.extra {
		g.Go(func() error {
			if err := r.run(gctx); err != nil && gctx.Err() == nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			return nil
		})
	}
	if w.http != nil {
		g.Go(func() error { return w.http.Run(gctx) })
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	w.log.Info("shutting down", "timeout", w.cfg.ShutdownTimeout)
	cancel()
	select {
	case err := <-done:
		return err
	case <-time.After(w.cfg.ShutdownTimeout):
		return fmt.Errorf("shutdown did not finish within %s: offsets of unfinished work stay uncommitted and will be redelivered", w.cfg.ShutdownTimeout)
	}
}
