package sinks

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/topology"
)

// Results of a WriteBatch call, the result label of fleetstream_sink_batches_total.
const (
	BatchOK      = "ok"      // every record written
	BatchPartial = "partial" // some records written, others failed (a *BatchError)
	BatchFailed  = "failed"  // nothing written
)

// Results of a record, the result label of fleetstream_sink_records_total.
const (
	RecordWritten      = "written"
	RecordDeadLettered = "dead_lettered"
)

// metrics are the delivery core's metrics. Dashboards rely on their names:
//
//	fleetstream_sink_batches_total{sink,backend,result}  WriteBatch calls: ok, partial, failed
//	fleetstream_sink_records_total{sink,backend,result}  records written or dead_lettered
//	fleetstream_sink_retries_total{sink,backend}         attempts after a retryable failure
//	fleetstream_sink_write_seconds{sink,backend}         duration of WriteBatch calls
//	fleetstream_sink_inflight_batches{sink}              batches being delivered now
//	fleetstream_dead_letters_total{group,reason}         records sent to dead-letters (shared with the processors)
type metrics struct {
	batches     *prometheus.CounterVec
	records     *prometheus.CounterVec
	retries     *prometheus.CounterVec
	write       *prometheus.HistogramVec
	inflight    *prometheus.GaugeVec
	deadLetters *prometheus.CounterVec
}

// NewDeadLetterCounter returns fleetstream_dead_letters_total{group,reason} registered with
// reg (nil registers nothing). Its description is the processors' (processors.NewMetrics), so
// either may register first and the other reuses the family; an existing identical family in
// reg is returned instead of a new one.
func NewDeadLetterCounter(reg prometheus.Registerer) (*prometheus.CounterVec, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetstream_dead_letters_total",
		Help: "Messages a processor group could not decode or apply and sent to dead-letters, by group and reason.",
	}, []string{"group", "reason"})
	return topology.Register(reg, c)
}

func newMetrics(reg prometheus.Registerer, deadLetters *prometheus.CounterVec) (*metrics, error) {
	m := &metrics{
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetstream_sink_batches_total",
			Help: "WriteBatch calls of a sink's backend, by result: ok (all written), partial (some records failed), failed (none written).",
		}, []string{"sink", "backend", "result"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetstream_sink_records_total",
			Help: "Records a sink delivered, by result: written to the backend or dead_lettered.",
		}, []string{"sink", "backend", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetstream_sink_retries_total",
			Help: "Attempts a sink made again after a retryable failure (throttling, timeouts, 5xx).",
		}, []string{"sink", "backend"}),
		write: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetstream_sink_write_seconds",
			Help:    "Duration of a sink backend's WriteBatch calls.",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"sink", "backend"}),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetstream_sink_inflight_batches",
			Help: "Batches a sink is delivering now (writing, waiting to retry or dead-lettering).",
		}, []string{"sink"}),
		deadLetters: deadLetters,
	}
	var err error
	if m.deadLetters == nil {
		if m.deadLetters, err = NewDeadLetterCounter(reg); err != nil {
			return nil, fmt.Errorf("%w (pass the registry's family in Config.DeadLetters)", err)
		}
	}
	if m.batches, err = topology.Register(reg, m.batches); err != nil {
		return nil, err
	}
	if m.records, err = topology.Register(reg, m.records); err != nil {
		return nil, err
	}
	if m.retries, err = topology.Register(reg, m.retries); err != nil {
		return nil, err
	}
	if m.write, err = topology.Register(reg, m.write); err != nil {
		return nil, err
	}
	if m.inflight, err = topology.Register(reg, m.inflight); err != nil {
		return nil, err
	}
	return m, nil
}
