package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors/rules"
	"github.com/fleetstream/fleetstream/processors/vehiclestate"
	"github.com/fleetstream/fleetstream/sources/simulator"
	"github.com/fleetstream/fleetstream/topology"
)

// signalsPerTick is what one driving vehicle of the v2 simulator sends per tick: 16 signals and
// the location, one message each.
const signalsPerTick = 17

// record is one keyed Kafka record to produce.
type record struct {
	key   string
	value []byte
}

// tickClock is the clock of one simulated vehicle: it moves time on by one interval per
// simulator tick instead of waiting for it. The simulator's rate mode reads the clock twice per
// tick (once for the time since the last tick, once for the tick's timestamp), from the one
// goroutine that drives a single-vehicle fleet.
type tickClock struct {
	start    time.Time
	interval time.Duration
	calls    int
}

func (c *tickClock) now() time.Time {
	t := c.start.Add(time.Duration(c.calls/2) * c.interval)
	c.calls++
	return t
}

// tick is the index of the tick the last reading of the clock belongs to.
func (c *tickClock) tick() int { return max(c.calls-1, 0) / 2 }

// driveVehicle runs vehicle number idx of a seeded fleet through the real simulator
// (sources/simulator, v2 format, default trip model) for ticks ticks of interval, in simulated
// time starting at start, and hands each telemetry message to emit with its tick index. It
// returns the vehicle's VIN.
func driveVehicle(seed int64, idx int, start time.Time, interval time.Duration, ticks int, emit func(tick int, vin string, payload []byte)) (string, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clock := &tickClock{start: start, interval: interval}
	telemetry := topology.DefaultTopics().Telemetry
	var vin string
	pub := simulator.PublisherFunc(func(ctx context.Context, topic, key string, payload []byte) error {
		if clock.tick() >= ticks {
			cancel()
			return ctx.Err()
		}
		if topic == telemetry {
			vin = key
			emit(clock.tick(), key, payload)
		}
		return nil
	})
	cfg := simulator.DefaultConfig()
	cfg.Vehicles = 1
	// A one-vehicle fleet per seed: vehicle idx of the benchmark fleet is vehicle 0 of seed
	// seed*1e6+idx, driven alone so that its clock can be simulated.
	cfg.Seed = seed*1_000_000 + int64(idx)
	cfg.Interval = interval
	cfg.DTCEvery = 0
	cfg.Rate = 1e12 // rate mode with a bucket that never empties: the clock sets the pace
	cfg.Topics = simulator.KafkaTopics(topology.DefaultTopics())
	cfg.Now = clock.now
	sim, err := simulator.New(cfg, pub)
	if err != nil {
		return "", err
	}
	if err := sim.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return "", err
	}
	if vin == "" {
		return "", fmt.Errorf("simulated vehicle %d sent no telemetry in %d ticks", idx, ticks)
	}
	return vin, nil
}

// fleetData is the preloaded telemetry of a simulated fleet, in produce order, and what
// processing it must produce.
type fleetData struct {
	vins    []string
	records []record
	expect  expectation
	bytes   int64
}

// expectation is what vehicle-state (or the baseline) emits for the data: measurements to
// timeseries, anomalies, and table (changelog) writes.
type expectation struct {
	measurements int64
	anomalies    int64
	tableWrites  int64
	signals      int64
}

// generateFleet simulates vins vehicles of the v2 simulator at its default 2 s tick, every
// vehicle staggered within the tick as the paced simulator does, and returns the first n
// telemetry messages in time order.
func generateFleet(seed int64, vins, n int, start time.Time) (*fleetData, error) {
	interval := simulator.DefaultConfig().Interval
	ticks := (n+vins*signalsPerTick-1)/(vins*signalsPerTick) + 1
	perVehicle := make([][][][]byte, vins) // vehicle → tick → payloads
	names := make([]string, vins)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	jobs := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0)*2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				byTick := make([][][]byte, ticks)
				offset := time.Duration(int64(interval) * int64(i) / int64(vins))
				vin, err := driveVehicle(seed, i, start.Add(offset), interval, ticks, func(t int, _ string, p []byte) {
					byTick[t] = append(byTick[t], p)
				})
				if err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					continue
				}
				perVehicle[i], names[i] = byTick, vin
			}
		}()
	}
	for i := 0; i < vins; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	seen := make(map[string]bool, vins)
	for _, v := range names {
		if seen[v] {
			return nil, fmt.Errorf("simulated fleet drew VIN %s twice", v)
		}
		seen[v] = true
	}
	d := &fleetData{vins: names, records: make([]record, 0, n)}
	for t := 0; t < ticks && len(d.records) < n; t++ {
		for i := 0; i < vins && len(d.records) < n; i++ {
			for _, p := range perVehicle[i][t] {
				if len(d.records) == n {
					break
				}
				d.records = append(d.records, record{key: names[i], value: p})
				d.bytes += int64(len(p))
			}
		}
	}
	if len(d.records) < n {
		return nil, fmt.Errorf("simulated fleet sent %d messages, want %d", len(d.records), n)
	}
	exp, err := expect(d.records, rules.Default())
	if err != nil {
		return nil, err
	}
	d.expect = exp
	return d, nil
}

// expect runs the data through vehiclestate.Apply, as the group does, and counts what it
// must emit. Per VIN, records are applied in produce order, which is the order of their
// partition.
func expect(recs []record, rs rules.Set) (expectation, error) {
	var e expectation
	states := map[string]*codecs.VehicleState{}
	for _, r := range recs {
		sigs, err := codecs.DecodeTelemetry(r.value)
		if err != nil {
			return e, fmt.Errorf("simulated payload does not decode: %w: %s", err, r.value)
		}
		res := vehiclestate.Apply(states[r.key], sigs, nil, rs)
		e.signals += int64(len(sigs))
		e.measurements += int64(len(res.Measurements))
		e.anomalies += int64(len(res.Anomalies))
		if res.Changed {
			e.tableWrites++
			states[r.key] = res.State
		}
	}
	return e, nil
}

// applyOne folds one message's signals into a state with the default rules.
func applyOne(prev *codecs.VehicleState, sigs []codecs.Signal) *codecs.VehicleState {
	return vehiclestate.Apply(prev, sigs, nil, rules.Default()).State
}
