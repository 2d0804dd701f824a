package fleet

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/lovoo/goka"

	"github.com/fleetstream/fleetstream/processors"
	"github.com/fleetstream/fleetstream/processors/dtcmonitor"
	"github.com/fleetstream/fleetstream/processors/rules"
	"github.com/fleetstream/fleetstream/processors/tripstate"
	"github.com/fleetstream/fleetstream/processors/vehiclestate"
	"github.com/fleetstream/fleetstream/sinks/shadow"
	"github.com/fleetstream/fleetstream/topology"
)

// defineGroups returns, per vehicle processor group, the function that defines its graph:
// NewWorker runs these graphs, Graphs describes them.
func defineGroups(cfg Config, ruleSet rules.Set, m *processors.Metrics) map[string]func() *goka.GroupGraph {
	t := cfg.Topics
	return map[string]func() *goka.GroupGraph{
		GroupTripState: func() *goka.GroupGraph {
			return tripstate.Define(tripstate.Config{Trips: goka.Stream(t.Trips), DeadLetters: goka.Stream(t.DeadLetters), Metrics: m})
		},
		GroupVehicleState: func() *goka.GroupGraph {
			c := vehiclestate.DefaultConfig()
			c.Telemetry, c.Anomalies, c.Timeseries, c.DeadLetters = goka.Stream(t.Telemetry), goka.Stream(t.Anomalies), goka.Stream(t.Timeseries), goka.Stream(t.DeadLetters)
			c.Rules, c.Metrics = ruleSet, m
			return vehiclestate.Define(c)
		},
		GroupDTCMonitor: func() *goka.GroupGraph {
			c := dtcmonitor.DefaultConfig()
			c.Diagnostics, c.DTCEvents, c.Commands, c.DeadLetters = goka.Stream(t.Diagnostics), goka.Stream(t.DTCEvents), goka.Stream(t.Commands), goka.Stream(t.DeadLetters)
			if cfg.StopCodes != nil {
				c.StopCodes = cfg.StopCodes
			}
			c.Metrics = m
			return dtcmonitor.Define(c)
		},
	}
}

// Graphs returns the goka group graphs of cfg's topics: the three vehicle processor groups and
// the command sink. They are the graphs a worker runs (rules and metrics aside, which do not
// change a graph's shape), for describing the topology and planning replays.
func Graphs(cfg Config) map[string]*goka.GroupGraph {
	out := map[string]*goka.GroupGraph{}
	for g, define := range defineGroups(cfg, rules.Default(), nil) {
		out[g] = define()
	}
	sc := shadow.DefaultConfig()
	sc.Commands, sc.DeadLetters = goka.Stream(cfg.Topics.Commands), goka.Stream(cfg.Topics.DeadLetters)
	out[GroupCommandSink] = shadow.Define(sc)
	return out
}

// Destinations outside Kafka of the sink groups, as Describe shows them.
var (
	timeseriesDestinations = []string{"Amazon Timestream", "Timestream for InfluxDB", "files"}
	commandDestinations    = []string{"AWS IoT shadow", "MQTT"}
)

// timeseriesSinkInputs are the topics the timeseries sink reads.
func timeseriesSinkInputs(t topology.Topics) []string {
	return []string{t.Timeseries, t.Anomalies, t.DTCEvents}
}

// Describe is the whole topology of cfg's topics in data-flow order: the processor groups
// from their graphs, then the sinks with where they write.
func Describe(cfg Config) topology.Description {
	graphs := Graphs(cfg)
	var d topology.Description
	for _, g := range ProcessorGroups() {
		d.Nodes = append(d.Nodes, topology.DescribeGraph(graphs[g]))
	}
	ts := topology.Node{Group: GroupTimeseriesSink, Kind: "sink", Inputs: timeseriesSinkInputs(cfg.Topics),
		Outputs: []string{cfg.Topics.DeadLetters}, Destinations: timeseriesDestinations}
	slices.Sort(ts.Inputs)
	d.Nodes = append(d.Nodes, ts)
	cs := topology.DescribeGraph(graphs[GroupCommandSink])
	cs.Kind, cs.Destinations = "sink", commandDestinations
	d.Nodes = append(d.Nodes, cs)
	return d
}

// InputTopics returns the topics group consumes (the topics its consumer group commits
// offsets for), or an error naming the groups for an unknown one.
func InputTopics(cfg Config, group string) ([]string, error) {
	if group == GroupTimeseriesSink {
		return timeseriesSinkInputs(cfg.Topics), nil
	}
	g, ok := Graphs(cfg)[group]
	if !ok {
		return nil, fmt.Errorf("group %q is unknown: choose from %v", group, allGroups)
	}
	var out []string
	for _, e := range g.InputStreams() {
		out = append(out, e.Topic())
	}
	slices.Sort(out)
	return out, nil
}

// GroupTable returns the table topic group keeps, "" for a group without one.
func GroupTable(cfg Config, group string) string {
	g, ok := Graphs(cfg)[group]
	if !ok || g.GroupTable() == nil {
		return ""
	}
	return g.GroupTable().Topic()
}

// StorageDir is where a worker with dataDir keeps its goka tables ("" for in memory).
func StorageDir(dataDir string) string {
	if dataDir == "" {
		return ""
	}
	return filepath.Join(dataDir, "tables")
}

// addOps wires the operational metrics of a worker: consumer lag of the groups it runs, the
// table recovery of its processors and the readiness of every unit.
func (w *Worker) addOps() error {
	groups := map[string][]string{}
	for _, g := range w.cfg.Groups {
		topics, err := InputTopics(w.cfg, g)
		if err != nil {
			return err
		}
		groups[g] = topics
	}
	lag := topology.NewLagMonitor(w.cfg.Kafka, groups, w.registry)
	lag.Logger = w.log.With("component", "consumer-lag")
	w.extra = append(w.extra, namedRunner{name: "consumer-lag", run: lag.Run})

	// Observe each processor the supervisors build: a restart makes a new one.
	recovery := topology.NewRecoveryMetrics(w.registry)
	for _, s := range w.units {
		build, group := s.Build, s.Name
		s.Build = func() (topology.Runner, error) {
			r, err := build()
			if u, ok := r.(topology.ProcessorUnit); ok && err == nil {
				recovery.Track(group, u.P)
			}
			return r, err
		}
	}

	topology.NewUnitReadiness(w.readiness, w.registry)
	return nil
}

// readiness lists every unit of the worker that can tell whether it is ready, including those
// added after addOps (views of the HTTP API).
func (w *Worker) readiness() []topology.NamedReadiness {
	var out []topology.NamedReadiness
	for _, u := range w.units {
		out = append(out, topology.NamedReadiness{Name: u.Name, Ready: u.Ready})
	}
	for _, r := range w.extra {
		if r.ready != nil {
			out = append(out, topology.NamedReadiness{Name: r.name, Ready: r.ready})
		}
	}
	return out
}
