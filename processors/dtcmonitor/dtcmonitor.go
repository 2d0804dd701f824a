package dtcmonitor

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lovoo/goka"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors"
	"github.com/fleetstream/fleetstream/processors/vehiclestate"
)

// Group is the dtc-monitor group; its table is Table.
const Group goka.Group = "dtc-monitor"

// Table is the group table, "dtc-monitor-table": a codecs.DTCState per VIN.
var Table = goka.GroupTable(Group)

// Config names the topics and tables of the group, which codes stop the engine and how severe
// codes are.
type Config struct {
	// Diagnostics is the input topic of trouble codes, keyed by VIN.
	Diagnostics goka.Stream
	// DTCEvents receives a codecs.DTCEvent per code and trip.
	DTCEvents goka.Stream
	// Commands receives the engine-stop commands.
	Commands goka.Stream
	// DeadLetters receives the messages the group refuses.
	DeadLetters goka.Stream
	// VehicleTable is the vehicle-state table joined for the vehicle's speed and position.
	VehicleTable goka.Table
	// StopCodes are the codes that stop the engine: once per trip they issue an engine_stop
	// command. Upper case, e.g. P0217.
	StopCodes []string
	// Severities sets the severity of codes (info, warning or critical). A code not listed is
	// critical when it is a stop code and DefaultSeverity otherwise.
	Severities map[string]string
	// DefaultSeverity is the severity of codes neither listed nor stop-worthy.
	DefaultSeverity string
	// Metrics may be nil.
	Metrics *processors.Metrics
}

// DefaultStopCodes returns the codes that stop the engine by default: P0217 engine over
// temperature, P0218 transmission over temperature, P0524 engine oil pressure too low and P0300
// random/multiple cylinder misfire.
func DefaultStopCodes() []string { return []string{"P0217", "P0218", "P0524", "P0300"} }

// DefaultSeverities returns the default severity overrides: emission-control codes, which do
// not endanger the vehicle, are info.
func DefaultSeverities() map[string]string {
	return map[string]string{
		"P0128": processors.SeverityInfo,
		"P0420": processors.SeverityInfo,
		"P0430": processors.SeverityInfo,
		"P0440": processors.SeverityInfo,
		"P0442": processors.SeverityInfo,
		"P0446": processors.SeverityInfo,
		"P0455": processors.SeverityInfo,
		"P0456": processors.SeverityInfo,
	}
}

// DefaultConfig returns the default topics (diagnostics, dtc-events, commands, dead-letters),
// vehiclestate.Table, DefaultStopCodes, DefaultSeverities and default severity warning.
func DefaultConfig() Config {
	return Config{
		Diagnostics:     "diagnostics",
		DTCEvents:       "dtc-events",
		Commands:        "commands",
		DeadLetters:     "dead-letters",
		VehicleTable:    vehiclestate.Table,
		StopCodes:       DefaultStopCodes(),
		Severities:      DefaultSeverities(),
		DefaultSeverity: processors.SeverityWarning,
	}
}

// Validate reports missing names, malformed codes and unknown severities, each naming the field
// and the fix.
func (c Config) Validate() error {
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("dtcmonitor: "+format, args...))
	}
	for _, f := range []struct{ field, value, def string }{
		{"Diagnostics", string(c.Diagnostics), "diagnostics"},
		{"DTCEvents", string(c.DTCEvents), "dtc-events"},
		{"Commands", string(c.Commands), "commands"},
		{"DeadLetters", string(c.DeadLetters), "dead-letters"},
		{"VehicleTable", string(c.VehicleTable), string(vehiclestate.Table)},
	} {
		if f.value == "" {
			fail("%s is empty; set it (default %q)", f.field, f.def)
		}
	}
	for i, code := range c.StopCodes {
		if !codecs.ValidDTCCode(code) {
			fail("StopCodes[%d]: %q is not an OBD-II code; write P, C, B or U and four hex digits in upper case, e.g. P0217", i, code)
		}
	}
	for _, code := range sortedKeys(c.Severities) {
		if !codecs.ValidDTCCode(code) {
			fail("Severities[%q]: not an OBD-II code; write P, C, B or U and four hex digits in upper case, e.g. P0420", code)
		}
		if sev := c.Severities[code]; !processors.ValidSeverity(sev) {
			fail("Severities[%q]: %q is not a severity; use info, warning or critical", code, sev)
		}
	}
	if !processors.ValidSeverity(c.DefaultSeverity) {
		fail("DefaultSeverity: %q is not a severity; use info, warning or critical", c.DefaultSeverity)
	}
	return errors.Join(errs...)
}

// StopWorthy reports whether code stops the engine.
func (c Config) StopWorthy(code string) bool { return slices.Contains(c.StopCodes, code) }

// Severity returns the severity of code: its entry in Severities, else critical for a stop
// code, else DefaultSeverity.
func (c Config) Severity(code string) string {
	if sev, ok := c.Severities[code]; ok {
		return sev
	}
	if c.StopWorthy(code) {
		return processors.SeverityCritical
	}
	return c.DefaultSeverity
}

// Define returns the group graph of dtc-monitor for cfg, which should have passed Validate.
func Define(cfg Config) *goka.GroupGraph {
	p := &processor{cfg: cfg, now: time.Now}
	return goka.DefineGroup(Group,
		processors.RawInput(Group, cfg.Diagnostics, cfg.DeadLetters, cfg.Metrics, p.apply),
		goka.Join(cfg.VehicleTable, codecs.JSON[codecs.VehicleState]{}),
		goka.Persist(codecs.JSON[codecs.DTCState]{}),
		goka.Output(cfg.DTCEvents, codecs.JSON[codecs.DTCEvent]{}),
		goka.Output(cfg.Commands, codecs.JSON[codecs.Command]{}),
		goka.Output(cfg.DeadLetters, codecs.JSON[codecs.DeadLetter]{}),
	)
}

type processor struct {
	cfg Config
	now func() time.Time
}

func (p *processor) apply(ctx goka.Context, raw []byte) error {
	dtc, err := codecs.DecodeDTC(raw)
	if err != nil {
		return fmt.Errorf("decode trouble code: %w", err)
	}
	if err := processors.CheckKey(ctx.Key(), dtc.VIN); err != nil {
		return err
	}
	p.cfg.Metrics.ObserveLag(string(Group), dtc.Time, p.now())

	prev, _ := ctx.Value().(*codecs.DTCState)
	vehicle, _ := ctx.Join(p.cfg.VehicleTable).(*codecs.VehicleState)
	d := p.cfg.Decide(prev, dtc, vehicle, Source{Partition: ctx.Partition(), Offset: ctx.Offset()})

	if d.Changed {
		ctx.SetValue(d.State)
	}
	if d.Event != nil {
		ctx.Emit(p.cfg.DTCEvents, ctx.Key(), d.Event)
		p.cfg.Metrics.DTCEvent(d.Event.Severity)
	}
	if d.Command != nil {
		ctx.Emit(p.cfg.Commands, ctx.Key(), d.Command)
	}
	if d.CommandResult != "" {
		p.cfg.Metrics.Command(d.CommandResult)
	}
	return nil
}
