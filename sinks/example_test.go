package sinks_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/sinktest"
	"github.com/fleetstream/fleetstream/topology"
)

// A backend says which records of a batch failed, whether each may be retried, and how long
// the destination asked to wait.
func ExampleBatchError() {
	throttled := sinks.WithRetryAfter(errors.New("429 Too Many Requests"), 2*time.Second)
	err := &sinks.BatchError{Failed: []sinks.RecordError{
		{Index: 1, Err: sinks.Permanent(errors.New("400 field type conflict"))},
		{Index: 3, Err: throttled},
	}}
	for _, f := range err.Failed {
		fmt.Printf("record %d: retry %v\n", f.Index, sinks.Retryable(f.Err))
	}
	wait, _ := sinks.RetryAfter(err)
	fmt.Println("wait at least", wait)
	// Output:
	// record 1: retry false
	// record 3: retry true
	// wait at least 2s
}

// A sink worker: the timeseries topics into a backend, refused records to dead-letters.
func ExampleNewWorker() {
	w, err := sinks.NewWorker(sinks.Config{
		Group:           "timeseries-sink",
		Topics:          []string{"timeseries", "anomalies", "dtc-events"},
		Kafka:           topology.DefaultKafka(),
		DeadLetterTopic: "dead-letters",
		Logger:          slog.New(slog.NewTextHandler(os.Stderr, nil)),
		Registerer:      prometheus.NewRegistry(),
	}, sinktest.NewMemory().NewBackend(nil))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a real main runs until SIGTERM
	_ = w.Run(ctx)
}
