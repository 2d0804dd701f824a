package tripstate

import (
	"errors"
	"fmt"
	"time"

	"github.com/lovoo/goka"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors"
)

// Group is the trip-state group; its table is Table.
const Group goka.Group = "trip-state"

// Table is the group table, "trip-state-table": a codecs.TripState per VIN.
var Table = goka.GroupTable(Group)

// Config names the topics of the group and where it reports.
type Config struct {
	// Trips is the input topic of trip aggregates, keyed by VIN.
	Trips goka.Stream
	// DeadLetters receives the messages the group refuses.
	DeadLetters goka.Stream
	// Metrics may be nil.
	Metrics *processors.Metrics
}

// DefaultConfig returns the default topic names: trips and dead-letters.
func DefaultConfig() Config {
	return Config{Trips: "trips", DeadLetters: "dead-letters"}
}

// Validate reports a missing topic name.
func (c Config) Validate() error {
	var errs []error
	if c.Trips == "" {
		errs = append(errs, errors.New("tripstate: Trips is empty; set the trips topic name (default \"trips\")"))
	}
	if c.DeadLetters == "" {
		errs = append(errs, errors.New("tripstate: DeadLetters is empty; set the dead-letter topic name (default \"dead-letters\")"))
	}
	return errors.Join(errs...)
}

// Define returns the group graph of trip-state for cfg, which should have passed Validate.
func Define(cfg Config) *goka.GroupGraph {
	p := &processor{cfg: cfg, now: time.Now}
	return goka.DefineGroup(Group,
		processors.RawInput(Group, cfg.Trips, cfg.DeadLetters, cfg.Metrics, p.apply),
		goka.Persist(codecs.JSON[codecs.TripState]{}),
		goka.Output(cfg.DeadLetters, codecs.JSON[codecs.DeadLetter]{}),
	)
}

type processor struct {
	cfg Config
	now func() time.Time
}

func (p *processor) apply(ctx goka.Context, raw []byte) error {
	agg, err := codecs.DecodeTrip(raw)
	if err != nil {
		return fmt.Errorf("decode trip aggregate: %w", err)
	}
	if err := processors.CheckKey(ctx.Key(), agg.VIN); err != nil {
		return err
	}
	p.cfg.Metrics.ObserveLag(string(Group), agg.Time, p.now())
	prev, _ := ctx.Value().(*codecs.TripState)
	if next, changed := Apply(prev, agg); changed {
		ctx.SetValue(next)
	}
	return nil
}

// Apply folds a decoded aggregate into the stored state (nil for a vehicle not seen yet) and
// reports whether the state changed. It keeps the newest aggregate by event time: an older one
// is ignored, one with the same time changes nothing. A newer aggregate of another trip starts
// a new trip and counts it; an aggregate carrying an end time ends the trip. Apply does not
// modify prev.
func Apply(prev *codecs.TripState, agg codecs.TripAggregate) (next *codecs.TripState, changed bool) {
	if prev != nil && !agg.Time.After(prev.UpdatedAt) {
		return prev, false
	}
	next = &codecs.TripState{
		VIN:       agg.VIN,
		TripID:    agg.TripID,
		StartTime: agg.StartTime,
		EndTime:   agg.EndTime,
		UpdatedAt: agg.Time,
		Latitude:  agg.Latitude,
		Longitude: agg.Longitude,
		Latest:    agg,
		Trips:     1,
	}
	if prev == nil {
		return next, true
	}
	next.Trips = prev.Trips
	if prev.TripID != agg.TripID {
		next.Trips++
		return next, true
	}
	// Same trip: the earliest start wins (an aggregate without start_time falls back to its own
	// time), and once ended a trip stays ended.
	if !prev.StartTime.IsZero() && prev.StartTime.Before(next.StartTime) {
		next.StartTime = prev.StartTime
	}
	if next.EndTime == nil && prev.EndTime != nil {
		next.EndTime = prev.EndTime
	}
	return next, true
}
