package shadow

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/lovoo/goka"

	"github.com/fleetstream/fleetstream/sinks"
)

// Defaults of Config.
const (
	DefaultCommands        goka.Stream = "commands"
	DefaultDeadLetters     goka.Stream = "dead-letters"
	DefaultRemember                    = 64
	DefaultAttemptTimeout              = 30 * time.Second
	DefaultRetryInitial                = 200 * time.Millisecond
	DefaultRetryMax                    = 30 * time.Second
	DefaultRetryMultiplier             = 2.0
)

// Config configures the command-sink group: its topics, how many delivered ids it remembers,
// how it retries, and the backend it publishes through.
type Config struct {
	// Commands is the input topic of codecs.Command, keyed by VIN.
	Commands goka.Stream
	// DeadLetters receives the commands that cannot be decoded or delivered.
	DeadLetters goka.Stream
	// Remember is how many delivered command ids the table keeps per VIN (the newest). A
	// command whose id was pushed out by newer ones would be published again on a replay.
	Remember int
	// Retry is the backoff between attempts of a retryable failure.
	Retry Retry
	// AttemptTimeout bounds one attempt (one WriteBatch of one command).
	AttemptTimeout time.Duration
	// Backend publishes the commands (mqtt.Backend, iot.Backend; see NewBackend). Required.
	// The sink does not connect or close it: New's Sink does, or whoever built it.
	Backend sinks.Backend
	// Metrics may be nil.
	Metrics *Metrics
	// Logger may be nil.
	Logger *slog.Logger
	// OnRestart, if set, is called when Sink.Run's supervisor rebuilds a failed processor (a
	// restarts metric).
	OnRestart func(name string, err error)
}

// Retry is exponential backoff with jitter: the n-th wait is drawn from [b/2, b] where b is
// Initial·Multiplierⁿ⁻¹, capped at Max. Retryable failures are retried until they succeed or
// the processor stops.
type Retry struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
}

// DefaultConfig returns the default topics, 64 remembered ids per VIN, backoff from 200 ms to
// 30 s and a 30 s attempt timeout; Backend is left to the caller.
func DefaultConfig() Config {
	return Config{
		Commands:       DefaultCommands,
		DeadLetters:    DefaultDeadLetters,
		Remember:       DefaultRemember,
		AttemptTimeout: DefaultAttemptTimeout,
		Retry:          Retry{Initial: DefaultRetryInitial, Max: DefaultRetryMax, Multiplier: DefaultRetryMultiplier},
	}
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Commands == "" {
		c.Commands = d.Commands
	}
	if c.DeadLetters == "" {
		c.DeadLetters = d.DeadLetters
	}
	if c.Remember == 0 {
		c.Remember = d.Remember
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = d.AttemptTimeout
	}
	if c.Retry.Initial == 0 {
		c.Retry.Initial = d.Retry.Initial
	}
	if c.Retry.Max == 0 {
		c.Retry.Max = max(d.Retry.Max, c.Retry.Initial)
	}
	if c.Retry.Multiplier == 0 {
		c.Retry.Multiplier = d.Retry.Multiplier
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every field that is wrong, naming the fix. Zero fields take the defaults,
// except Backend, which is required.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf("shadow: "+format, args...)) }
	if c.Commands == c.DeadLetters {
		fail("Commands and DeadLetters are both %q: give dead letters their own topic (default %q)", c.Commands, DefaultDeadLetters)
	}
	if c.Remember < 1 {
		fail("Remember %d: keep at least 1 delivered id per VIN (default %d)", c.Remember, DefaultRemember)
	}
	if c.AttemptTimeout < 0 {
		fail("AttemptTimeout %s is negative: use a positive duration (default %s)", c.AttemptTimeout, DefaultAttemptTimeout)
	}
	if c.Retry.Initial < 0 || c.Retry.Max < c.Retry.Initial {
		fail("Retry: Initial %s and Max %s: want 0 < Initial <= Max (default %s and %s)", c.Retry.Initial, c.Retry.Max, DefaultRetryInitial, DefaultRetryMax)
	}
	if c.Retry.Multiplier < 1 {
		fail("Retry.Multiplier %g: want at least 1 (default %g)", c.Retry.Multiplier, DefaultRetryMultiplier)
	}
	if c.Backend == nil {
		fail("Backend is nil: build one with NewBackend (or mqtt.New, iot.New), or use New")
	}
	return errors.Join(errs...)
}
