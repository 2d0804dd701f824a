package timestream_test

import (
	"fmt"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks/timestream"
)

// A vehicle sending 16 numeric signals and its position once a second for a minute: merged
// into one multi-measure record per second and batched 100 records to a request, it costs a
// fraction of writing one record per reading.
func ExampleEstimateCost() {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var ms []codecs.Measurement
	for s := 0; s < 60; s++ {
		at := t0.Add(time.Duration(s) * time.Second)
		for i := 0; i < 16; i++ {
			ms = append(ms, codecs.Measurement{VIN: "1FLEET00000000001", TripID: "trip-1", Name: fmt.Sprintf("signal_%02d", i), Value: codecs.Number(float64(s + i)), Time: at})
		}
		ms = append(ms, codecs.Measurement{VIN: "1FLEET00000000001", TripID: "trip-1", Name: "location", Value: codecs.Location(42.29, -83.71), Time: at})
	}
	c := timestream.EstimateCost(ms, timestream.Config{})
	fmt.Printf("multi-measure: %d requests, %d records of %.0f measures, %d bytes, %d write units\n",
		c.Requests, c.Records, c.MeasuresPerRecord, c.Bytes, c.WriteUnits)
	fmt.Printf("naive: %d records, %d write units unbatched, %d batched in %d requests\n",
		c.Naive.Records, c.Naive.WriteUnits, c.Naive.BatchedWriteUnits, c.Naive.BatchedRequests)
	fmt.Printf("saving over naive batched: %.0f%%\n", 100*c.Saving())
	// Output:
	// multi-measure: 1 requests, 60 records of 18 measures, 20313 bytes, 20 write units
	// naive: 1080 records, 1080 write units unbatched, 33 batched in 11 requests
	// saving over naive batched: 39%
}
