package sinktest

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
)

// The topic names the suite writes to: the defaults of topology.DefaultTopics. A backend under
// test maps them to its destination as it does in production.
const (
	TopicTimeseries  = "timeseries"
	TopicAnomalies   = "anomalies"
	TopicDTCEvents   = "dtc-events"
	TopicDeadLetters = "dead-letters"
)

// Item is one fact a destination holds, in a form every destination can be read back into: a
// measurement's signal value, an anomaly transition, a trouble-code event. A harness turns what
// its destination stores into Items with MeasurementItem, AnomalyItem and DTCItem, so that the
// suite can compare them with the records it wrote.
type Item struct {
	// Topic is the topic the record came from.
	Topic string
	// Key is the record's key, the VIN.
	Key string
	// ID identifies the fact within the topic and key: signal@time, anomaly id/state, event id.
	// Writing a record again with the same ID and another Value is an update of the fact.
	ID string
	// Value is the fact's content in canonical form: value, trip, dimensions and so on.
	Value string
}

func (it Item) String() string { return it.Topic + "/" + it.Key + "/" + it.ID + " = " + it.Value }

// MeasurementItem is the Item of a measurement. Its Value carries the kind and value, the
// trip id and the dimensions (sorted), so a destination that loses or mangles any of them
// fails the comparison.
func MeasurementItem(m codecs.Measurement) Item {
	var b strings.Builder
	b.WriteString(m.Value.Kind.String())
	b.WriteString(":")
	b.WriteString(ValueString(m.Value))
	b.WriteString(" trip=")
	b.WriteString(m.TripID)
	for _, k := range slices.Sorted(maps.Keys(m.Dimensions)) {
		if k == "trip_id" || m.Dimensions[k] == "" {
			continue // the trip id is carried above; empty dimensions are no dimension
		}
		fmt.Fprintf(&b, " %q=%q", k, m.Dimensions[k])
	}
	return Item{Topic: TopicTimeseries, Key: m.VIN, ID: m.Name + "@" + m.Time.UTC().Format(time.RFC3339Nano), Value: b.String()}
}

// ValueString renders a value exactly: numbers with the shortest representation that reads
// back as the same float64.
func ValueString(v codecs.Value) string {
	switch v.Kind {
	case codecs.KindNumber:
		return strconv.FormatFloat(v.Num, 'g', -1, 64)
	case codecs.KindLocation:
		return strconv.FormatFloat(v.Lat, 'g', -1, 64) + "," + strconv.FormatFloat(v.Lon, 'g', -1, 64)
	}
	return v.String()
}

// AnomalyItem is the Item of an anomaly transition.
func AnomalyItem(a codecs.Anomaly) Item {
	v := strings.Join([]string{
		a.Rule, a.Signal, a.Severity, strconv.FormatFloat(a.Value, 'g', -1, 64),
		strconv.FormatFloat(a.Threshold, 'g', -1, 64), a.Message, "trip=" + a.TripID,
	}, "|")
	return Item{Topic: TopicAnomalies, Key: a.VIN, ID: a.ID + "/" + string(a.State) + "@" + a.Time.UTC().Format(time.RFC3339Nano), Value: v}
}

// DTCItem is the Item of a trouble-code event.
func DTCItem(e codecs.DTCEvent) Item {
	v := strings.Join([]string{
		e.Code, e.System, e.Severity, strconv.FormatBool(e.StopWorthy), e.Description, "trip=" + e.TripID,
	}, "|")
	return Item{Topic: TopicDTCEvents, Key: e.VIN, ID: e.ID + "@" + e.Time.UTC().Format(time.RFC3339Nano), Value: v}
}

// ItemsOf decodes a record of the suite's topics into its Items.
func ItemsOf(rec sinks.Record) ([]Item, error) {
	switch rec.Topic {
	case TopicTimeseries:
		var m codecs.Measurement
		if err := json.Unmarshal(rec.Value, &m); err != nil {
			return nil, err
		}
		return []Item{MeasurementItem(m)}, nil
	case TopicAnomalies:
		var a codecs.Anomaly
		if err := json.Unmarshal(rec.Value, &a); err != nil {
			return nil, err
		}
		return []Item{AnomalyItem(a)}, nil
	case TopicDTCEvents:
		var e codecs.DTCEvent
		if err := json.Unmarshal(rec.Value, &e); err != nil {
			return nil, err
		}
		return []Item{DTCItem(e)}, nil
	}
	return nil, fmt.Errorf("sinktest: topic %q is not one of the suite's", rec.Topic)
}

// VIN returns the suite's i-th vehicle identification number.
func VIN(i int) string { return fmt.Sprintf("5YJ3E1EA%09d", i) }

// RejectedVIN is the vehicle whose records the suite has destinations refuse.
var RejectedVIN = VIN(666)

// Dataset builds the records the suite writes: measurements of every value kind (several
// signals of one vehicle at one instant, so backends that merge them into one point are
// exercised), anomalies and trouble-code events, with strings that need escaping in every
// destination format (spaces, commas, equals signs, quotes, backslashes, non-ASCII).
type Dataset struct {
	// Vehicles and Ticks set the size: Vehicles × Ticks instants, each with 4 measurements, and
	// an anomaly and an event per vehicle every 5 ticks.
	Vehicles, Ticks int
	// VINs, when set, are the vehicles instead of VIN(0) … VIN(Vehicles-1).
	VINs []string
	// Start is the event time of the first tick.
	Start time.Time
}

// Record is one record of the dataset before it is placed in Kafka.
type Record struct {
	Topic string
	Key   string
	Value []byte
}

// Records returns the dataset's records in production order.
func (d Dataset) Records() []Record {
	start := d.Start
	if start.IsZero() {
		start = time.Date(2024, 5, 1, 8, 0, 0, 123456789, time.UTC)
	}
	var out []Record
	add := func(topic, key string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		out = append(out, Record{Topic: topic, Key: key, Value: b})
	}
	vins := d.VINs
	if len(vins) == 0 {
		for v := range d.Vehicles {
			vins = append(vins, VIN(v))
		}
	}
	for tick := range d.Ticks {
		for v, vin := range vins {
			at := start.Add(time.Duration(tick)*time.Second + time.Duration(v)*time.Millisecond)
			trip := fmt.Sprintf("trip %d, \"city=west\"", v) // spaces, comma, quotes, equals
			dims := map[string]string{"trip_id": trip, "ignition_status": "run", "fleet zone": "nord=ost, Zürich"}
			for _, s := range []struct {
				name string
				val  codecs.Value
			}{
				{codecs.SignalVehicleSpeed, codecs.Number(float64(tick)*1.5 + float64(v)/3)},
				{codecs.SignalTransmissionGearPosition, codecs.String(fmt.Sprintf(`gear "D%d", 3=drive \ok\`, tick%6))},
				{codecs.SignalBrakePedalStatus, codecs.Bool(tick%2 == 0)},
				{codecs.SignalLocation, codecs.Location(52.520008+float64(tick)/1e4, 13.404954-float64(v)/1e4)},
			} {
				add(TopicTimeseries, vin, codecs.Measurement{VIN: vin, TripID: trip, Name: s.name, Value: s.val, Time: at, Dimensions: dims})
			}
			if tick%5 == 0 {
				add(TopicAnomalies, vin, codecs.Anomaly{
					ID: fmt.Sprintf("anom-%d-%d", v, tick), VIN: vin, TripID: trip, Rule: "oil_temp high", Signal: codecs.SignalOilTemp,
					State: codecs.AnomalyOpen, Severity: "warning", Value: 251.25 + float64(tick), Threshold: 250,
					Message: `oil temp "251.25" > 250, check \ cooling — ölkühler`, StartedAt: at, Time: at,
				})
				add(TopicDTCEvents, vin, codecs.DTCEvent{
					ID: fmt.Sprintf("dtc-%d-%d", v, tick), VIN: vin, TripID: trip, Code: "P0217", System: "powertrain",
					Generic: true, Severity: "critical", Description: `Engine "coolant" over-temperature, condition=on`,
					StopWorthy: tick%10 == 0, Time: at,
				})
			}
		}
	}
	return out
}

// Versions returns n records that update one fact again and again (the same signal of the same
// vehicle at the same instant with values 1…n): a destination must end up holding the last.
func Versions(vin string, n int, at time.Time) []Record {
	var out []Record
	for i := 1; i <= n; i++ {
		m := codecs.Measurement{VIN: vin, TripID: "versions", Name: codecs.SignalOdometer, Value: codecs.Number(float64(i)), Time: at}
		b, _ := json.Marshal(m)
		out = append(out, Record{Topic: TopicTimeseries, Key: vin, Value: b})
	}
	return out
}

// Place gives records partitions (by VIN, modulo partitions) and consecutive offsets per topic
// and partition, starting at first, as Kafka would.
func Place(recs []Record, partitions int32, first int64) []sinks.Record {
	if partitions < 1 {
		partitions = 1
	}
	next := map[string]int64{}
	out := make([]sinks.Record, 0, len(recs))
	for _, r := range recs {
		p := int32(0)
		for _, c := range []byte(r.Key) {
			p = (p*31 + int32(c)) % partitions
		}
		k := r.Topic + "/" + strconv.Itoa(int(p))
		off, ok := next[k]
		if !ok {
			off = first
		}
		next[k] = off + 1
		out = append(out, sinks.Record{Topic: r.Topic, Partition: p, Offset: off, Key: []byte(r.Key), Value: r.Value,
			Timestamp: time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)})
	}
	return out
}
