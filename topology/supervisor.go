package topology

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// Runner is anything long-running: it runs until ctx is done or it fails.
type Runner interface {
	Run(ctx context.Context) error
}

// RunnerFunc adapts a function to Runner.
type RunnerFunc func(ctx context.Context) error

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context) error { return f(ctx) }

// Readiness is implemented by runners that know whether they are ready to serve.
type Readiness interface {
	Ready() error
}

// Restart policy defaults: a processor that fails is rebuilt after 1 s, doubling to 30 s, and the
// worker gives up (so its orchestrator replaces it) after 10 failures in a row without a
// stretch of healthy running.
const (
	defaultMinBackoff  = time.Second
	defaultMaxBackoff  = 30 * time.Second
	defaultMaxFailures = 10
	healthyAfter       = time.Minute
)

// Supervisor keeps one unit running. goka stops a processor for good when it loses its brokers
// or a rebalance fails, and a goka processor cannot be run twice, so the supervisor builds a new
// one after a backoff. It is not ready while the unit is down.
type Supervisor struct {
	Name string
	// Build makes a fresh unit for every (re)start.
	Build func() (Runner, error)
	// MinBackoff, MaxBackoff and MaxFailures tune the restart policy; zero takes the defaults.
	MinBackoff, MaxBackoff time.Duration
	MaxFailures            int
	Logger                 *slog.Logger
	// OnRestart is called after each failure, before the backoff (for a restarts metric).
	OnRestart func(name string, err error)

	mu      sync.Mutex
	current Runner
	lastErr error
}

// Run builds and runs the unit until ctx is done. It returns nil on a clean stop and the last
// error when the unit failed MaxFailures times in a row.
func (s *Supervisor) Run(ctx context.Context) error {
	minB, maxB, maxF := s.MinBackoff, s.MaxBackoff, s.MaxFailures
	if minB <= 0 {
		minB = defaultMinBackoff
	}
	if maxB <= 0 {
		maxB = defaultMaxBackoff
	}
	if maxF <= 0 {
		maxF = defaultMaxFailures
	}
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	failures := 0
	backoff := minB
	for {
		started := time.Now()
		err := s.runOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			err = errors.New("stopped unexpectedly")
		}
		if time.Since(started) > healthyAfter {
			failures, backoff = 0, minB
		}
		failures++
		s.setDown(err)
		if s.OnRestart != nil {
			s.OnRestart(s.Name, err)
		}
		if failures >= maxF {
			return fmt.Errorf("%s: giving up after %d failures in a row: %w", s.Name, failures, err)
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		log.Warn("unit stopped; restarting", "unit", s.Name, "err", err, "failures", failures, "retry_in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, maxB)
	}
}

func (s *Supervisor) runOnce(ctx context.Context) error {
	unit, err := s.Build()
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	s.mu.Lock()
	s.current, s.lastErr = unit, nil
	s.mu.Unlock()
	return unit.Run(ctx)
}

func (s *Supervisor) setDown(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current, s.lastErr = nil, err
}

// Ready reports nil while the unit runs and is ready itself (if it can tell).
func (s *Supervisor) Ready() error {
	s.mu.Lock()
	unit, lastErr := s.current, s.lastErr
	s.mu.Unlock()
	if unit == nil {
		if lastErr != nil {
			return fmt.Errorf("%s is restarting after: %w", s.Name, lastErr)
		}
		return fmt.Errorf("%s is starting", s.Name)
	}
	if r, ok := unit.(Readiness); ok {
		if err := r.Ready(); err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
	}
	return nil
}
