package processors

import (
	"time"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/topology"
)

// Results of a stop-worthy trouble code, the label of fleetstream_commands_issued_total.
const (
	CommandIssued    = "issued"
	CommandDuplicate = "duplicate"
)

// Metrics are the application metrics of the processor groups. Dashboards rely on their names:
//
//	fleetstream_dead_letters_total{group,reason}       messages a group refused
//	fleetstream_anomalies_total{rule,state}            anomalies opened and cleared
//	fleetstream_dtc_events_total{severity}             trouble-code events emitted
//	fleetstream_commands_issued_total{result}          stop commands: issued or duplicate
//	fleetstream_event_time_lag_seconds{group}          processing time minus event time
//
// A nil *Metrics records nothing, so tests and tools can pass nil. Counts follow emits: a
// redelivered message that is emitted again is counted again.
type Metrics struct {
	deadLetters *prometheus.CounterVec
	anomalies   *prometheus.CounterVec
	dtcEvents   *prometheus.CounterVec
	commands    *prometheus.CounterVec
	lag         *prometheus.HistogramVec
	processing  *prometheus.HistogramVec
}

// lagBuckets returns the buckets of fleetstream_event_time_lag_seconds, from live (tens of
// milliseconds) to replays and vehicles that were offline for a day.
func lagBuckets() []float64 {
	return []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400}
}

// NewMetrics builds the metrics and registers them with reg; a nil reg registers nothing. When
// reg already holds an identical collector (NewMetrics called twice on one registry), that one
// is used. It panics, like prometheus.MustRegister, when reg holds a conflicting collector of
// the same name: a wiring error to fix at start-up.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetstream_dead_letters_total",
			Help: "Messages a processor group could not decode or apply and sent to dead-letters, by group and reason.",
		}, []string{"group", "reason"}),
		anomalies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetstream_anomalies_total",
			Help: "Anomalies emitted by vehicle-state, by rule and state (open, cleared).",
		}, []string{"rule", "state"}),
		dtcEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetstream_dtc_events_total",
			Help: "Trouble-code events emitted by dtc-monitor, by severity.",
		}, []string{"severity"}),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetstream_commands_issued_total",
			Help: "Engine-stop commands for stop-worthy trouble codes: issued, or duplicate (already issued in this trip).",
		}, []string{"result"}),
		lag: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetstream_event_time_lag_seconds",
			Help:    "Processing time minus the event time vehicles stamped, by group.",
			Buckets: lagBuckets(),
		}, []string{"group"}),
		processing: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetstream_processing_seconds",
			Help:    "Time a processor group's callback spent on one message, by group and input topic.",
			Buckets: []float64{.00001, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05, .25},
		}, []string{"group", "topic"}),
	}
	if reg != nil {
		m.deadLetters = register(reg, m.deadLetters)
		m.anomalies = register(reg, m.anomalies)
		m.dtcEvents = register(reg, m.dtcEvents)
		m.commands = register(reg, m.commands)
		m.lag = register(reg, m.lag)
		m.processing = register(reg, m.processing)
	}
	return m
}

// register registers c, or returns the identical collector reg already holds; a conflicting
// collector is a wiring error to fix at start-up, so it panics like prometheus.MustRegister.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	c, err := topology.Register(reg, c)
	if err != nil {
		panic(err)
	}
	return c
}

// DeadLetter counts a message group sent to dead-letters.
func (m *Metrics) DeadLetter(group string, reason codecs.Reason) {
	if m == nil {
		return
	}
	m.deadLetters.WithLabelValues(group, string(reason)).Inc()
}

// Anomaly counts an anomaly emitted by rule in state.
func (m *Metrics) Anomaly(rule string, state codecs.AnomalyState) {
	if m == nil {
		return
	}
	m.anomalies.WithLabelValues(rule, string(state)).Inc()
}

// DTCEvent counts a trouble-code event of severity.
func (m *Metrics) DTCEvent(severity string) {
	if m == nil {
		return
	}
	m.dtcEvents.WithLabelValues(severity).Inc()
}

// Command counts a stop-worthy code's result: CommandIssued or CommandDuplicate.
func (m *Metrics) Command(result string) {
	if m == nil {
		return
	}
	m.commands.WithLabelValues(result).Inc()
}

// ObserveLag records now minus eventTime for group; a zero eventTime is skipped and an event
// stamped in the future (clock skew) counts as no lag.
func (m *Metrics) ObserveLag(group string, eventTime, now time.Time) {
	if m == nil || eventTime.IsZero() {
		return
	}
	lag := now.Sub(eventTime).Seconds()
	if lag < 0 {
		lag = 0
	}
	m.lag.WithLabelValues(group).Observe(lag)
}

// Instrument wraps a group's input callback to observe fleetstream_processing_seconds. goka
// cannot report the end of a callback to a context wrapper, so each group wraps its own.
func (m *Metrics) Instrument(group string, topic goka.Stream, cb goka.ProcessCallback) goka.ProcessCallback {
	if m == nil {
		return cb
	}
	h := m.processing.WithLabelValues(group, string(topic))
	return func(ctx goka.Context, msg any) {
		start := time.Now()
		cb(ctx, msg)
		h.Observe(time.Since(start).Seconds())
	}
}
