package timestream

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
)

// Dimension names.
const (
	dimVIN    = "vin"
	dimTripID = "trip_id"
	dimRule   = "rule"
	dimCode   = "code"
)

// Measure names of the events table: the event kind.
const (
	MeasureAnomaly = "anomaly"
	MeasureDTC     = "dtc"
)

// measureType is a Timestream scalar type of a measure inside a MULTI record.
type measureType string

const (
	typeDouble  measureType = "DOUBLE"
	typeBigint  measureType = "BIGINT"
	typeBoolean measureType = "BOOLEAN"
	typeVarchar measureType = "VARCHAR"
)

// versionShift splits a Version into the newest event time in milliseconds (high bits) and a
// progress count (low bits); see bucketVersion.
const (
	versionShift = 21
	maxProgress  = 1<<versionShift - 1
	maxVersionMs = 1<<(63-versionShift) - 1 // year 2109
)

// invalid is the error of an input that cannot be written as it is: the delivery core
// dead-letters it (wrapped with sinks.Permanent) under the codecs reason.
func invalid(reason codecs.Reason, format string, args ...any) *codecs.DecodeError {
	return &codecs.DecodeError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

type measure struct {
	name  string
	typ   measureType
	value string
}

// bytes is the measure's metered size: its name plus 8 bytes for DOUBLE and BIGINT, 1 for
// BOOLEAN and the UTF-8 length of a VARCHAR.
func (m measure) bytes() int {
	switch m.typ {
	case typeBoolean:
		return len(m.name) + 1
	case typeVarchar:
		return len(m.name) + len(m.value)
	}
	return len(m.name) + 8
}

type dim struct{ name, value string }

func dimsBytes(ds []dim) int {
	n := 0
	for _, d := range ds {
		n += len(d.name) + len(d.value)
	}
	return n
}

// entry is the newest measurement of one signal in one bucket.
type entry struct {
	signal   string
	time     time.Time
	seq      int64 // tie-break between equal times: the later input wins
	measures []measure
}

func (e *entry) bytes() int {
	n := 0
	for _, m := range e.measures {
		n += m.bytes()
	}
	return n
}

// newer reports whether e supersedes o.
func (e *entry) newer(o *entry) bool {
	if !e.time.Equal(o.time) {
		return e.time.After(o.time)
	}
	return e.seq > o.seq
}

// tsRecord is one Timestream record to write and the inputs it carries.
type tsRecord struct {
	table       string
	dims        []dim
	measureName string
	timeMs      int64
	version     int64
	measures    []measure
	inputs      []int // batch indexes whose success is this record's
	bytes       int
	// telemetry records: the series and bucket, and the entries, for the merge cache
	series  string
	entries []*entry
}

// bucket collects the entries of one series in one time bucket.
type bucket struct {
	series  string
	dims    []dim
	startMs int64
	entries map[string]*entry
	inputs  map[string][]int // batch indexes by signal
}

func newBucket(series string, dims []dim, startMs int64) *bucket {
	return &bucket{series: series, dims: dims, startMs: startMs, entries: map[string]*entry{}, inputs: map[string][]int{}}
}

func (b *bucket) add(e *entry) {
	if old, ok := b.entries[e.signal]; !ok || e.newer(old) {
		b.entries[e.signal] = e
	}
}

// converter turns decoded inputs into entries and records under one Config.
type converter struct {
	cfg      Config
	extra    []string
	bigint   map[string]bool
	bucketMs int64
}

func newConverter(cfg Config) *converter {
	c := &converter{cfg: cfg, extra: cfg.ExtraDimensions, bigint: map[string]bool{}, bucketMs: cfg.Bucket.Milliseconds()}
	for _, n := range cfg.BigintMeasures {
		c.bigint[n] = true
	}
	return c
}

// seriesOf returns a measurement's dimensions and their key.
func (c *converter) seriesOf(m *codecs.Measurement) ([]dim, string) {
	ds := make([]dim, 0, 2+len(c.extra))
	ds = append(ds, dim{dimVIN, m.VIN})
	if m.TripID != "" {
		ds = append(ds, dim{dimTripID, m.TripID})
	}
	for _, name := range c.extra {
		if v := m.Dimensions[name]; v != "" {
			ds = append(ds, dim{name, v})
		}
	}
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.name)
		b.WriteByte('=')
		b.WriteString(d.value)
		b.WriteByte(0)
	}
	return ds, b.String()
}

// dimNames are the names a measure must not take.
func (c *converter) dimNames() map[string]bool {
	n := map[string]bool{dimVIN: true, dimTripID: true}
	for _, d := range c.extra {
		n[d] = true
	}
	return n
}

// entryOf converts one measurement. Errors are the measurement's fault (permanent).
func (c *converter) entryOf(m *codecs.Measurement, seq int64, dimNames map[string]bool) (*entry, error) {
	if m.VIN == "" {
		return nil, invalid(codecs.ReasonMissingVIN, "measurement has no vin")
	}
	if m.Time.IsZero() {
		return nil, invalid(codecs.ReasonBadTimestamp, "measurement has no time")
	}
	if ms := m.Time.UnixMilli(); ms < 0 || ms > maxVersionMs {
		return nil, invalid(codecs.ReasonBadTimestamp, "measurement time %s is outside what Timestream stores", m.Time.UTC().Format(time.RFC3339))
	}
	if len(m.VIN) > 2048 || len(m.TripID) > 2048 {
		return nil, invalid(codecs.ReasonTooLarge, "vin or trip_id longer than 2048 bytes")
	}
	if err := checkMeasureName(m.Name, dimNames); err != nil {
		return nil, invalid(codecs.ReasonBadName, "signal name %q %v", m.Name, err)
	}
	e := &entry{signal: m.Name, time: m.Time, seq: seq}
	v := m.Value
	switch v.Kind {
	case codecs.KindNumber:
		if math.IsNaN(v.Num) || math.IsInf(v.Num, 0) {
			return nil, invalid(codecs.ReasonWrongType, "signal %s: %v is not a finite number", m.Name, v.Num)
		}
		if c.bigint[m.Name] {
			if v.Num != math.Trunc(v.Num) || v.Num < -9.2e18 || v.Num > 9.2e18 {
				return nil, invalid(codecs.ReasonWrongType, "signal %s is BIGINT but %v is not an integer", m.Name, v.Num)
			}
			e.measures = []measure{{m.Name, typeBigint, strconv.FormatInt(int64(v.Num), 10)}}
		} else {
			e.measures = []measure{{m.Name, typeDouble, formatDouble(v.Num)}}
		}
	case codecs.KindBool:
		e.measures = []measure{{m.Name, typeBoolean, strconv.FormatBool(v.Bool)}}
	case codecs.KindString:
		if v.Str == "" {
			return nil, invalid(codecs.ReasonWrongType, "signal %s: empty string (Timestream stores no empty VARCHAR)", m.Name)
		}
		if len(v.Str) > 2048 {
			return nil, invalid(codecs.ReasonTooLarge, "signal %s: string of %d bytes, Timestream's limit is 2048", m.Name, len(v.Str))
		}
		e.measures = []measure{{m.Name, typeVarchar, v.Str}}
	case codecs.KindLocation:
		lat, lon := m.Name+"_latitude", m.Name+"_longitude"
		for _, n := range []string{lat, lon} {
			if err := checkMeasureName(n, dimNames); err != nil {
				return nil, invalid(codecs.ReasonBadName, "measure %q %v", n, err)
			}
		}
		e.measures = []measure{{lat, typeDouble, formatDouble(v.Lat)}, {lon, typeDouble, formatDouble(v.Lon)}}
	default:
		return nil, invalid(codecs.ReasonWrongType, "signal %s has no value", m.Name)
	}
	return e, nil
}

func formatDouble(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// bucketStart is the start, in Unix milliseconds, of the bucket holding t.
func (c *converter) bucketStart(t time.Time) int64 {
	ms := t.UnixMilli()
	return ms - ms%c.bucketMs // times are not negative (entryOf)
}

// bucketVersion derives a bucket's record Version from its content, so the same content always
// gets the same Version and content that grows by keep-newest merging gets a higher one:
//
//	Version = newestEventUnixMilli << 21 | min(progress, 2^21-1)
//	progress = Σ over the bucket's signals of (1 + offset), offset = the signal's newest time
//	           after the bucket start in thousandths of the bucket (milliseconds for buckets up
//	           to 1s)
//
// A newer measurement raises the first part; a further signal, or a newer value of a signal
// that is not the bucket's newest, raises the second.
func (c *converter) bucketVersion(startMs int64, entries []*entry) int64 {
	unit := c.bucketMs / 1000
	if unit < 1 {
		unit = 1
	}
	var newest, progress int64
	for _, e := range entries {
		ms := e.time.UnixMilli()
		if ms > newest {
			newest = ms
		}
		off := (ms - startMs) / unit
		if off < 0 {
			off = 0
		}
		progress += 1 + off
	}
	if progress > maxProgress {
		progress = maxProgress
	}
	return newest<<versionShift | progress
}

// partName is the measure name of the i-th (0-based) record of a wide bucket.
func (c *converter) partName(i int) string {
	if i == 0 {
		return c.cfg.MeasureName
	}
	return c.cfg.MeasureName + "_" + strconv.Itoa(i+1)
}

// bucketRecords turns a bucket (its entries already merged with what was written before) into
// one or more records of at most MaxRecordBytes and MaxMeasuresPerRecord. Entries are packed
// by signal name, so the split is the same for the same content. An entry that fits no record
// alone is returned in tooWide.
func (c *converter) bucketRecords(b *bucket) (recs []*tsRecord, tooWide []*entry) {
	entries := make([]*entry, 0, len(b.entries))
	for _, e := range b.entries {
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].signal < entries[j].signal })
	// Room left for measures: 8 bytes of time, the dimensions, and the longest part name.
	room := MaxRecordBytes - 8 - dimsBytes(b.dims) - len(c.cfg.MeasureName) - 4
	kept := entries[:0]
	for _, e := range entries {
		if e.bytes() > room {
			tooWide = append(tooWide, e)
			continue
		}
		kept = append(kept, e)
	}
	entries = kept
	if len(entries) == 0 {
		return nil, tooWide
	}
	version := c.bucketVersion(b.startMs, entries)
	var parts [][]*entry
	size, count := 0, 0
	for _, e := range entries {
		if len(parts) == 0 || size+e.bytes() > room || count+len(e.measures) > MaxMeasuresPerRecord {
			parts = append(parts, nil)
			size, count = 0, 0
		}
		parts[len(parts)-1] = append(parts[len(parts)-1], e)
		size += e.bytes()
		count += len(e.measures)
	}
	for i, p := range parts {
		r := &tsRecord{
			table: c.cfg.Table, dims: b.dims, measureName: c.partName(i), timeMs: b.startMs,
			version: version, series: b.series, entries: p,
		}
		for _, e := range p {
			r.measures = append(r.measures, e.measures...)
			r.inputs = append(r.inputs, b.inputs[e.signal]...)
		}
		sort.Ints(r.inputs)
		r.bytes = recordBytes(r)
		recs = append(recs, r)
	}
	return recs, tooWide
}

// recordBytes is a record's metered size: 8 bytes of time, the dimension names and values, the
// measure name and each measure (see measure.bytes).
func recordBytes(r *tsRecord) int {
	n := 8 + dimsBytes(r.dims) + len(r.measureName)
	for _, m := range r.measures {
		n += m.bytes()
	}
	return n
}

// anomalyRecord is an anomaly's record in the events table.
func (c *converter) anomalyRecord(a *codecs.Anomaly) (*tsRecord, error) {
	if a.VIN == "" || a.Rule == "" || a.Time.IsZero() {
		return nil, invalid(codecs.ReasonUnknownShape, "anomaly needs vin, rule and time")
	}
	ms := a.Time.UnixMilli()
	if ms < 0 || ms > maxVersionMs {
		return nil, invalid(codecs.ReasonBadTimestamp, "anomaly time %s is outside what Timestream stores", a.Time.UTC().Format(time.RFC3339))
	}
	if math.IsNaN(a.Value) || math.IsInf(a.Value, 0) || math.IsNaN(a.Threshold) || math.IsInf(a.Threshold, 0) {
		return nil, invalid(codecs.ReasonWrongType, "anomaly value or threshold is not a finite number")
	}
	ds := []dim{{dimVIN, a.VIN}}
	if a.TripID != "" {
		ds = append(ds, dim{dimTripID, a.TripID})
	}
	ds = append(ds, dim{dimRule, a.Rule})
	vals := []measure{}
	addS := func(name, v string) {
		if v != "" {
			vals = append(vals, measure{name, typeVarchar, v})
		}
	}
	addS("id", a.ID)
	addS("signal", a.Signal)
	addS("state", string(a.State))
	addS("severity", a.Severity)
	vals = append(vals, measure{"value", typeDouble, formatDouble(a.Value)}, measure{"threshold", typeDouble, formatDouble(a.Threshold)})
	addS("message", a.Message)
	if !a.StartedAt.IsZero() {
		vals = append(vals, measure{"started_at_ms", typeBigint, strconv.FormatInt(a.StartedAt.UnixMilli(), 10)})
	}
	// An anomaly that clears in the same millisecond as it opened supersedes the opening.
	progress := int64(1)
	if a.State == codecs.AnomalyCleared {
		progress = 2
	}
	return c.eventRecord(ds, MeasureAnomaly, ms, ms<<versionShift|progress, vals)
}

// dtcRecord is a DTC event's record in the events table.
func (c *converter) dtcRecord(d *codecs.DTCEvent) (*tsRecord, error) {
	if d.VIN == "" || d.Code == "" || d.Time.IsZero() {
		return nil, invalid(codecs.ReasonUnknownShape, "DTC event needs vin, code and time")
	}
	ms := d.Time.UnixMilli()
	if ms < 0 || ms > maxVersionMs {
		return nil, invalid(codecs.ReasonBadTimestamp, "DTC event time %s is outside what Timestream stores", d.Time.UTC().Format(time.RFC3339))
	}
	ds := []dim{{dimVIN, d.VIN}}
	if d.TripID != "" {
		ds = append(ds, dim{dimTripID, d.TripID})
	}
	ds = append(ds, dim{dimCode, d.Code})
	vals := []measure{}
	addS := func(name, v string) {
		if v != "" {
			vals = append(vals, measure{name, typeVarchar, v})
		}
	}
	addF := func(name string, f *float64) {
		if f != nil && !math.IsNaN(*f) && !math.IsInf(*f, 0) {
			vals = append(vals, measure{name, typeDouble, formatDouble(*f)})
		}
	}
	addS("id", d.ID)
	addS("system", d.System)
	vals = append(vals, measure{"generic", typeBoolean, strconv.FormatBool(d.Generic)})
	addS("severity", d.Severity)
	addS("description", d.Description)
	vals = append(vals, measure{"stop_worthy", typeBoolean, strconv.FormatBool(d.StopWorthy)})
	addS("command_id", d.CommandID)
	vals = append(vals, measure{"repeat", typeBoolean, strconv.FormatBool(d.Repeat)})
	addF("speed", d.Speed)
	addF("latitude", d.Latitude)
	addF("longitude", d.Longitude)
	return c.eventRecord(ds, MeasureDTC, ms, ms<<versionShift|1, vals)
}

func (c *converter) eventRecord(ds []dim, name string, ms, version int64, measures []measure) (*tsRecord, error) {
	for _, d := range ds {
		if len(d.value) > 2048 {
			return nil, invalid(codecs.ReasonTooLarge, "dimension %s longer than 2048 bytes", d.name)
		}
	}
	for _, m := range measures {
		if m.typ == typeVarchar && len(m.value) > 2048 {
			return nil, invalid(codecs.ReasonTooLarge, "%s: string of %d bytes, Timestream's limit is 2048", m.name, len(m.value))
		}
	}
	r := &tsRecord{table: c.cfg.EventsTable, dims: ds, measureName: name, timeMs: ms, version: version, measures: measures}
	r.bytes = recordBytes(r)
	if r.bytes > MaxRecordBytes {
		return nil, invalid(codecs.ReasonTooLarge, "%s record of %d bytes exceeds Timestream's %d", name, r.bytes, MaxRecordBytes)
	}
	return r, nil
}

// identity is what Timestream keys a record by: table, dimensions, measure name and time.
func (r *tsRecord) identity() string {
	var b strings.Builder
	b.WriteString(r.table)
	b.WriteByte(0)
	for _, d := range r.dims {
		b.WriteString(d.name)
		b.WriteByte('=')
		b.WriteString(d.value)
		b.WriteByte(0)
	}
	b.WriteString(r.measureName)
	b.WriteByte(0)
	b.WriteString(strconv.FormatInt(r.timeMs, 10))
	return b.String()
}
