package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/internal/devstack"
	"github.com/fleetstream/fleetstream/internal/fleet"
	"github.com/fleetstream/fleetstream/topology"
)

// latencyResult is the DTC → command section.
type latencyResult struct {
	sent, received int
	p50, p90, p99  time.Duration
	max            time.Duration
	loadRate       float64 // telemetry messages per second actually produced during the section
	loadLag        int64   // vehicle-state's lag on telemetry when the last command arrived
	mqttRate       float64 // the command sink's publish limit
	stopCode       string
}

// shadowFilter is what the AWS IoT classic shadow rendering publishes commands to.
const shadowFilter = "$aws/things/+/shadow/update"

// runLatency runs dtc-monitor, vehicle-state, trip-state and command-sink through
// internal/fleet's Worker against a fresh embedded broker and the embedded MQTT broker,
// produces telemetry at a steady rate, and meanwhile one stop-worthy DTC per VIN, each on a new
// trip, timing each from its produce call to the command's arrival on MQTT.
func runLatency(ctx context.Context, o options, data *fleetData, out *report) (latencyResult, error) {
	var res latencyResult
	res.stopCode = "P0217"
	b, err := startBroker(o.partitions)
	if err != nil {
		return res, err
	}
	defer b.close()
	mq, err := devstack.StartMQTT(ctx, devstack.MQTTConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		return res, err
	}
	defer mq.Close()

	// Subscribe first: every command published from now on is seen.
	var (
		mu       sync.Mutex
		sentAt   = map[string]time.Time{}
		latency  []time.Duration
		allDone  = make(chan struct{})
		expected atomic.Int64
	)
	expected.Store(-1)
	opts := paho.NewClientOptions().AddBroker("tcp://" + mq.Addr()).SetClientID("bench-latency").
		SetCleanSession(true).SetOrderMatters(false)
	sub := paho.NewClient(opts)
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return res, fmt.Errorf("mqtt subscriber connect: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	tok := sub.Subscribe(shadowFilter, 1, func(_ paho.Client, m paho.Message) {
		now := time.Now()
		vin := strings.TrimSuffix(strings.TrimPrefix(m.Topic(), "$aws/things/"), "/shadow/update")
		mu.Lock()
		defer mu.Unlock()
		t, ok := sentAt[vin]
		if !ok {
			return // not ours, or a redelivery already counted
		}
		delete(sentAt, vin)
		latency = append(latency, now.Sub(t))
		if int64(len(latency)) == expected.Load() {
			close(allDone)
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return res, fmt.Errorf("mqtt subscribe: %v", tok.Error())
	}

	dataDir := ""
	if o.latencyStorage == "leveldb" {
		if dataDir, err = os.MkdirTemp(o.workDir, "latency-"); err != nil {
			return res, err
		}
		defer os.RemoveAll(dataDir)
	}
	cfg := fleet.DefaultConfig()
	cfg.Kafka = o.kafka(b.addr)
	cfg.Provisioning.Partitions = int32(o.partitions)
	cfg.Groups = []string{fleet.GroupTripState, fleet.GroupVehicleState, fleet.GroupDTCMonitor, fleet.GroupCommandSink}
	cfg.HTTPAddr = ""
	cfg.DataDir = dataDir
	cfg.Sinks.Commands.MQTT.Brokers = []string{"tcp://" + mq.Addr()}
	cfg.Sinks.Commands.MQTT.ClientID = "bench-command-sink"
	res.mqttRate = cfg.Sinks.Commands.MQTT.Rate
	w, err := fleet.NewWorker(cfg)
	if err != nil {
		return res, err
	}
	wctx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(wctx) }()
	defer func() {
		stopWorker()
		if err := <-workerDone; err != nil {
			fmt.Fprintf(os.Stderr, "bench: latency worker stopped with: %v\n", err)
		}
	}()
	readyBy := time.Now().Add(90 * time.Second)
	for {
		if err := w.Ready(ctx); err == nil {
			break
		} else if time.Now().After(readyBy) {
			return res, fmt.Errorf("worker not ready after 90s: %w", err)
		}
		select {
		case err := <-workerDone:
			workerDone <- err
			return res, fmt.Errorf("worker stopped before it was ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	out.printf("  worker ready (groups %s, tables in %s)\n", strings.Join(cfg.Groups, ","), o.latencyStorage)

	load, err := newProducer(b.addr, int32(o.partitions), o.loadProducer())
	if err != nil {
		return res, err
	}
	defer load.close()
	dtcs, err := newProducer(b.addr, int32(o.partitions), o.dtcProducer())
	if err != nil {
		return res, err
	}
	defer dtcs.close()
	out.printf("  telemetry load: %s\n  DTC producer:   %s\n", o.loadProducer(), o.dtcProducer())

	// Telemetry load: the preloaded fleet's messages, in order, at loadRate per second.
	loadCtx, stopLoad := context.WithCancel(ctx)
	var loaded atomic.Int64
	loadDone := make(chan struct{})
	loadStart := time.Now()
	go func() {
		defer close(loadDone)
		const step = 10 * time.Millisecond
		tick := time.NewTicker(step)
		defer tick.Stop()
		telemetry := topology.DefaultTopics().Telemetry
		i := 0
		for n := 1; ; n++ {
			due := int(o.latencyLoadRate * (float64(n) * step.Seconds()))
			for ; i < due; i++ {
				r := data.records[i%len(data.records)]
				load.produce(loadCtx, telemetry, r.key, r.value, nil)
				loaded.Add(1)
			}
			select {
			case <-loadCtx.Done():
				return
			case <-tick.C:
			}
		}
	}()

	time.Sleep(o.latencyWarmup)
	vins := commandVINs(data.vins, o.latencyCommands)
	expected.Store(int64(len(vins)))
	diagnostics := topology.DefaultTopics().Diagnostics
	gap := time.Duration(float64(time.Second) / o.latencyDTCRate)
	next := time.Now()
	for i, vin := range vins {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(gap)
		now := time.Now()
		payload := fmt.Sprintf(`{"timestamp":"%s","trip_id":"bench-trip-%06d","vin":"%s","name":"dtc","value":"%s"}`,
			codecs.FormatTime(now.Truncate(time.Millisecond)), i, vin, res.stopCode)
		mu.Lock()
		sentAt[vin] = now
		mu.Unlock()
		dtcs.produce(ctx, diagnostics, vin, []byte(payload), nil)
	}
	res.sent = len(vins)
	select {
	case <-allDone:
	case <-time.After(o.latencyTimeout):
		out.printf("  timed out after %s waiting for commands\n", o.latencyTimeout)
	}
	stopLoad()
	<-loadDone
	res.loadRate = float64(loaded.Load()) / time.Since(loadStart).Seconds()
	if a, err := newAdmin(b.addr); err == nil {
		res.loadLag, _ = a.lag(ctx, fleet.GroupVehicleState, topology.DefaultTopics().Telemetry)
		a.close()
	}
	mu.Lock()
	lat := slices.Clone(latency)
	mu.Unlock()
	res.received = len(lat)
	if len(lat) > 0 {
		slices.Sort(lat)
		res.p50, res.p90, res.p99, res.max = percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99), lat[len(lat)-1]
	}
	return res, nil
}

// commandVINs are n distinct VINs: the fleet's, then made-up ones if the fleet is smaller.
func commandVINs(fleetVINs []string, n int) []string {
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if i < len(fleetVINs) {
			out = append(out, fleetVINs[i])
		} else {
			out = append(out, fmt.Sprintf("BENCHDTC%09d", i))
		}
	}
	return out
}

// percentile is the nearest-rank percentile of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
