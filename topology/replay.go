package topology

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// ResetKind says where a replay moves a group's offsets.
type ResetKind string

// The reset kinds, named after the flags of `fleetstream replay` (and kafka-consumer-groups).
const (
	ResetEarliest ResetKind = "to-earliest"
	ResetLatest   ResetKind = "to-latest"
	ResetDatetime ResetKind = "to-datetime"
	ResetDuration ResetKind = "by-duration"
	ResetShift    ResetKind = "shift-by"
	ResetOffset   ResetKind = "to-offset"
)

// Reset is where a replay moves each partition's committed offset.
type Reset struct {
	Kind ResetKind
	// Time is the target of ResetDatetime: the first record stamped at or after it.
	Time time.Time
	// Duration is the look-back of ResetDuration: the first record stamped at or after
	// now − Duration.
	Duration time.Duration
	// Shift moves the committed offset of ResetShift by this many records (negative: back).
	Shift int64
	// Offset is the target of ResetOffset, the same on every partition.
	Offset int64
}

// Validate reports a reset that cannot be planned.
func (r Reset) Validate() error {
	switch r.Kind {
	case ResetEarliest, ResetLatest:
	case ResetDatetime:
		if r.Time.IsZero() {
			return errors.New("replay: --to-datetime needs an RFC 3339 time, e.g. 2025-06-01T08:00:00Z")
		}
	case ResetDuration:
		if r.Duration <= 0 {
			return fmt.Errorf("replay: --by-duration %s: use a positive duration, e.g. 2h", r.Duration)
		}
	case ResetShift:
		if r.Shift == 0 {
			return errors.New("replay: --shift-by 0 changes nothing: use e.g. -1000 to reprocess the last 1000 records of each partition")
		}
	case ResetOffset:
		if r.Offset < 0 {
			return fmt.Errorf("replay: --to-offset %d: use an offset of 0 or more", r.Offset)
		}
	case "":
		return errors.New("replay: no target: choose one of --to-earliest, --to-latest, --to-datetime, --by-duration, --shift-by, --to-offset")
	default:
		return fmt.Errorf("replay: reset %q is unknown", r.Kind)
	}
	return nil
}

func (r Reset) String() string {
	switch r.Kind {
	case ResetEarliest:
		return "to the earliest offset"
	case ResetLatest:
		return "to the latest offset"
	case ResetDatetime:
		return "to the first record at or after " + r.Time.UTC().Format(time.RFC3339)
	case ResetDuration:
		return fmt.Sprintf("to the first record of the last %s", r.Duration)
	case ResetShift:
		return fmt.Sprintf("shifted by %+d records", r.Shift)
	case ResetOffset:
		return fmt.Sprintf("to offset %d", r.Offset)
	}
	return string(r.Kind)
}

// ReplayRequest asks for a replay of one group.
type ReplayRequest struct {
	Group string
	// Topics are the input topics to reset, each with the partitions to reset (none listed:
	// all of them).
	Topics map[string][]int32
	Reset  Reset
	// ResetState also rewinds what the group derived: its table topic is emptied (deleted and
	// created again with the same partitions and configuration) and the local copies of the
	// table under StorageDir are removed, so state is rebuilt rather than applied twice.
	ResetState bool
	// Table is the group table ("<group>-table"); empty for a group without one.
	Table string
	// StorageDir is the goka storage directory of Builder.StorageDir on this host ("" when tables
	// are kept in memory).
	StorageDir string
	// Now is the clock of ResetDuration; nil uses time.Now.
	Now func() time.Time
}

// Validate reports a request that cannot be planned.
func (r ReplayRequest) Validate() error {
	if r.Group == "" {
		return errors.New("replay: no group: set --group")
	}
	if len(r.Topics) == 0 {
		return fmt.Errorf("replay: group %s: no topics to reset", r.Group)
	}
	if r.ResetState && r.Table == "" {
		return fmt.Errorf("replay: group %s keeps no table: drop --reset-state", r.Group)
	}
	return r.Reset.Validate()
}

// PartitionPlan is what a replay does to one input partition.
type PartitionPlan struct {
	TopicPartition
	// Committed is the group's committed offset, -1 when it has none (it then starts at the
	// log start).
	Committed int64
	LogStart  int64
	HighWater int64
	// Target is the offset the group will commit; the next record it processes is at Target.
	Target int64
	// Warnings say what the replay cannot do as asked on this partition.
	Warnings []string
}

// Reprocess is how many records the group processes on the partition after the reset.
func (p PartitionPlan) Reprocess() int64 { return max(p.HighWater-p.Target, 0) }

// position is where the group would resume without the reset.
func (p PartitionPlan) position() int64 {
	if p.Committed < 0 {
		return p.LogStart
	}
	return p.Committed
}

// TablePlan is what a replay with ResetState does to the group's table.
type TablePlan struct {
	Shape TopicShape
	// Records is how many records the table topic holds now (high-water mark minus log start,
	// summed over partitions).
	Records int64
	// LocalDirs are the local copies of the table on this host that are removed.
	LocalDirs []string
}

// Plan is a replay worked out against the cluster: per partition the committed offset, the
// target and what it costs, and for ResetState the table and local storage that are rewound.
// Execute applies it; Render prints it.
type Plan struct {
	Request    ReplayRequest
	Partitions []PartitionPlan
	Table      *TablePlan
	// State and Members describe the group at planning time; Execute checks again.
	State   string
	Members []Member
	// Warnings concern the whole plan.
	Warnings []string
}

// Reprocess is the number of records the group processes after the reset, over all partitions.
func (p *Plan) Reprocess() int64 {
	var n int64
	for _, pp := range p.Partitions {
		n += pp.Reprocess()
	}
	return n
}

// Targets is the offset to commit per partition.
func (p *Plan) Targets() map[TopicPartition]int64 {
	out := make(map[TopicPartition]int64, len(p.Partitions))
	for _, pp := range p.Partitions {
		out[pp.TopicPartition] = pp.Target
	}
	return out
}

// PlanReplay works out what a replay does, reading offsets and the group from the cluster. It
// changes nothing.
func (a *Admin) PlanReplay(ctx context.Context, req ReplayRequest) (*Plan, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	tps, err := a.Partitions(req.Topics)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", req.Group, err)
	}
	committed, err := a.Committed(req.Group, tps)
	if err != nil {
		return nil, err
	}
	starts, err := a.LogStartOffsets(tps)
	if err != nil {
		return nil, err
	}
	hwms, err := a.HighWaterMarks(tps)
	if err != nil {
		return nil, err
	}
	var byTime map[TopicPartition]int64
	if at, ok := req.targetTime(); ok {
		if byTime, err = a.OffsetsAt(tps, at.UnixMilli()); err != nil {
			return nil, err
		}
	}
	plan := &Plan{Request: req}
	for _, tp := range tps {
		pp := PartitionPlan{TopicPartition: tp, Committed: committed[tp], LogStart: starts[tp], HighWater: hwms[tp]}
		atTime, hasTime := byTime[tp]
		pp.Target, pp.Warnings = req.Reset.target(pp, atTime, hasTime)
		plan.Partitions = append(plan.Partitions, pp)
	}
	if plan.State, plan.Members, err = a.Members(req.Group); err != nil {
		return nil, err
	}
	if req.ResetState {
		if err := a.planTable(plan); err != nil {
			return nil, err
		}
	}
	return plan, ctx.Err()
}

func (r ReplayRequest) targetTime() (time.Time, bool) {
	switch r.Reset.Kind {
	case ResetDatetime:
		return r.Reset.Time, true
	case ResetDuration:
		now := time.Now
		if r.Now != nil {
			now = r.Now
		}
		return now().Add(-r.Reset.Duration), true
	}
	return time.Time{}, false
}

// target is the offset a reset moves p to, clamped to the partition's records, with a warning
// for each thing that is not as asked. atTime is the broker's answer for a time-based reset
// (-1: no record that late).
func (r Reset) target(p PartitionPlan, atTime int64, hasTime bool) (int64, []string) {
	var want int64
	switch r.Kind {
	case ResetEarliest:
		want = p.LogStart
	case ResetLatest:
		want = p.HighWater
	case ResetDatetime, ResetDuration:
		want = atTime
		if !hasTime || atTime < 0 {
			want = p.HighWater // no record that late: nothing to reprocess
		}
	case ResetShift:
		want = p.position() + r.Shift
	case ResetOffset:
		want = r.Offset
	}
	var warnings []string
	switch {
	case want < p.LogStart:
		warnings = append(warnings, fmt.Sprintf("target %d is below the log start offset %d: records before it are gone (retention or deleted); replaying from %d", want, p.LogStart, p.LogStart))
		want = p.LogStart
	case want > p.HighWater:
		warnings = append(warnings, fmt.Sprintf("target %d is past the high-water mark %d; using %d", want, p.HighWater, p.HighWater))
		want = p.HighWater
	}
	if r.Kind == ResetEarliest && p.LogStart > 0 {
		warnings = append(warnings, fmt.Sprintf("the log starts at offset %d: records 0 to %d are gone and are not replayed", p.LogStart, p.LogStart-1))
	}
	if p.Committed >= 0 && p.Committed < p.LogStart {
		warnings = append(warnings, fmt.Sprintf("committed offset %d is already below the log start offset %d", p.Committed, p.LogStart))
	}
	if skip := want - p.position(); skip > 0 {
		warnings = append(warnings, fmt.Sprintf("moves forward: %d records from %d on are never processed", skip, p.position()))
	}
	return want, warnings
}

func (a *Admin) planTable(plan *Plan) error {
	req := plan.Request
	shape, err := a.DescribeTopic(req.Table)
	if err != nil {
		return fmt.Errorf("replay %s: table: %w", req.Group, err)
	}
	tps, err := a.Partitions(map[string][]int32{req.Table: nil})
	if err != nil {
		return err
	}
	starts, err := a.LogStartOffsets(tps)
	if err != nil {
		return err
	}
	hwms, err := a.HighWaterMarks(tps)
	if err != nil {
		return err
	}
	t := &TablePlan{Shape: shape}
	for _, tp := range tps {
		t.Records += max(hwms[tp]-starts[tp], 0)
	}
	if t.LocalDirs, err = LocalTableDirs(req.StorageDir, req.Table); err != nil {
		return err
	}
	plan.Table = t
	if req.Reset.Kind != ResetEarliest {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("--reset-state empties %s but the inputs are reset %s: state is rebuilt only from the records after the target", req.Table, req.Reset))
	}
	var partial []string
	for topic, parts := range req.Topics {
		if len(parts) > 0 {
			partial = append(partial, topic)
		}
	}
	if len(partial) > 0 {
		sort.Strings(partial)
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("--reset-state empties every partition of %s but only some partitions of %s are reset: the other partitions lose their state", req.Table, strings.Join(partial, ", ")))
	}
	if req.StorageDir == "" {
		plan.Warnings = append(plan.Warnings, "no --data-dir: no local table storage is removed here; workers that keep tables on disk must start with an empty table directory (or in memory)")
	}
	return nil
}

// LocalTableDirs lists the local copies of table under a Builder's StorageDir: the group's own
// and the joined copies of every group (processors/<group>/<table>.<partition>), views
// (views/<table>.<partition>) and the layout before per-group directories
// (processors/<table>.<partition>).
func LocalTableDirs(storageDir, table string) ([]string, error) {
	if storageDir == "" {
		return nil, nil
	}
	var out []string
	for _, pattern := range []string{
		filepath.Join(storageDir, "processors", "*", table+".*"),
		filepath.Join(storageDir, "processors", table+".*"),
		filepath.Join(storageDir, "views", table+".*"),
	} {
		matches, err := filepath.Glob(pattern)
		if err != nil {
			return nil, fmt.Errorf("local storage of %s: %w", table, err)
		}
		for _, m := range matches {
			if isPartitionDir(filepath.Base(m), table) {
				out = append(out, m)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// isPartitionDir reports whether name is table.<partition>, not another table sharing the
// prefix.
func isPartitionDir(name, table string) bool {
	rest, ok := strings.CutPrefix(name, table+".")
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ActiveGroupError is returned by Execute while the group has members: offsets committed
// under a running group are overwritten by its next commit.
type ActiveGroupError struct {
	Group   string
	State   string
	Members []Member
}

func (e *ActiveGroupError) Error() string {
	names := make([]string, len(e.Members))
	for i, m := range e.Members {
		names[i] = m.String()
	}
	return fmt.Sprintf("group %s is %s with %d active member(s): %s; stop its workers (and wait for their session timeout after a crash) before replaying",
		e.Group, e.State, len(e.Members), strings.Join(names, ", "))
}

// ErrGroupActive is wrapped by every ActiveGroupError, for errors.Is.
var ErrGroupActive = errors.New("group has active members")

func (e *ActiveGroupError) Unwrap() error { return ErrGroupActive }

// ExecuteReplay applies plan: it refuses while the group has active members, then (with
// ResetState) empties the table topic and removes its local copies, then commits the target
// offsets. A failure leaves what is done done: run the same replay again.
func (a *Admin) ExecuteReplay(ctx context.Context, plan *Plan) error {
	req := plan.Request
	state, members, err := a.Members(req.Group)
	if err != nil {
		return err
	}
	if len(members) > 0 {
		return &ActiveGroupError{Group: req.Group, State: state, Members: members}
	}
	if req.ResetState && plan.Table != nil {
		if err := a.RecreateTopic(ctx, plan.Table.Shape); err != nil {
			return fmt.Errorf("replay %s: reset table: %w", req.Group, err)
		}
		for _, dir := range plan.Table.LocalDirs {
			if err := os.RemoveAll(dir); err != nil {
				return fmt.Errorf("replay %s: remove local table storage: %w", req.Group, err)
			}
		}
	}
	if err := a.Commit(req.Group, plan.Targets()); err != nil {
		return fmt.Errorf("replay %s: %w (the table is already reset: run the same replay again)", req.Group, err)
	}
	return nil
}

// Render writes the plan as a table per partition, then the table reset and the warnings.
func (p *Plan) Render(w io.Writer, executed bool) error {
	req := p.Request
	mode := "dry run: nothing changed; add --execute to apply"
	if executed {
		mode = "executed"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "replay of group %s, offsets reset %s (%s)\n", req.Group, req.Reset, mode)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tCOMMITTED\tLOG-START\tHIGH-WATER\tTARGET\tREPROCESS\t")
	for _, pp := range p.Partitions {
		committed := "-"
		if pp.Committed >= 0 {
			committed = fmt.Sprint(pp.Committed)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%d\t%d\t%d\t\n", pp.Topic, pp.Partition, committed, pp.LogStart, pp.HighWater, pp.Target, pp.Reprocess())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(&b, "%d records to reprocess on %d partitions\n", p.Reprocess(), len(p.Partitions))
	if t := p.Table; t != nil {
		var cfgs []string
		for k, v := range t.Shape.Configs {
			cfgs = append(cfgs, k+"="+v)
		}
		sort.Strings(cfgs)
		fmt.Fprintf(&b, "state: table topic %s (%d records) is deleted and created again with %d partitions, replication %d, %s\n",
			t.Shape.Name, t.Records, t.Shape.Partitions, t.Shape.Replication, strings.Join(cfgs, " "))
		if len(t.LocalDirs) == 0 {
			fmt.Fprintf(&b, "state: no local copy of %s under %q\n", t.Shape.Name, req.StorageDir)
		}
		for _, d := range t.LocalDirs {
			fmt.Fprintf(&b, "state: removes local storage %s\n", d)
		}
	}
	if len(p.Members) > 0 && !executed {
		(&b).WriteString("refused on --execute: " + (&ActiveGroupError{Group: req.Group, State: p.State, Members: p.Members}).Error() + "\n")
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	for _, pp := range p.Partitions {
		for _, w := range pp.Warnings {
			fmt.Fprintf(&b, "warning: %s: %s\n", pp.TopicPartition, w)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
