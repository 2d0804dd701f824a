package vehiclestate

import (
	"errors"
	"fmt"
	"time"

	"github.com/lovoo/goka"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors"
	"github.com/fleetstream/fleetstream/processors/rules"
	"github.com/fleetstream/fleetstream/processors/tripstate"
)

// Group is the vehicle-state group; its table is Table.
const Group goka.Group = "vehicle-state"

// Table is the group table, "vehicle-state-table": a codecs.VehicleState per VIN.
var Table = goka.GroupTable(Group)

// Config names the topics and tables of the group, its rules and where it reports.
type Config struct {
	// Telemetry is the input topic of vehicle signals, keyed by VIN.
	Telemetry goka.Stream
	// Anomalies receives codecs.Anomaly when an anomaly opens or clears.
	Anomalies goka.Stream
	// Timeseries receives a codecs.Measurement per signal.
	Timeseries goka.Stream
	// DeadLetters receives the messages the group refuses.
	DeadLetters goka.Stream
	// TripTable is the trip-state table joined for trip dimensions.
	TripTable goka.Table
	// Rules are evaluated on every newer numeric signal; the zero Set has none.
	Rules rules.Set
	// Metrics may be nil.
	Metrics *processors.Metrics
}

// DefaultConfig returns the default topics (telemetry, anomalies, timeseries, dead-letters),
// tripstate.Table and rules.Default().
func DefaultConfig() Config {
	return Config{
		Telemetry:   "telemetry",
		Anomalies:   "anomalies",
		Timeseries:  "timeseries",
		DeadLetters: "dead-letters",
		TripTable:   tripstate.Table,
		Rules:       rules.Default(),
	}
}

// Validate reports a missing topic or table name and invalid rules.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct{ field, value, def string }{
		{"Telemetry", string(c.Telemetry), "telemetry"},
		{"Anomalies", string(c.Anomalies), "anomalies"},
		{"Timeseries", string(c.Timeseries), "timeseries"},
		{"DeadLetters", string(c.DeadLetters), "dead-letters"},
		{"TripTable", string(c.TripTable), string(tripstate.Table)},
	} {
		if f.value == "" {
			errs = append(errs, fmt.Errorf("vehiclestate: %s is empty; set it (default %q)", f.field, f.def))
		}
	}
	if err := c.Rules.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("vehiclestate: Rules: %w", err))
	}
	return errors.Join(errs...)
}

// Define returns the group graph of vehicle-state for cfg, which should have passed Validate.
func Define(cfg Config) *goka.GroupGraph {
	p := &processor{cfg: cfg, now: time.Now}
	return goka.DefineGroup(Group,
		processors.RawInput(Group, cfg.Telemetry, cfg.DeadLetters, cfg.Metrics, p.apply),
		goka.Join(cfg.TripTable, codecs.JSON[codecs.TripState]{}),
		goka.Persist(codecs.JSON[codecs.VehicleState]{}),
		goka.Output(cfg.Anomalies, codecs.JSON[codecs.Anomaly]{}),
		goka.Output(cfg.Timeseries, codecs.JSON[codecs.Measurement]{}),
		goka.Output(cfg.DeadLetters, codecs.JSON[codecs.DeadLetter]{}),
	)
}

type processor struct {
	cfg Config
	now func() time.Time
}

func (p *processor) apply(ctx goka.Context, raw []byte) error {
	signals, err := codecs.DecodeTelemetry(raw)
	if err != nil {
		return fmt.Errorf("decode telemetry: %w", err)
	}
	if err := processors.CheckKey(ctx.Key(), signals[0].VIN); err != nil {
		return err
	}
	p.cfg.Metrics.ObserveLag(string(Group), newest(signals), p.now())

	// ctx.Value decodes the stored state anew on every call: this message's copy to change.
	prev, _ := ctx.Value().(*codecs.VehicleState)
	trip, _ := ctx.Join(p.cfg.TripTable).(*codecs.TripState)
	res := applyOwned(prev, signals, trip, p.cfg.Rules)

	for _, m := range res.Measurements {
		ctx.Emit(p.cfg.Timeseries, ctx.Key(), m)
	}
	for _, a := range res.Anomalies {
		ctx.Emit(p.cfg.Anomalies, ctx.Key(), a)
		p.cfg.Metrics.Anomaly(a.Rule, a.State)
	}
	if res.Changed {
		ctx.SetValue(res.State)
	}
	return nil
}

func newest(signals []codecs.Signal) time.Time {
	var t time.Time
	for _, s := range signals {
		if s.Time.After(t) {
			t = s.Time
		}
	}
	return t
}
