package mqtt_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow/internal/brokertest"
	"github.com/fleetstream/fleetstream/sinks/shadow/internal/conformance"
	"github.com/fleetstream/fleetstream/sinks/shadow/mqtt"
	"github.com/fleetstream/fleetstream/sinks/shadow/target"
	"github.com/fleetstream/fleetstream/sinks/sinktest"
)

var clients atomic.Int64

// harness is a fresh mochi broker read by an independent subscriber, as a vehicle would read
// it (one command per clientToken). An MQTT 3.1.1 broker cannot refuse a publish or throttle on
// demand, so failures are injected in front of the backend (sinktest.Faults).
type harness struct {
	sinktest.Faults
	broker *brokertest.Broker
	sub    *brokertest.Subscriber
}

func newHarness(t *testing.T) *harness {
	b := brokertest.StartMochi(t, nil)
	return &harness{broker: b, sub: brokertest.Subscribe(t, b.URL, shadowFilter, nil)}
}

func (h *harness) NewBackend(t *testing.T) sinks.Backend {
	r, err := target.New(conformance.Target())
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(h.broker.URL)
	cfg.ClientID = fmt.Sprintf("conformance-%d", clients.Add(1))
	cfg.Rate, cfg.Burst = 20000, 1000
	b, err := mqtt.New(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	return h.Wrap(conformance.Adapt(b))
}

func (h *harness) Stored(t *testing.T) []sinktest.Item {
	var payloads [][]byte
	for _, m := range h.sub.Settle(150 * time.Millisecond) {
		payloads = append(payloads, m.Payload)
	}
	return conformance.Items(t, payloads)
}

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("conformance suite")
	}
	sinktest.Run(t, func(t *testing.T) sinktest.Harness { return newHarness(t) })
}
