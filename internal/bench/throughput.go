package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors"
	"github.com/fleetstream/fleetstream/processors/rules"
	"github.com/fleetstream/fleetstream/processors/tripstate"
	"github.com/fleetstream/fleetstream/processors/vehiclestate"
	"github.com/fleetstream/fleetstream/topology"
)

// Topics of the throughput runs. vehicle-state uses its default names; the baseline writes
// its own, so nothing of one run can be counted for the other.
const (
	baselineGroup      = "bench-baseline"
	baselineTimeseries = "baseline-timeseries"
	baselineAnomalies  = "baseline-anomalies"
	baselineChangelog  = "baseline-state-table"
	baselineDeadLetter = "baseline-dead-letters"
)

// runResult is one throughput run.
type runResult struct {
	name      string
	events    int64
	elapsed   time.Duration
	cpu       time.Duration // this process (the worker), user+system
	brokerCPU time.Duration // the broker process
	peakRSS   int64         // this process's RSS sampled during the run
	detail    string
}

func (r runResult) eventsPerSecond() float64 { return float64(r.events) / r.elapsed.Seconds() }

func (r runResult) cpuPerMillion() float64 {
	return r.cpu.Seconds() / (float64(r.events) / 1e6)
}

func (r runResult) brokerCPUPerMillion() float64 {
	return r.brokerCPU.Seconds() / (float64(r.events) / 1e6)
}

// throughputEnv is what every throughput run shares: the broker with the preloaded telemetry.
type throughputEnv struct {
	opts   options
	broker *broker
	admin  *admin
	kafka  topology.Kafka
	data   *fleetData
	dir    string
}

func (e *throughputEnv) goka() []topicSpec {
	t := topology.DefaultTopics()
	return []topicSpec{
		{name: t.Timeseries}, {name: t.Anomalies}, {name: t.DeadLetters},
		{name: string(vehiclestate.Table), compacted: true},
		{name: string(tripstate.Table), compacted: true},
	}
}

func (e *throughputEnv) baseline() []topicSpec {
	return []topicSpec{
		{name: baselineTimeseries}, {name: baselineAnomalies}, {name: baselineDeadLetter},
		{name: baselineChangelog, compacted: true},
	}
}

// reset empties every output and table topic and forgets the groups' offsets, so each run
// processes the whole input from the start.
func (e *throughputEnv) reset(ctx context.Context) error {
	specs := append(e.goka(), e.baseline()...)
	return e.admin.recreate(ctx, int32(e.opts.partitions), []string{string(vehiclestate.Group), baselineGroup}, specs...)
}

// measure runs start (which returns once the consumer is ready to consume, and a stop
// function) and waits until the outputs in want are all written.
func (e *throughputEnv) measure(ctx context.Context, name string, want map[string]int64,
	start func(ctx context.Context) (stop func() error, err error)) (runResult, error) {
	if err := e.reset(ctx); err != nil {
		return runResult{}, err
	}
	runtime.GC()
	runCtx, cancel := context.WithTimeout(ctx, e.opts.runTimeout)
	defer cancel()
	stop, err := start(runCtx)
	if err != nil {
		return runResult{}, fmt.Errorf("%s: %w", name, err)
	}
	t0, cpu0, bcpu0 := time.Now(), cpuTime(), e.broker.cpu()
	var peak atomic.Int64
	sampleDone := make(chan struct{})
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampleDone:
				return
			case <-t.C:
				if rss := memStatus(0, "VmRSS"); rss > peak.Load() {
					peak.Store(rss)
				}
			}
		}
	}()
	end, got, err := e.admin.waitForCounts(runCtx, want, 20*time.Millisecond)
	cpu1, bcpu1 := cpuTime(), e.broker.cpu()
	close(sampleDone)
	stopErr := stop()
	if err != nil {
		return runResult{}, fmt.Errorf("%s: %w", name, err)
	}
	if stopErr != nil {
		fmt.Fprintf(os.Stderr, "bench: %s stopped with: %v\n", name, stopErr)
	}
	r := runResult{
		name: name, events: int64(len(e.data.records)), elapsed: end.Sub(t0),
		cpu: cpu1 - cpu0, brokerCPU: bcpu1 - bcpu0, peakRSS: peak.Load(),
		detail: fmt.Sprintf("outputs %v", got),
	}
	return r, nil
}

// runTopology runs the real vehicle-state group graph (vehiclestate.Define) built by
// topology.Builder, as internal/fleet's worker builds it: with its Hooks and processor metrics.
func (e *throughputEnv) runTopology(ctx context.Context, storage string) (runResult, error) {
	t := topology.DefaultTopics()
	want := map[string]int64{
		t.Timeseries:               e.data.expect.measurements,
		t.Anomalies:                e.data.expect.anomalies,
		string(vehiclestate.Table): e.data.expect.tableWrites,
	}
	name := "vehicle-state/" + storage
	return e.measure(ctx, name, want, func(ctx context.Context) (func() error, error) {
		reg := prometheus.NewRegistry()
		b := topology.Builder{Kafka: e.kafka, Replication: 1, Hooks: topology.NewHooks(reg)}
		if storage == "leveldb" {
			dir, err := os.MkdirTemp(e.dir, "tables-")
			if err != nil {
				return nil, err
			}
			b.StorageDir = dir
		}
		cfg := vehiclestate.DefaultConfig()
		cfg.Metrics = processors.NewMetrics(reg)
		p, err := b.Processor(vehiclestate.Define(cfg))
		if err != nil {
			return nil, err
		}
		pctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- p.Run(pctx) }()
		stop := func() error {
			cancel()
			err := <-done
			if b.StorageDir != "" {
				_ = os.RemoveAll(b.StorageDir)
			}
			return err
		}
		if err := p.WaitForReadyContext(ctx); err != nil {
			_ = stop()
			return nil, err
		}
		select {
		case err := <-done:
			return nil, fmt.Errorf("processor stopped at start: %w", err)
		default:
		}
		return stop, nil
	})
}

// runBaseline does vehicle-state's work without goka: a sarama consumer group and an async
// producer; per-VIN state in a map per partition, a changelog write per changed state to a
// compacted topic, rules through vehiclestate.Apply (which calls rules.Evaluate), and every
// measurement and anomaly encoded with the same codecs and emitted. Offsets are marked as soon
// as a message is handled (sarama's autocommit), not after its writes are acknowledged as
// goka does.
func (e *throughputEnv) runBaseline(ctx context.Context) (runResult, error) {
	want := map[string]int64{
		baselineTimeseries: e.data.expect.measurements,
		baselineAnomalies:  e.data.expect.anomalies,
		baselineChangelog:  e.data.expect.tableWrites,
	}
	return e.measure(ctx, "baseline", want, func(ctx context.Context) (func() error, error) {
		settings, err := e.settings()
		if err != nil {
			return nil, err
		}
		pcfg := sarama.NewConfig()
		settings.apply(pcfg)
		pcfg.ClientID = "bench-baseline"
		pcfg.Producer.Partitioner = sarama.NewCustomHashPartitioner(e.kafka.Hasher())
		pcfg.Producer.Return.Successes = true
		pcfg.Producer.Return.Errors = true
		producer, err := sarama.NewAsyncProducer(e.kafka.Brokers, pcfg)
		if err != nil {
			return nil, err
		}
		var failed atomic.Int64
		var drain sync.WaitGroup
		drain.Add(2)
		go func() {
			defer drain.Done()
			for range producer.Successes() {
			}
		}()
		go func() {
			defer drain.Done()
			for perr := range producer.Errors() {
				if failed.Add(1) == 1 {
					fmt.Fprintf(os.Stderr, "bench: baseline produce failed: %v\n", perr.Err)
				}
			}
		}()

		ccfg := sarama.NewConfig()
		settings.apply(ccfg)
		ccfg.ClientID = "bench-baseline"
		ccfg.Consumer.Offsets.Initial = sarama.OffsetOldest
		ccfg.Consumer.Return.Errors = true
		group, err := sarama.NewConsumerGroup(e.kafka.Brokers, baselineGroup, ccfg)
		if err != nil {
			producer.AsyncClose()
			drain.Wait()
			return nil, err
		}
		h := &baselineHandler{producer: producer, rules: rules.Default(), ready: make(chan struct{})}
		gctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			var err error
			for gctx.Err() == nil {
				if err = group.Consume(gctx, []string{topology.DefaultTopics().Telemetry}, h); err != nil {
					break
				}
			}
			done <- err
		}()
		stop := func() error {
			cancel()
			err := <-done
			err = errors.Join(err, group.Close())
			producer.AsyncClose()
			drain.Wait()
			if n := failed.Load(); n > 0 {
				err = errors.Join(err, fmt.Errorf("%d baseline produces failed", n))
			}
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			return err
		}
		select {
		case <-h.ready:
		case err := <-done:
			_ = stop()
			return nil, fmt.Errorf("consumer group stopped at start: %w", err)
		case <-ctx.Done():
			_ = stop()
			return nil, ctx.Err()
		}
		return stop, nil
	})
}

// settings are the sarama settings of fleetstream's processors: what topology.Kafka.Sarama()
// returns for the bench's Kafka configuration.
func (e *throughputEnv) settings() (clientSettings, error) {
	cfg, err := e.kafka.Sarama()
	if err != nil {
		return clientSettings{}, err
	}
	return settingsOf(cfg), nil
}

type baselineHandler struct {
	producer  sarama.AsyncProducer
	rules     rules.Set
	ready     chan struct{}
	readyOnce sync.Once
}

func (h *baselineHandler) Setup(sarama.ConsumerGroupSession) error {
	h.readyOnce.Do(func() { close(h.ready) })
	return nil
}

func (h *baselineHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *baselineHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	var (
		states       = map[string]*codecs.VehicleState{}
		measurements codecs.JSON[codecs.Measurement]
		anomalies    codecs.JSON[codecs.Anomaly]
		changelog    codecs.JSON[codecs.VehicleState]
		deadLetters  codecs.JSON[codecs.DeadLetter]
	)
	emit := func(topic, key string, v any, codec interface{ Encode(any) ([]byte, error) }) {
		b, err := codec.Encode(v)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: baseline encode for %s: %v\n", topic, err)
			return
		}
		h.producer.Input() <- &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(b)}
	}
	for msg := range claim.Messages() {
		key := string(msg.Key)
		sigs, err := codecs.DecodeTelemetry(msg.Value)
		if err == nil {
			err = processors.CheckKey(key, sigs[0].VIN)
		}
		if err != nil {
			reason, detail := processors.ReasonOf(err)
			emit(baselineDeadLetter, key, &codecs.DeadLetter{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset,
				Key: key, Value: msg.Value, Reason: reason, Detail: detail, Stage: baselineGroup, Time: msg.Timestamp.UTC()}, deadLetters)
			sess.MarkMessage(msg, "")
			continue
		}
		res := vehiclestate.Apply(states[key], sigs, nil, h.rules)
		for i := range res.Measurements {
			emit(baselineTimeseries, key, &res.Measurements[i], measurements)
		}
		for i := range res.Anomalies {
			emit(baselineAnomalies, key, &res.Anomalies[i], anomalies)
		}
		if res.Changed {
			states[key] = res.State
			emit(baselineChangelog, key, res.State, changelog)
		}
		sess.MarkMessage(msg, "")
	}
	return nil
}
