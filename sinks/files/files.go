package files

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
)

// The subdirectories of Config.Dir.
const (
	KindTimeseries = "timeseries"
	KindEvents     = "events"
)

// StateFile is the name, under Config.Dir, of the file that remembers the highest offset
// written per topic and partition.
const StateFile = ".files-sink-state.json"

// fileName matches the files the backend writes: <UTC hour>-<sequence>.jsonl.
var fileName = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2}T\d{2})-(\d{4,})\.jsonl$`)

const hourLayout = "2006-01-02T15"

// Backend writes records as JSON Lines under a directory. It is a sinks.Backend; its methods
// are safe for concurrent use (writes are serialised).
type Backend struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	open   bool
	files  map[string]*outFile // by kind
	high   map[string]int64    // "topic/partition" → highest offset written
	dirty  bool                // high changed since the state file was written
	closed bool
}

var _ sinks.Backend = (*Backend)(nil)

type outFile struct {
	f    *os.File
	path string
	hour string
	seq  int
	size int64
}

// New validates cfg and returns an unconnected backend.
func New(cfg Config) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	return &Backend{cfg: cfg, log: cfg.Logger.With("backend", "files", "dir", cfg.Dir)}, nil
}

// Name is "files".
func (b *Backend) Name() string { return "files" }

// Connect creates the directories, checks that they are writable, repairs a line left
// unfinished by a crash at the end of the newest file of each kind, and loads the offsets
// already written.
func (b *Backend) Connect(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("files: Connect after Close: build a new backend")
	}
	if b.open {
		return nil
	}
	b.files = map[string]*outFile{}
	b.high = map[string]int64{}
	for _, kind := range []string{KindTimeseries, KindEvents} {
		dir := filepath.Join(b.cfg.Dir, kind)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return sinks.Permanent(fmt.Errorf("files: create %s: %w", dir, err))
		}
		probe, err := os.CreateTemp(dir, ".probe-*")
		if err != nil {
			return sinks.Permanent(fmt.Errorf("files: %s is not writable: %w", dir, err))
		}
		probe.Close()
		os.Remove(probe.Name())
	}
	if err := b.loadState(); err != nil {
		return err
	}
	for _, kind := range []string{KindTimeseries, KindEvents} {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.recover(kind); err != nil {
			return err
		}
	}
	b.open = true
	return nil
}

// loadState reads the state file; a missing one is an empty state.
func (b *Backend) loadState() error {
	raw, err := os.ReadFile(filepath.Join(b.cfg.Dir, StateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("files: read state: %w", err)
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil {
		b.log.Warn("state file unreadable; rebuilding it from the newest files", "err", err)
		return nil
	}
	for k, v := range st.Offsets {
		b.high[k] = v
	}
	return nil
}

type state struct {
	// Offsets is the highest offset written per "topic/partition".
	Offsets map[string]int64 `json:"offsets"`
}

// recover truncates an unfinished last line of the newest file of kind, and takes the
// offsets of its lines into the state (the state file is written after the data, so a crash
// in between leaves the newest offsets only there).
func (b *Backend) recover(kind string) error {
	path, _, _, ok, err := b.newest(kind)
	if err != nil || !ok {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("files: open %s: %w", path, err)
	}
	defer f.Close()
	var good int64
	r := bufio.NewReaderSize(f, 1<<16)
	for {
		line, err := r.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			if len(line) > 0 {
				b.log.Warn("removing an unfinished last line left by a crash", "file", path, "bytes", len(line))
				if err := f.Truncate(good); err != nil {
					return fmt.Errorf("files: repair %s: %w", path, err)
				}
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("files: read %s: %w", path, err)
		}
		good += int64(len(line))
		var m lineMeta
		if json.Unmarshal(line, &m) == nil && m.Topic != "" {
			k := stateKey(m.Topic, m.Partition)
			if cur, ok := b.high[k]; !ok || m.Offset > cur {
				b.high[k] = m.Offset
				b.dirty = true
			}
		}
	}
}

// newest returns the newest file of kind.
func (b *Backend) newest(kind string) (path, hour string, seq int, ok bool, err error) {
	entries, err := os.ReadDir(filepath.Join(b.cfg.Dir, kind))
	if err != nil {
		return "", "", 0, false, fmt.Errorf("files: list %s: %w", kind, err)
	}
	var best string
	for _, e := range entries {
		if m := fileName.FindStringSubmatch(e.Name()); m != nil && !e.IsDir() {
			n, _ := strconv.Atoi(m[2])
			if !ok || m[1] > hour || (m[1] == hour && n > seq) {
				best, hour, seq, ok = e.Name(), m[1], n, true
			}
		}
	}
	if !ok {
		return "", "", 0, false, nil
	}
	return filepath.Join(b.cfg.Dir, kind, best), hour, seq, true, nil
}

func stateKey(topic string, partition int32) string {
	return topic + "/" + strconv.FormatInt(int64(partition), 10)
}

// WriteBatch appends one line per record to the file of its kind. A record whose offset was
// already written for its topic and partition is skipped (redelivery); one that cannot be
// decoded is refused for good (a *sinks.BatchError); an I/O error fails the whole batch,
// retryably, and leaves no partial line.
func (b *Backend) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return errors.New("files: WriteBatch before Connect or after Close")
	}
	var failed []sinks.RecordError
	type pending struct {
		kind  string
		lines [][]byte
		recs  []sinks.Record
	}
	var groups []*pending // in order of first appearance
	byKind := map[string]*pending{}
	batchHigh := map[string]int64{}
	for i, r := range batch {
		k := stateKey(r.Topic, r.Partition)
		if !b.cfg.KeepDuplicates {
			if h, ok := b.high[k]; ok && r.Offset <= h {
				continue
			}
			if h, ok := batchHigh[k]; ok && r.Offset <= h {
				continue
			}
		}
		kind, line, err := b.encode(r)
		if err != nil {
			failed = append(failed, sinks.RecordError{Index: i, Err: sinks.Permanent(err)})
			continue
		}
		p := byKind[kind]
		if p == nil {
			p = &pending{kind: kind}
			byKind[kind] = p
			groups = append(groups, p)
		}
		p.lines = append(p.lines, line)
		p.recs = append(p.recs, r)
		batchHigh[k] = r.Offset
	}
	for _, p := range groups {
		n, err := b.appendLines(p.kind, p.lines)
		for _, r := range p.recs[:n] { // what is written is remembered, even when the rest failed
			k := stateKey(r.Topic, r.Partition)
			if cur, ok := b.high[k]; !ok || r.Offset > cur {
				b.high[k] = r.Offset
				b.dirty = true
			}
		}
		if err != nil {
			return err
		}
	}
	if !b.cfg.NoSyncPerBatch {
		for _, p := range groups {
			if of := b.files[p.kind]; of != nil {
				if err := of.f.Sync(); err != nil {
					return fmt.Errorf("files: sync %s: %w", of.path, err)
				}
			}
		}
	}
	if b.dirty {
		if err := b.saveState(!b.cfg.NoSyncPerBatch); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		return &sinks.BatchError{Failed: failed}
	}
	return nil
}

// appendLines writes lines to kind's current file, rotating by hour and size between lines,
// and returns how many of them were written. On an error the file is cut back to its last
// whole line, so no partial line stays behind.
func (b *Backend) appendLines(kind string, lines [][]byte) (int, error) {
	var buf bytes.Buffer
	written, buffered := 0, 0
	flush := func(of *outFile) error {
		if buf.Len() == 0 {
			return nil
		}
		n, err := of.f.Write(buf.Bytes())
		if err != nil {
			if n > 0 {
				if terr := of.f.Truncate(of.size); terr != nil {
					b.log.Error("could not cut back a failed write; the next start repairs the partial line", "file", of.path, "err", terr)
				}
			}
			return fmt.Errorf("files: write %s: %w", of.path, err)
		}
		of.size += int64(n)
		written += buffered
		buffered = 0
		buf.Reset()
		return nil
	}
	of, err := b.current(kind)
	if err != nil {
		return 0, err
	}
	for _, line := range lines {
		if of.size+int64(buf.Len())+int64(len(line)) > b.cfg.MaxFileBytes && of.size+int64(buf.Len()) > 0 {
			if err := flush(of); err != nil {
				return written, err
			}
			if of, err = b.rotate(kind); err != nil {
				return written, err
			}
		}
		buf.Write(line)
		buffered++
	}
	return written, flush(of)
}

// current returns kind's open file for this hour, opening or rotating as needed.
func (b *Backend) current(kind string) (*outFile, error) {
	hour := b.cfg.Now().UTC().Format(hourLayout)
	if of := b.files[kind]; of != nil {
		if of.hour == hour {
			return of, nil
		}
		return b.rotate(kind)
	}
	// First write of this run: continue this hour's newest file if it has room.
	path, h, seq, ok, err := b.newest(kind)
	if err != nil {
		return nil, err
	}
	if ok && h == hour {
		if fi, err := os.Stat(path); err == nil && fi.Size() < b.cfg.MaxFileBytes {
			return b.openFile(kind, hour, seq)
		}
		return b.openFile(kind, hour, seq+1)
	}
	return b.openFile(kind, hour, 1)
}

// rotate closes kind's file and opens the next one: the next sequence number within the hour,
// or the first of a new hour.
func (b *Backend) rotate(kind string) (*outFile, error) {
	hour := b.cfg.Now().UTC().Format(hourLayout)
	seq := 1
	if of := b.files[kind]; of != nil {
		if err := closeFile(of, true); err != nil {
			return nil, err
		}
		delete(b.files, kind)
		if of.hour == hour {
			seq = of.seq + 1
		}
	}
	if _, h, s, ok, err := b.newest(kind); err != nil {
		return nil, err
	} else if ok && h == hour && s >= seq {
		seq = s + 1
	}
	return b.openFile(kind, hour, seq)
}

func (b *Backend) openFile(kind, hour string, seq int) (*outFile, error) {
	path := filepath.Join(b.cfg.Dir, kind, fmt.Sprintf("%s-%04d.jsonl", hour, seq))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("files: open %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("files: stat %s: %w", path, err)
	}
	of := &outFile{f: f, path: path, hour: hour, seq: seq, size: fi.Size()}
	b.files[kind] = of
	b.log.Debug("writing", "file", path)
	return of, nil
}

func closeFile(of *outFile, sync bool) error {
	if sync {
		if err := of.f.Sync(); err != nil {
			of.f.Close()
			return fmt.Errorf("files: sync %s: %w", of.path, err)
		}
	}
	if err := of.f.Close(); err != nil {
		return fmt.Errorf("files: close %s: %w", of.path, err)
	}
	return nil
}

// saveState replaces the state file atomically (write, sync, rename).
func (b *Backend) saveState(sync bool) error {
	raw, err := json.Marshal(state{Offsets: b.high})
	if err != nil {
		return fmt.Errorf("files: encode state: %w", err)
	}
	path := filepath.Join(b.cfg.Dir, StateFile)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("files: write state: %w", err)
	}
	if _, err := f.Write(raw); err != nil {
		f.Close()
		return fmt.Errorf("files: write state: %w", err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("files: sync state: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("files: write state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("files: replace state: %w", err)
	}
	b.dirty = false
	return nil
}

// Close syncs and closes the open files and writes the state.
func (b *Backend) Close(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if !b.open {
		return nil
	}
	b.open = false
	var errs []error
	for _, kind := range slices.Sorted(maps.Keys(b.files)) {
		errs = append(errs, closeFile(b.files[kind], true))
	}
	b.files = nil
	if b.dirty {
		errs = append(errs, b.saveState(true))
	}
	return errors.Join(errs...)
}

// lineMeta is the part of every line that says where the record came from.
type lineMeta struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
}

// measurementLine is a line of timeseries/.
type measurementLine struct {
	lineMeta
	VIN        string            `json:"vin"`
	TripID     string            `json:"trip_id,omitempty"`
	Name       string            `json:"name"`
	Kind       string            `json:"kind"`
	Value      codecs.Value      `json:"value"`
	Time       time.Time         `json:"time"`
	Dimensions map[string]string `json:"dimensions,omitempty"`
}

// Event names, the "event" column of events/.
const (
	EventAnomaly = "anomaly"
	EventDTC     = "dtc"
	EventOther   = "record"
)

type anomalyLine struct {
	lineMeta
	Event string `json:"event"`
	codecs.Anomaly
}

type dtcLine struct {
	lineMeta
	Event string `json:"event"`
	codecs.DTCEvent
}

type otherLine struct {
	lineMeta
	Event string          `json:"event"`
	Value json.RawMessage `json:"value"`
}

// encode decodes r by its topic and returns its kind and line (with the newline).
func (b *Backend) encode(r sinks.Record) (string, []byte, error) {
	meta := lineMeta{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: string(r.Key)}
	var v any
	kind := KindEvents
	switch r.Topic {
	case b.cfg.TimeseriesTopic:
		var m codecs.Measurement
		if err := decode(r.Value, &m); err != nil {
			return "", nil, err
		}
		if m.VIN == "" || m.Name == "" || m.Time.IsZero() {
			return "", nil, &codecs.DecodeError{Reason: codecs.ReasonUnknownShape, Detail: "measurement without vin, name or time"}
		}
		kind = KindTimeseries
		v = measurementLine{lineMeta: meta, VIN: m.VIN, TripID: m.TripID, Name: m.Name, Kind: m.Value.Kind.String(),
			Value: m.Value, Time: m.Time.UTC(), Dimensions: m.Dimensions}
	case b.cfg.AnomaliesTopic:
		var a codecs.Anomaly
		if err := decode(r.Value, &a); err != nil {
			return "", nil, err
		}
		a.Time, a.StartedAt = a.Time.UTC(), a.StartedAt.UTC()
		v = anomalyLine{lineMeta: meta, Event: EventAnomaly, Anomaly: a}
	case b.cfg.DTCEventsTopic:
		var e codecs.DTCEvent
		if err := decode(r.Value, &e); err != nil {
			return "", nil, err
		}
		e.Time = e.Time.UTC()
		v = dtcLine{lineMeta: meta, Event: EventDTC, DTCEvent: e}
	default:
		if !json.Valid(r.Value) {
			return "", nil, &codecs.DecodeError{Reason: codecs.ReasonInvalidJSON, Detail: "record of topic " + r.Topic + " is not JSON"}
		}
		var compact bytes.Buffer
		_ = json.Compact(&compact, r.Value)
		v = otherLine{lineMeta: meta, Event: EventOther, Value: compact.Bytes()}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // Encode ends the line with '\n'
		return "", nil, &codecs.DecodeError{Reason: codecs.ReasonWrongType, Detail: err.Error()}
	}
	return kind, buf.Bytes(), nil
}

func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return &codecs.DecodeError{Reason: codecs.ReasonInvalidJSON, Detail: err.Error()}
	}
	return nil
}
