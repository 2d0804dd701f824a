package shadow

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/topology"
)

// Results of a command, the result label of fleetstream_commands_delivered_total.
const (
	// ResultPublished: the backend acknowledged the command.
	ResultPublished = "published"
	// ResultDuplicate: the command's id was delivered before; it was not published again.
	ResultDuplicate = "duplicate"
	// ResultFailed: the command could not be decoded or delivered and went to dead-letters.
	ResultFailed = "failed"
)

// Metrics are the command sink's Prometheus metrics, labelled by backend name:
//
//	fleetstream_commands_delivered_total{backend,result}   result published|duplicate|failed
//	fleetstream_command_latency_seconds{backend}           publish time − command IssuedAt
//	fleetstream_command_publish_retries_total{backend}     retried attempts
//
// A nil *Metrics counts nothing.
type Metrics struct {
	delivered *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	retries   *prometheus.CounterVec
}

// NewMetrics registers the metrics with reg (nil registers nothing). Registering twice on one
// registry returns the metrics already there, so two sinks in one process share them.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		delivered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetstream_commands_delivered_total",
			Help: "Commands the command sink handled, by backend and result (published, duplicate: already delivered and not published again, failed: dead-lettered).",
		}, []string{"backend", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetstream_command_latency_seconds",
			Help:    "Time from a command's issue (its issued_at) to the backend's acknowledgement of its publication.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"backend"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetstream_command_publish_retries_total",
			Help: "Publish attempts of the command sink that failed retryably and were retried.",
		}, []string{"backend"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.delivered, err = topology.Register(reg, m.delivered); err != nil {
		return nil, err
	}
	if m.latency, err = topology.Register(reg, m.latency); err != nil {
		return nil, err
	}
	if m.retries, err = topology.Register(reg, m.retries); err != nil {
		return nil, err
	}
	return m, nil
}

func (m *Metrics) result(backend, result string) {
	if m != nil {
		m.delivered.WithLabelValues(backend, result).Inc()
	}
}

func (m *Metrics) published(backend string, issued, acked time.Time) {
	if m == nil {
		return
	}
	m.delivered.WithLabelValues(backend, ResultPublished).Inc()
	if !issued.IsZero() {
		m.latency.WithLabelValues(backend).Observe(max(0, acked.Sub(issued).Seconds()))
	}
}

func (m *Metrics) retry(backend string) {
	if m != nil {
		m.retries.WithLabelValues(backend).Inc()
	}
}
