package processors_test

import (
	"testing"

	"github.com/lovoo/goka"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/processors"
)

func TestInstrumentObservesEachCallback(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := processors.NewMetrics(reg)
	calls := 0
	cb := m.Instrument("vehicle-state", "telemetry", func(goka.Context, any) { calls++ })
	for i := 0; i < 3; i++ {
		cb(nil, nil)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var count uint64
	for _, f := range families {
		if f.GetName() == "fleetstream_processing_seconds" {
			for _, metric := range f.GetMetric() {
				count += metric.GetHistogram().GetSampleCount()
			}
		}
	}
	if calls != 3 || count != 3 {
		t.Fatalf("callback ran %d times, histogram counted %d; want 3 and 3", calls, count)
	}
	var nilMetrics *processors.Metrics
	if nilMetrics.Instrument("g", "t", func(goka.Context, any) { calls++ })(nil, nil); calls != 4 {
		t.Fatal("nil Metrics must pass the callback through")
	}
}
