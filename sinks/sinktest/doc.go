// Package sinktest is the conformance suite every sink backend passes, and the test kit of the
// delivery core: an embedded Kafka-protocol broker (kfake over TCP), a dataset of the
// timeseries, anomalies and dtc-events topics whose strings need escaping everywhere, and a
// reference in-memory destination.
//
// A backend's test hands Run a factory of Harnesses, one fresh destination per case:
//
//	func TestConformance(t *testing.T) {
//		sinktest.Run(t, func(t *testing.T) sinktest.Harness { return newHarness(t) })
//	}
//
// A Harness makes backends writing to its destination, reads back what the destination holds
// as Items (MeasurementItem, AnomalyItem, DTCItem build them from decoded data), and injects
// failures: retryable ones (throttling, 5xx), permanent refusals of chosen keys, and hangs. A
// destination that cannot fail on demand embeds Faults and wraps its backends with Faults.Wrap.
//
// The suite writes to the backend directly (delivery, ordering, retries, partial failures,
// hangs, close and reopen) and through sinks.Worker against kfake (commits equal the end
// offsets after the worker stops, refused records are on the dead-letter topic with their
// original bytes, shutdown drains what was fetched, and a worker killed after a write but
// before its commit is followed by one that delivers the write again without duplicates:
// every fleetstream destination is idempotent). It takes a few seconds per backend.
package sinktest
