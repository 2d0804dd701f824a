package influx

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
)

// ReasonUnwritable is the dead-letter reason of a record that decodes but cannot be written as
// line protocol (a tag value ending in a backslash, a time outside 1678-2261) or that InfluxDB
// refused (a malformed line, a field type conflict).
const ReasonUnwritable codecs.Reason = "unwritable"

// errNothingToWrite marks a measurement without a value (null): it is skipped, not refused.
var errNothingToWrite = errors.New("measurement has no value")

// line is one line of a request: a point and the records whose fields it carries.
type line struct {
	p       *point
	records []int // indexes in the batch
}

// split returns one line per record of l (a rejected merged line is retried record by record,
// so that only the record InfluxDB refuses is dead-lettered).
func (l *line) split(points map[int]*point) []*line {
	out := make([]*line, len(l.records))
	for i, r := range l.records {
		out[i] = &line{p: points[r], records: []int{r}}
	}
	return out
}

// lines turns a batch into lines: records of the same series and time (several signals of one
// vehicle at one instant) are merged into one line, later records overriding earlier fields.
// It returns the records that cannot be written, and each record's own point for splitting.
func (b *Backend) lines(batch []sinks.Record) ([]*line, map[int]*point, []sinks.RecordError) {
	var out []*line
	var failed []sinks.RecordError
	own := make(map[int]*point, len(batch))
	byKey := map[string]*line{}
	for i, r := range batch {
		p, err := b.pointOf(r)
		if errors.Is(err, errNothingToWrite) {
			continue
		}
		if err != nil {
			failed = append(failed, sinks.RecordError{Index: i, Err: sinks.Permanent(err)})
			continue
		}
		own[i] = p
		k := p.seriesKey()
		if l, ok := byKey[k]; ok {
			merged := *l.p
			merged.fields = slices.Clone(l.p.fields)
			for _, f := range p.fields {
				merged.setField(f)
			}
			l.p = &merged
			l.records = append(l.records, i)
			continue
		}
		l := &line{p: p, records: []int{i}}
		byKey[k] = l
		out = append(out, l)
	}
	return out, own, failed
}

// pointOf decodes a record by its topic into its point.
func (b *Backend) pointOf(r sinks.Record) (*point, error) {
	var p *point
	switch r.Topic {
	case b.cfg.TimeseriesTopic:
		var m codecs.Measurement
		if err := decode(r.Value, &m); err != nil {
			return nil, err
		}
		if m.VIN == "" || m.Name == "" || m.Time.IsZero() {
			return nil, &codecs.DecodeError{Reason: codecs.ReasonUnknownShape, Detail: "measurement without vin, name or time"}
		}
		kv := []string{"vin", m.VIN, "trip_id", m.TripID}
		for k, v := range m.Dimensions {
			kv = append(kv, k, v)
		}
		p = &point{measurement: b.cfg.TelemetryMeasurement, tags: newTags(kv...)}
		switch m.Value.Kind {
		case codecs.KindNumber:
			p.fields = []field{floatField(m.Name, m.Value.Num)}
		case codecs.KindString:
			p.fields = []field{stringField(m.Name, m.Value.Str)}
		case codecs.KindBool:
			p.fields = []field{boolField(m.Name, m.Value.Bool)}
		case codecs.KindLocation:
			p.fields = []field{floatField(m.Name+LatitudeSuffix, m.Value.Lat), floatField(m.Name+LongitudeSuffix, m.Value.Lon)}
		default:
			return nil, errNothingToWrite
		}
		if err := setTime(p, m.Time); err != nil {
			return nil, err
		}
	case b.cfg.AnomaliesTopic:
		var a codecs.Anomaly
		if err := decode(r.Value, &a); err != nil {
			return nil, err
		}
		if a.VIN == "" || a.Time.IsZero() {
			return nil, &codecs.DecodeError{Reason: codecs.ReasonUnknownShape, Detail: "anomaly without vin or time"}
		}
		p = &point{measurement: b.cfg.AnomalyMeasurement, tags: newTags(
			"vin", a.VIN, "rule", a.Rule, "signal", a.Signal, "severity", a.Severity, "state", string(a.State), "trip_id", a.TripID)}
		p.fields = []field{stringField("id", a.ID), floatField("value", a.Value), floatField("threshold", a.Threshold)}
		if a.Message != "" {
			p.fields = append(p.fields, stringField("message", a.Message))
		}
		if !a.StartedAt.IsZero() {
			p.fields = append(p.fields, intField("started_at", a.StartedAt.UnixNano()))
		}
		if err := setTime(p, a.Time); err != nil {
			return nil, err
		}
	case b.cfg.DTCEventsTopic:
		var e codecs.DTCEvent
		if err := decode(r.Value, &e); err != nil {
			return nil, err
		}
		if e.VIN == "" || e.Code == "" || e.Time.IsZero() {
			return nil, &codecs.DecodeError{Reason: codecs.ReasonUnknownShape, Detail: "trouble-code event without vin, code or time"}
		}
		p = &point{measurement: b.cfg.DTCMeasurement, tags: newTags(
			"vin", e.VIN, "code", e.Code, "system", e.System, "severity", e.Severity, "trip_id", e.TripID)}
		p.fields = []field{stringField("id", e.ID), boolField("generic", e.Generic), boolField("stop_worthy", e.StopWorthy), boolField("repeat", e.Repeat)}
		if e.Description != "" {
			p.fields = append(p.fields, stringField("description", e.Description))
		}
		if e.CommandID != "" {
			p.fields = append(p.fields, stringField("command_id", e.CommandID))
		}
		for _, f := range []struct {
			key string
			v   *float64
		}{{"speed", e.Speed}, {"latitude", e.Latitude}, {"longitude", e.Longitude}} {
			if f.v != nil {
				p.fields = append(p.fields, floatField(f.key, *f.v))
			}
		}
		if err := setTime(p, e.Time); err != nil {
			return nil, err
		}
	default:
		return nil, &codecs.DecodeError{Reason: ReasonUnwritable,
			Detail: fmt.Sprintf("topic %q has no measurement: set TimeseriesTopic, AnomaliesTopic or DTCEventsTopic", r.Topic)}
	}
	if err := p.check(); err != nil {
		return nil, &codecs.DecodeError{Reason: ReasonUnwritable, Detail: err.Error()}
	}
	return p, nil
}

// The field names of a location signal's coordinates: location_latitude, location_longitude.
const (
	LatitudeSuffix  = "_latitude"
	LongitudeSuffix = "_longitude"
)

// The times line protocol's nanosecond timestamps can hold.
var (
	minTime = time.Unix(0, -1<<63+1)
	maxTime = time.Unix(0, 1<<63-1)
)

// setTime stamps p with t: the event time, so a redelivered record overwrites its own point.
func setTime(p *point, t time.Time) error {
	if t.Before(minTime) || t.After(maxTime) {
		return &codecs.DecodeError{Reason: ReasonUnwritable, Detail: fmt.Sprintf("time %s is outside InfluxDB's range (1677-09-21 to 2262-04-11)", t.UTC().Format(time.RFC3339))}
	}
	p.time = t.UnixNano()
	return nil
}

func decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return &codecs.DecodeError{Reason: codecs.ReasonInvalidJSON, Detail: err.Error()}
	}
	return nil
}
