package shadow

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/topology"
)

// Sink is the command sink, wired: a backend, its metrics and the group graph.
type Sink struct {
	cfg        Config
	supervisor atomic.Pointer[topology.Supervisor]
}

// New builds the backend bc names, registers the metrics with reg and returns the sink.
// cfg.Backend and cfg.Metrics are set by New (a Backend already in cfg is used as is). Nothing
// connects yet: Run does, or Connect.
func New(ctx context.Context, cfg Config, bc BackendConfig, reg prometheus.Registerer) (*Sink, error) {
	cfg = cfg.withDefaults()
	if cfg.Backend == nil {
		b, err := NewBackend(ctx, bc, cfg.Logger.With("backend", bc.Kind))
		if err != nil {
			return nil, err
		}
		cfg.Backend = b
	}
	if cfg.Metrics == nil {
		m, err := NewMetrics(reg)
		if err != nil {
			return nil, err
		}
		cfg.Metrics = m
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Sink{cfg: cfg}, nil
}

// Config is the sink's configuration with defaults, Backend and Metrics filled.
func (s *Sink) Config() Config { return s.cfg }

// Graph is Define(s.Config()).
func (s *Sink) Graph() *goka.GroupGraph { return Define(s.cfg) }

// Connect connects the backend: a broker that cannot be reached or missing credentials fail
// here, before any command is consumed.
func (s *Sink) Connect(ctx context.Context) error {
	if err := s.cfg.Backend.Connect(ctx); err != nil {
		return fmt.Errorf("command sink: %w", err)
	}
	return nil
}

// Processor builds a goka processor of the group with b's Kafka configuration. Connect first.
func (s *Sink) Processor(b topology.Builder, opts ...goka.ProcessorOption) (*goka.Processor, error) {
	return b.Processor(s.Graph(), opts...)
}

// Close closes the backend.
func (s *Sink) Close(ctx context.Context) error { return s.cfg.Backend.Close(ctx) }

// Run connects the backend, runs the group under a topology.Supervisor (a processor that
// stops is rebuilt after a backoff) until ctx ends, then closes the backend within 5 seconds.
func (s *Sink) Run(ctx context.Context, b topology.Builder) error {
	if err := s.Connect(ctx); err != nil {
		return err
	}
	sup := &topology.Supervisor{
		Name:      string(Group),
		Logger:    s.cfg.Logger,
		OnRestart: s.cfg.OnRestart,
		Build: func() (topology.Runner, error) {
			return s.Processor(b)
		},
	}
	s.supervisor.Store(sup)
	err := sup.Run(ctx)
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return errors.Join(err, s.Close(closeCtx))
}

// Ready reports whether Run's processor is running.
func (s *Sink) Ready() error {
	sup := s.supervisor.Load()
	if sup == nil {
		return errors.New("command sink is not running")
	}
	return sup.Ready()
}
