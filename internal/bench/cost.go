package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors/rules"
	"github.com/fleetstream/fleetstream/processors/vehiclestate"
	"github.com/fleetstream/fleetstream/sinks/timestream"
	"github.com/fleetstream/fleetstream/sources/simulator"
)

// costResult is the Timestream write cost of a simulated fleet window, scaled from a sample.
type costResult struct {
	fleet, sample int
	window        time.Duration
	scale         float64
	messages      int64 // telemetry messages of the sample
	cost          timestream.Cost
}

// runCost simulates sample vehicles of the default simulator (v2, one message per signal every
// 2 s, 20-minute trips with pauses) for window of simulated time, turns each message into
// measurements as vehicle-state does (vehiclestate.Apply), and prices them with
// timestream.EstimateCost under the sink's default configuration (1 s buckets, 100 records per
// WriteRecords). Vehicles are independent (a record holds one VIN), so the fleet's cost is
// the sample's times fleet/sample.
func runCost(seed int64, fleet, sample int, window time.Duration, start time.Time) (costResult, error) {
	interval := simulator.DefaultConfig().Interval
	ticks := int(window / interval)
	res := costResult{fleet: fleet, sample: sample, window: window, scale: float64(fleet) / float64(sample)}
	cfg := timestream.DefaultConfig()
	rs := rules.Default()

	// Chunks of vehicles are priced on their own (EstimateCost holds all of its input), which
	// only ever cuts a request short at a chunk's end: a slight overestimate.
	const chunk = 10
	type part struct {
		messages int64
		cost     timestream.Cost
		err      error
	}
	parts := make([]part, (sample+chunk-1)/chunk)
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for c := range parts {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var ms []codecs.Measurement
			var n int64
			for i := c * chunk; i < min((c+1)*chunk, sample); i++ {
				var state *codecs.VehicleState
				var applyErr error
				offset := time.Duration(int64(interval) * int64(i) / int64(sample))
				_, err := driveVehicle(seed+7, i, start.Add(offset), interval, ticks, func(_ int, _ string, p []byte) {
					sigs, err := codecs.DecodeTelemetry(p)
					if err != nil {
						applyErr = err
						return
					}
					n++
					r := vehiclestate.Apply(state, sigs, nil, rs)
					state = r.State
					ms = append(ms, r.Measurements...)
				})
				if err == nil {
					err = applyErr
				}
				if err != nil {
					parts[c].err = err
					return
				}
			}
			parts[c] = part{messages: n, cost: timestream.EstimateCost(ms, cfg)}
		}()
	}
	wg.Wait()
	for _, p := range parts {
		if p.err != nil {
			return res, p.err
		}
		res.messages += p.messages
		c, a := &res.cost, p.cost
		c.Measurements += a.Measurements
		c.Skipped += a.Skipped
		c.Superseded += a.Superseded
		c.Requests += a.Requests
		c.Records += a.Records
		c.Measures += a.Measures
		c.Bytes += a.Bytes
		c.WriteUnits += a.WriteUnits
		c.Naive.Records += a.Naive.Records
		c.Naive.Requests += a.Naive.Requests
		c.Naive.WriteUnits += a.Naive.WriteUnits
		c.Naive.BatchedRequests += a.Naive.BatchedRequests
		c.Naive.BatchedWriteUnits += a.Naive.BatchedWriteUnits
	}
	if res.cost.Records > 0 {
		res.cost.MeasuresPerRecord = float64(res.cost.Measures) / float64(res.cost.Records)
	}
	if res.messages == 0 {
		return res, fmt.Errorf("the sample sent no telemetry")
	}
	return res, nil
}

// scaled is n for the whole fleet.
func (r costResult) scaled(n int64) int64 { return int64(float64(n)*r.scale + 0.5) }
