package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fleetstream/fleetstream/internal/fleet"
	"github.com/fleetstream/fleetstream/topology"
)

// replayFlags are the flags of `fleetstream replay`.
type replayFlags struct {
	kafka      *kafkaFlags
	group      string
	topics     []string
	earliest   bool
	latest     bool
	datetime   string
	duration   time.Duration
	shift      int64
	offset     int64
	execute    bool
	resetState bool
	dataDir    string
}

// targetFlags are the mutually exclusive targets of a replay.
var targetFlags = []string{"to-earliest", "to-latest", "to-datetime", "by-duration", "shift-by", "to-offset"}

func newReplayCmd(stdout, stderr io.Writer, lf *logFlags) *cobra.Command {
	f := &replayFlags{}
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Reprocess history by resetting a group's consumer offsets (dry run unless --execute)",
		Long: `replay moves the committed offsets of a consumer group so that its workers reprocess (or skip)
records. Without --execute it only prints the plan per partition: the committed offset, the target
and how many records are reprocessed. With --execute it applies the plan, which the broker accepts
only while the group has no active members: stop the group's workers first.

Resetting offsets alone applies the replayed records on top of the current state: the vehicle
groups ignore readings not newer than what they keep, so old state stays as it is (a fixed rule
never reaches it), and a group that counts would count twice. --reset-state also rewinds what the
group derived: its table topic is deleted and created again with the same partitions and
configuration, and the local copies of the table under --data-dir are removed, so the group
rebuilds its state from the replayed records. Workers on other hosts that keep tables on disk
must start with an empty table directory too. Sinks are idempotent, so re-emitted time series and
commands (with the same ids) do no harm.`,
		Example: `  fleetstream replay --group vehicle-state --to-earliest --reset-state --data-dir /data
  fleetstream replay --group vehicle-state --to-earliest --reset-state --data-dir /data --execute
  fleetstream replay --group timeseries-sink --by-duration 2h --execute
  fleetstream replay --group dtc-monitor --topic diagnostics:0,3 --shift-by -1000`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			executeOnCommandLine := cmd.Flags().Changed("execute")
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if f.execute && !executeOnCommandLine {
				return errors.New("--execute must be given on the command line, not through FLEETSTREAM_EXECUTE")
			}
			if _, err := lf.logger(stderr); err != nil {
				return err
			}
			req, err := f.request(cmd)
			if err != nil {
				return err
			}
			k := f.kafka.kafka()
			if err := k.Validate(); err != nil {
				return err
			}
			admin, err := topology.ConnectAdmin(k)
			if err != nil {
				return err
			}
			defer admin.Close()
			plan, err := admin.PlanReplay(cmd.Context(), req)
			if err != nil {
				return err
			}
			if req.Group == fleet.GroupCommandSink && req.ResetState {
				plan.Warnings = append(plan.Warnings, "the command sink's table is what it remembers delivering: with --reset-state every replayed command is published to its vehicle again")
			}
			if !f.execute {
				return plan.Render(stdout, false)
			}
			if err := admin.ExecuteReplay(cmd.Context(), plan); err != nil {
				return err
			}
			if err := plan.Render(stdout, true); err != nil {
				return err
			}
			_, err = fmt.Fprintf(stdout, "done: start the %s workers to reprocess %d records\n", req.Group, plan.Reprocess())
			return err
		},
	}
	fs := cmd.Flags()
	f.kafka = addKafkaFlags(fs, true)
	fs.StringVar(&f.group, "group", "", "consumer group to replay: "+strings.Join(fleet.AllGroups(), ", "))
	fs.StringArrayVar(&f.topics, "topic", nil, "input topic to reset, optionally with partitions: telemetry or telemetry:0,3 (repeatable; default: every input topic of the group)")
	fs.BoolVar(&f.earliest, "to-earliest", false, "reset to the oldest offset each partition still holds")
	fs.BoolVar(&f.latest, "to-latest", false, "reset to the high-water mark (skip everything not yet processed)")
	fs.StringVar(&f.datetime, "to-datetime", "", "reset to the first record at or after this RFC 3339 time, e.g. 2025-06-01T08:00:00Z")
	fs.DurationVar(&f.duration, "by-duration", 0, "reset to the first record of the last duration, e.g. 2h")
	fs.Int64Var(&f.shift, "shift-by", 0, "move each committed offset by N records (negative: back)")
	fs.Int64Var(&f.offset, "to-offset", 0, "reset every partition to this offset")
	fs.BoolVar(&f.execute, "execute", false, "apply the plan (default: print it and change nothing)")
	fs.BoolVar(&f.resetState, "reset-state", false, "also empty the group's table topic and remove its local copies under --data-dir, so state is rebuilt from the replayed records")
	fs.StringVar(&f.dataDir, "data-dir", "", "the workers' --data-dir on this host, whose local copies of the table --reset-state removes")
	return cmd
}

// request turns the flags into a replay request.
func (f *replayFlags) request(cmd *cobra.Command) (topology.ReplayRequest, error) {
	var req topology.ReplayRequest
	if f.group == "" {
		return req, fmt.Errorf("--group is required: one of %s", strings.Join(fleet.AllGroups(), ", "))
	}
	if err := f.kafka.topics.Validate(); err != nil {
		return req, err
	}
	cfg := fleet.DefaultConfig()
	cfg.Topics = f.kafka.topics
	req.Group = f.group
	req.Topics = map[string][]int32{}
	known := slices.Contains(fleet.AllGroups(), f.group)
	if len(f.topics) == 0 {
		if !known {
			return req, fmt.Errorf("--group %q is not a fleetstream group (%s): name its topics with --topic", f.group, strings.Join(fleet.AllGroups(), ", "))
		}
		topics, err := fleet.InputTopics(cfg, f.group)
		if err != nil {
			return req, err
		}
		for _, t := range topics {
			req.Topics[t] = nil
		}
	}
	for _, spec := range f.topics {
		topic, parts, err := parseTopicSpec(spec)
		if err != nil {
			return req, err
		}
		if _, dup := req.Topics[topic]; dup {
			return req, fmt.Errorf("--topic %s is given twice: list its partitions once, e.g. %s:0,1", topic, topic)
		}
		req.Topics[topic] = parts
	}
	var chosen []string
	for _, name := range targetFlags {
		if cmd.Flags().Changed(name) {
			chosen = append(chosen, "--"+name)
		}
	}
	if len(chosen) != 1 {
		return req, fmt.Errorf("choose exactly one target of --%s (got %d: %s)", strings.Join(targetFlags, ", --"), len(chosen), strings.Join(chosen, " "))
	}
	switch chosen[0] {
	case "--to-earliest":
		req.Reset.Kind = topology.ResetEarliest
	case "--to-latest":
		req.Reset.Kind = topology.ResetLatest
	case "--to-datetime":
		at, err := time.Parse(time.RFC3339, f.datetime)
		if err != nil {
			return req, fmt.Errorf("--to-datetime %q: want RFC 3339, e.g. 2025-06-01T08:00:00Z: %w", f.datetime, err)
		}
		req.Reset = topology.Reset{Kind: topology.ResetDatetime, Time: at}
	case "--by-duration":
		req.Reset = topology.Reset{Kind: topology.ResetDuration, Duration: f.duration}
	case "--shift-by":
		req.Reset = topology.Reset{Kind: topology.ResetShift, Shift: f.shift}
	case "--to-offset":
		req.Reset = topology.Reset{Kind: topology.ResetOffset, Offset: f.offset}
	}
	if (chosen[0] == "--to-earliest" && !f.earliest) || (chosen[0] == "--to-latest" && !f.latest) {
		return req, fmt.Errorf("%s=false chooses no target: drop it or set it", chosen[0])
	}
	if f.resetState {
		req.ResetState = true
		req.Table = fleet.GroupTable(cfg, f.group)
		if req.Table == "" {
			return req, fmt.Errorf("--reset-state: group %s keeps no table: replay it without --reset-state", f.group)
		}
		req.StorageDir = fleet.StorageDir(f.dataDir)
	}
	return req, req.Validate()
}

// parseTopicSpec parses "topic" or "topic:p1,p2".
func parseTopicSpec(spec string) (string, []int32, error) {
	topic, list, hasParts := strings.Cut(spec, ":")
	if topic == "" {
		return "", nil, fmt.Errorf("--topic %q: name a topic, e.g. telemetry or telemetry:0,3", spec)
	}
	if !hasParts {
		return topic, nil, nil
	}
	var parts []int32
	for _, s := range strings.Split(list, ",") {
		p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
		if err != nil || p < 0 {
			return "", nil, fmt.Errorf("--topic %q: partition %q is not a partition number", spec, s)
		}
		if slices.Contains(parts, int32(p)) {
			return "", nil, fmt.Errorf("--topic %q: partition %d is listed twice", spec, p)
		}
		parts = append(parts, int32(p))
	}
	return topic, parts, nil
}
