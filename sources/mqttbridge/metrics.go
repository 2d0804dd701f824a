package mqttbridge

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/topology"
)

// Results of a bridged message, the values of the result label.
const (
	ResultProduced     = "produced"
	ResultDeadLettered = "dead_lettered"
	ResultFailed       = "failed"
)

type metrics struct {
	messages *prometheus.CounterVec
	latency  prometheus.Histogram
	inflight prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetstream_bridge_messages_total",
			Help: "MQTT messages bridged, by result: produced to their topic, dead_lettered, or failed (a produce attempt Kafka did not acknowledge; the message is retried).",
		}, []string{"result"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "fleetstream_bridge_latency_seconds",
			Help:    "Time from receiving an MQTT message to Kafka acknowledging its record.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5ms to ~16s
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetstream_bridge_inflight_messages",
			Help: "MQTT messages received and not yet acknowledged to the broker.",
		}),
	}
	var err error
	if m.messages, err = topology.Register(reg, m.messages); err != nil {
		return nil, err
	}
	if m.latency, err = topology.Register(reg, m.latency); err != nil {
		return nil, err
	}
	if m.inflight, err = topology.Register(reg, m.inflight); err != nil {
		return nil, err
	}
	for _, r := range []string{ResultProduced, ResultDeadLettered, ResultFailed} {
		m.messages.WithLabelValues(r)
	}
	return m, nil
}
