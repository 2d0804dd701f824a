package fleet

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/fleetstream/fleetstream/topology"
)

// The groups a worker can run.
const (
	GroupTripState      = "trip-state"
	GroupVehicleState   = "vehicle-state"
	GroupDTCMonitor     = "dtc-monitor"
	GroupTimeseriesSink = "timeseries-sink"
	GroupCommandSink    = "command-sink"
)

// AllGroups lists every group, in data-flow order.
var allGroups = []string{GroupTripState, GroupVehicleState, GroupDTCMonitor, GroupTimeseriesSink, GroupCommandSink}

// AllGroups returns every group name, in data-flow order.
func AllGroups() []string { return slices.Clone(allGroups) }

// ProcessorGroups returns the names of the vehicle processor groups.
func ProcessorGroups() []string { return allGroups[:3] }

// Config is one fleetstream worker: which groups it runs, against which Kafka, with which
// topics, storage and HTTP address.
type Config struct {
	Kafka        topology.Kafka
	Topics       topology.Topics
	Provisioning topology.Provisioning
	// EnsureTopics creates missing topics at start-up and checks co-partitioning.
	EnsureTopics bool
	// Groups to run; see AllGroups.
	Groups []string
	// DataDir holds table storage (DataDir/tables) and the files sink's output; empty keeps
	// tables in memory.
	DataDir string
	// HTTPAddr serves /healthz, /readyz, /metrics and /api/vehicles; empty disables HTTP.
	HTTPAddr string
	// RulesFile is a YAML rule set for vehicle-state; empty uses the defaults.
	RulesFile string
	// StopCodes are the DTCs that issue a STOP command; nil uses the defaults.
	StopCodes []string
	// HotStandby keeps every table partition warm for fast takeover.
	HotStandby bool
	// ShutdownTimeout bounds draining and committing on SIGTERM (keep it below ECS's stop timeout).
	ShutdownTimeout time.Duration
	// Sinks configures the sink groups' backends.
	Sinks  SinkConfig
	Logger *slog.Logger
}

// DefaultConfig is a worker that runs every group against the embedded broker's address.
func DefaultConfig() Config {
	return Config{
		Kafka:           topology.DefaultKafka(),
		Topics:          topology.DefaultTopics(),
		Provisioning:    topology.Provisioning{Partitions: 6, Replication: 1},
		EnsureTopics:    true,
		Groups:          AllGroups(),
		HTTPAddr:        "127.0.0.1:8080",
		ShutdownTimeout: 10 * time.Second,
		Sinks:           DefaultSinkConfig(),
	}
}

// Validate checks everything before anything connects; each error names the flag to fix.
func (c Config) Validate() error {
	var errs []error
	if err := c.Kafka.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Topics.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Provisioning.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(c.Groups) == 0 {
		errs = append(errs, fmt.Errorf("groups: none chosen: set --groups to some of %s", strings.Join(allGroups, ",")))
	}
	for _, g := range c.Groups {
		if !slices.Contains(allGroups, g) {
			errs = append(errs, fmt.Errorf("groups: %q is unknown: choose from %s", g, strings.Join(allGroups, ",")))
		}
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, errors.New("shutdown timeout must be positive: set --shutdown-timeout, e.g. 10s (below the ECS stopTimeout)"))
	}
	if c.runs(GroupTimeseriesSink) || c.runs(GroupCommandSink) {
		if err := c.Sinks.Validate(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c Config) runs(group string) bool { return slices.Contains(c.Groups, group) }

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}
