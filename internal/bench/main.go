// Command bench measures fleetstream against the embedded broker: vehicle-state throughput
// next to a plain sarama baseline, DTC-to-command latency through MQTT, Timestream write cost of
// a simulated fleet hour, table recovery time and memory, and codec costs. `make bench` runs it;
// see README.md ("Performance") for the figures and how to read them.
//
//	go run ./internal/bench                                  # everything, default sizes
//	go run ./internal/bench -messages 200000 -recovery-keys 200000   # quicker
//	go run ./internal/bench -sections throughput -runs leveldb -cpuprofile cpu.out
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/topology"
)

type options struct {
	sections   []string
	runs       []string
	rounds     int
	messages   int
	vins       int
	partitions int
	seed       int64

	compression string
	acks        string

	latencyCommands int
	latencyDTCRate  float64
	latencyLoadRate float64
	latencyWarmup   time.Duration
	latencyTimeout  time.Duration
	latencyStorage  string

	costFleet, costSample int
	costWindow            time.Duration

	recoveryKeys     int
	recoveryStorages []string

	payloads   string
	cpuprofile string
	workDir    string
	runTimeout time.Duration

	// child roles
	role           string
	brokerAddr     string
	recoverStorage string
	recoverDir     string
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	sections := fs.String("sections", "codec,cost,throughput,latency,recovery", "sections to run, comma-separated")
	runs := fs.String("runs", "baseline,leveldb,memory", "throughput runs: baseline (sarama, no goka), leveldb and memory (vehicle-state with that table storage)")
	fs.IntVar(&o.rounds, "rounds", 3, "times each throughput run is repeated, in rotating order; medians are reported")
	fs.IntVar(&o.messages, "messages", 1_000_000, "telemetry messages preloaded for the throughput runs")
	fs.IntVar(&o.vins, "vins", 10_000, "vehicles sending them")
	fs.IntVar(&o.partitions, "partitions", 6, "partitions of every topic")
	fs.Int64Var(&o.seed, "seed", 1, "simulator seed")
	fs.StringVar(&o.compression, "compression", "snappy", "producer compression of every client (none, gzip, snappy, lz4, zstd)")
	fs.StringVar(&o.acks, "acks", "all", "producer acks of every client (all, leader)")
	fs.IntVar(&o.latencyCommands, "latency-commands", 1000, "stop-worthy DTCs sent, one per VIN and trip")
	fs.Float64Var(&o.latencyDTCRate, "latency-dtc-rate", 50, "DTCs per second")
	fs.Float64Var(&o.latencyLoadRate, "latency-load-rate", 10_000, "telemetry messages per second produced meanwhile")
	fs.DurationVar(&o.latencyWarmup, "latency-warmup", 3*time.Second, "telemetry load before the first DTC")
	fs.DurationVar(&o.latencyTimeout, "latency-timeout", 60*time.Second, "wait for the last command at most this long")
	fs.StringVar(&o.latencyStorage, "latency-storage", "leveldb", "table storage of the latency worker: leveldb or memory")
	fs.IntVar(&o.costFleet, "cost-fleet", 10_000, "vehicles of the fleet priced")
	fs.IntVar(&o.costSample, "cost-sample", 100, "vehicles simulated for it; the cost is scaled by fleet/sample")
	fs.DurationVar(&o.costWindow, "cost-window", time.Hour, "simulated time priced")
	fs.IntVar(&o.recoveryKeys, "recovery-keys", 1_000_000, "VINs in the vehicle-state table recovered")
	storages := fs.String("recovery-storage", "leveldb,memory", "storages recovered into, each in its own process")
	fs.StringVar(&o.payloads, "payloads", "../shared/payloads", "payload fixtures for the codec section")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of this process (not the broker's) to this file")
	fs.StringVar(&o.workDir, "work-dir", "", "directory for table storage (default: a new temporary directory)")
	fs.DurationVar(&o.runTimeout, "run-timeout", 5*time.Minute, "give up on a run after this long")
	fs.StringVar(&o.role, "role", "", "internal: broker or recover (the bench runs itself as a child process)")
	fs.StringVar(&o.brokerAddr, "broker-addr", "", "internal: broker address of a child")
	fs.StringVar(&o.recoverStorage, "recover-storage", "", "internal: storage of the recover child")
	fs.StringVar(&o.recoverDir, "recover-dir", "", "internal: storage directory of the recover child")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.sections = split(*sections)
	o.runs = split(*runs)
	o.recoveryStorages = split(*storages)
	for _, s := range o.sections {
		if !slices.Contains([]string{"codec", "cost", "throughput", "latency", "recovery"}, s) {
			return o, fmt.Errorf("-sections: %q is unknown", s)
		}
	}
	for _, r := range o.runs {
		if !slices.Contains([]string{"baseline", "leveldb", "memory"}, r) {
			return o, fmt.Errorf("-runs: %q is unknown: use baseline, leveldb, memory", r)
		}
	}
	for _, s := range append(slices.Clone(o.recoveryStorages), o.latencyStorage) {
		if s != "leveldb" && s != "memory" {
			return o, fmt.Errorf("storage %q is unknown: use leveldb or memory", s)
		}
	}
	if o.messages < 1 || o.vins < 1 || o.partitions < 1 || o.rounds < 1 || o.recoveryKeys < 1 || o.costSample < 1 ||
		o.latencyCommands < 1 || o.latencyDTCRate <= 0 || o.latencyLoadRate < 0 {
		return o, fmt.Errorf("sizes and rates must be positive")
	}
	if err := o.kafka("127.0.0.1:9092").Validate(); err != nil {
		return o, err
	}
	return o, nil
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (o options) has(section string) bool { return slices.Contains(o.sections, section) }

// kafka is the fleetstream Kafka configuration of every goka processor, view and worker the
// bench runs: the defaults of `fleetstream run` with the bench's compression and acks.
func (o options) kafka(addr string) topology.Kafka {
	k := topology.DefaultKafka()
	k.Brokers = []string{addr}
	k.ClientID = "fleetstream-bench"
	k.Compression = o.compression
	k.Acks = o.acks
	return k
}

func (o options) preloadProducer() producerSettings {
	return producerSettings{compression: o.compression, acks: o.acks, linger: 10 * time.Millisecond}
}

func (o options) loadProducer() producerSettings {
	return producerSettings{compression: o.compression, acks: o.acks, linger: 5 * time.Millisecond}
}

func (o options) dtcProducer() producerSettings {
	return producerSettings{compression: o.compression, acks: o.acks, linger: 0}
}

func (o options) tableProducer() producerSettings {
	return producerSettings{compression: o.compression, acks: o.acks, linger: 10 * time.Millisecond}
}

// report prints sections and collects the summary.
type report struct {
	w       io.Writer
	keys    []string
	summary map[string]string
	// figures the targets are checked against
	figures map[string]float64
}

func (r *report) figure(name string, v float64) {
	if r.figures == nil {
		r.figures = map[string]float64{}
	}
	r.figures[name] = v
}

// targets adds a line per target of the issue whose figure was measured.
func (r *report) targets() {
	check := func(key, what string, ok func(float64) bool, format string) {
		v, measured := r.figures[key]
		if !measured {
			return
		}
		verdict := "met"
		if !ok(v) {
			verdict = "NOT met"
		}
		r.set("target_"+key, "%s — %s, measured "+format, verdict, what, v)
	}
	check("topology_vs_baseline", ">= 0.6 x baseline", func(v float64) bool { return v >= 0.6 }, "%.2f")
	check("topology_events_per_second", ">= 50000 events/s", func(v float64) bool { return v >= 50000 }, "%.0f")
	check("dtc_to_command_p99_ms", "<= 150 ms", func(v float64) bool { return v <= 150 }, "%.1f ms")
	check("timestream_units_vs_naive", "<= 1/10 of naive", func(v float64) bool { return v <= 0.1 }, "%.4f")
	check("recovery_seconds", "1M keys <= 30 s", func(v float64) bool { return v <= 30 }, "%.2f s")
}

func (r *report) printf(format string, args ...any) { fmt.Fprintf(r.w, format, args...) }

func (r *report) section(title string) {
	r.printf("\n== %s (load average %s)\n", title, loadAverage())
}

func (r *report) set(key, format string, args ...any) {
	if r.summary == nil {
		r.summary = map[string]string{}
	}
	if _, ok := r.summary[key]; !ok {
		r.keys = append(r.keys, key)
	}
	r.summary[key] = fmt.Sprintf(format, args...)
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	switch o.role {
	case "broker":
		err = runBroker(o.partitions)
	case "recover":
		err = runRecover(o)
	case "":
		err = run(o, os.Stdout)
	default:
		err = fmt.Errorf("-role %q is unknown", o.role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options, stdout io.Writer) error {
	ctx := context.Background()
	if o.workDir == "" {
		dir, err := os.MkdirTemp("", "fleetstream-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.workDir = dir
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	rep := &report{w: stdout}
	began := time.Now()
	rep.printf("fleetstream bench — %s\n", began.UTC().Format(time.RFC3339))
	rep.printf("machine: %d CPUs (nproc), %s, %s, GOMAXPROCS %d, load average %s\n",
		runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOMAXPROCS(0), loadAverage())
	rep.printf("broker: embedded kfake (internal/devstack.StartKafka) in a child process of the bench, over TCP on 127.0.0.1; %d partitions per topic\n", o.partitions)
	rep.set("machine", "%d CPUs, %s, %s", runtime.NumCPU(), cpuModel(), runtime.Version())
	rep.set("load_average_start", "%s", loadAverage())

	var data *fleetData
	if o.has("throughput") || o.has("latency") {
		t0 := time.Now()
		var err error
		data, err = generateFleet(o.seed, o.vins, o.messages, time.Now().Add(-time.Hour).Truncate(time.Second))
		if err != nil {
			return fmt.Errorf("simulate fleet: %w", err)
		}
		rep.printf("data: %d telemetry messages (%.0f MiB, v2 format, one signal each) from %d simulated vehicles (sources/simulator, 2 s ticks), generated in %s;\n"+
			"      processing them emits %d measurements, %d anomalies and %d table writes\n",
			len(data.records), mib(data.bytes), len(data.vins), time.Since(t0).Round(time.Millisecond),
			data.expect.measurements, data.expect.anomalies, data.expect.tableWrites)
	}

	if o.has("codec") {
		if err := sectionCodec(o, rep); err != nil {
			return fmt.Errorf("codec: %w", err)
		}
	}
	if o.has("cost") {
		if err := sectionCost(o, rep); err != nil {
			return fmt.Errorf("cost: %w", err)
		}
	}
	if o.has("throughput") {
		if err := sectionThroughput(ctx, o, data, rep); err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
	}
	if o.has("latency") {
		if err := sectionLatency(ctx, o, data, rep); err != nil {
			return fmt.Errorf("latency: %w", err)
		}
	}
	if o.has("recovery") {
		if err := sectionRecovery(ctx, o, rep); err != nil {
			return fmt.Errorf("recovery: %w", err)
		}
	}
	rep.targets()
	rep.set("load_average_end", "%s", loadAverage())
	rep.set("bench_seconds", "%.0f", time.Since(began).Seconds())

	rep.printf("\n== summary\n")
	for _, k := range rep.keys {
		rep.printf("%s: %s\n", k, rep.summary[k])
	}
	return nil
}

func sectionCodec(o options, rep *report) error {
	rep.section("codecs: ns and allocations per message, testing.Benchmark, vs encoding/json into plain structs")
	data, err := generateFleet(o.seed+3, 1, signalsPerTick*8, time.Now().Truncate(time.Second))
	if err != nil {
		return err
	}
	var state *codecs.VehicleState
	for _, r := range data.records {
		sigs, err := codecs.DecodeTelemetry(r.value)
		if err != nil {
			return err
		}
		state = applyOne(state, sigs)
	}
	results, err := runCodecs(o.payloads, state)
	if err != nil {
		return err
	}
	rep.printf("  %-38s %6s %10s %8s %12s %8s %7s\n", "", "bytes", "ns/op", "allocs", "json ns/op", "allocs", "ratio")
	for _, r := range results {
		rep.printf("  %-38s %6d %10.0f %8d %12.0f %8d %6.2fx\n", r.name, r.bytes, r.ns, r.allocs, r.stdNs, r.stdAllc, r.ns/r.stdNs)
		key := strings.NewReplacer(" ", "_", ".json", "", "-", "_").Replace(strings.ToLower(r.name))
		rep.set("codec_"+key+"_ns", "%.0f (encoding/json %.0f)", r.ns, r.stdNs)
	}
	rep.printf("  (the VehicleState is a simulated vehicle's after 8 ticks: every v2 signal and rolling statistics)\n")
	return nil
}

func sectionCost(o options, rep *report) error {
	rep.section("Timestream write cost of a simulated fleet hour")
	t0 := time.Now()
	r, err := runCost(o.seed, o.costFleet, o.costSample, o.costWindow, time.Now().Add(-o.costWindow-time.Minute).Truncate(time.Second))
	if err != nil {
		return err
	}
	c := r.cost
	rep.printf("  sampled %d of %d vehicles of the default simulator (v2, 2 s ticks, 20-minute trips) for %s of simulated time, scaled by %.0f (%s)\n",
		r.sample, r.fleet, r.window, r.scale, time.Since(t0).Round(time.Millisecond))
	rep.printf("  telemetry messages: %d sampled → %d for the fleet; measurements %d → %d\n",
		r.messages, r.scaled(r.messages), c.Measurements, r.scaled(int64(c.Measurements)))
	rep.printf("  fleetstream (sinks/timestream, EstimateCost, default config: 1 s buckets, multi-measure, 100 records per call):\n")
	rep.printf("    WriteRecords calls %d, records %d, measures per record %.1f, bytes %.1f MiB, billed write units %d\n",
		r.scaled(int64(c.Requests)), r.scaled(int64(c.Records)), c.MeasuresPerRecord, mib(r.scaled(c.Bytes)), r.scaled(c.WriteUnits))
	rep.printf("  naive, one single-measure record per measure value (a telemetry message; a location is two):\n")
	rep.printf("    one WriteRecords call per record (as an IoT rule action writes): calls %d, billed write units %d\n",
		r.scaled(int64(c.Naive.Requests)), r.scaled(c.Naive.WriteUnits))
	rep.printf("    batched 100 records per call:                                      calls %d, billed write units %d\n",
		r.scaled(int64(c.Naive.BatchedRequests)), r.scaled(c.Naive.BatchedWriteUnits))
	vsNaive := float64(c.WriteUnits) / float64(c.Naive.WriteUnits)
	vsBatched := float64(c.WriteUnits) / float64(c.Naive.BatchedWriteUnits)
	rep.printf("  write units: %.4f of naive (1/%.0f), %.3f of naive batched (1/%.1f)\n", vsNaive, 1/vsNaive, vsBatched, 1/vsBatched)
	rep.set("timestream_write_units_per_fleet_hour", "%d", int64(float64(r.scaled(c.WriteUnits))*float64(time.Hour)/float64(r.window)))
	rep.set("timestream_write_records_calls_per_fleet_hour", "%d", int64(float64(r.scaled(int64(c.Requests)))*float64(time.Hour)/float64(r.window)))
	rep.set("timestream_measures_per_record", "%.1f", c.MeasuresPerRecord)
	rep.figure("timestream_units_vs_naive", vsNaive)
	rep.set("timestream_write_units_vs_naive", "%.4f (1/%.0f; naive = one WriteRecords per telemetry record)", vsNaive, 1/vsNaive)
	rep.set("timestream_write_units_vs_naive_batched", "%.3f (1/%.1f; naive records batched 100 per call)", vsBatched, 1/vsBatched)
	return nil
}

func sectionThroughput(ctx context.Context, o options, data *fleetData, rep *report) error {
	rep.section("throughput: vehicle-state vs a plain sarama consumer group + async producer")
	b, err := startBroker(o.partitions)
	if err != nil {
		return err
	}
	defer b.close()
	a, err := newAdmin(b.addr)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.create(ctx, int32(o.partitions), topicSpec{name: topology.DefaultTopics().Telemetry}); err != nil {
		return err
	}
	took, err := preload(ctx, b.addr, int32(o.partitions), o.preloadProducer(), topology.DefaultTopics().Telemetry, data.records)
	if err != nil {
		return err
	}
	rep.printf("  preloaded %d records into telemetry in %s with %s (each record's partition checked against topology's murmur2)\n",
		len(data.records), took.Round(time.Millisecond), o.preloadProducer())
	env := &throughputEnv{opts: o, broker: b, admin: a, kafka: o.kafka(b.addr), data: data, dir: o.workDir}
	s, err := env.settings()
	if err != nil {
		return err
	}
	rep.printf("  client settings of both (topology.Kafka.Sarama(); the baseline sets each explicitly):\n    %s\n", s)
	rep.printf("  events/s: input messages over the time from the consumer being ready (goka WaitForReady, sarama Setup)\n" +
		"  until every output record (timeseries, anomalies, table/changelog) is in the broker; CPU from getrusage of this\n" +
		"  process (the broker's from /proc of its own process)\n")
	rep.printf("  peak RSS is the bench process's (the worker's, plus the bench's own copy of the input); load is /proc/loadavg\n")
	results := map[string][]runResult{}
	for round := 0; round < o.rounds; round++ {
		runs := slices.Clone(o.runs)
		k := round % len(runs)
		runs = append(runs[k:], runs[:k]...) // each run goes first in some round
		for _, name := range runs {
			var r runResult
			if name == "baseline" {
				r, err = env.runBaseline(ctx)
			} else {
				r, err = env.runTopology(ctx, name)
			}
			if err != nil {
				return err
			}
			rep.printf("  %-22s %8.0f events/s  %6.2f s  worker CPU %5.1f s (%5.2f s per M events)  broker CPU %5.2f s per M  peak RSS %4.0f MiB  load %s\n",
				r.name, r.eventsPerSecond(), r.elapsed.Seconds(), r.cpu.Seconds(), r.cpuPerMillion(), r.brokerCPUPerMillion(), mib(r.peakRSS), loadAverage())
			results[name] = append(results[name], r)
		}
	}
	type summary struct {
		rate, best, cpu, brokerCPU float64
	}
	summarize := func(name string) (summary, bool) {
		rs := results[name]
		if len(rs) == 0 {
			return summary{}, false
		}
		med := func(f func(runResult) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = f(r)
			}
			slices.Sort(v)
			if len(v)%2 == 0 {
				return (v[len(v)/2-1] + v[len(v)/2]) / 2
			}
			return v[len(v)/2]
		}
		sum := summary{rate: med(runResult.eventsPerSecond), cpu: med(runResult.cpuPerMillion), brokerCPU: med(runResult.brokerCPUPerMillion)}
		for _, r := range rs {
			sum.best = max(sum.best, r.eventsPerSecond())
		}
		return sum, true
	}
	rounds := fmt.Sprintf("median of %d", o.rounds)
	base, hasBase := summarize("baseline")
	if hasBase {
		rep.set("baseline_events_per_second", "%.0f (%s; best %.0f)", base.rate, rounds, base.best)
		rep.set("baseline_cpu_seconds_per_million_events", "%.2f", base.cpu)
	}
	headline := "leveldb"
	if !slices.Contains(o.runs, headline) {
		headline = "memory"
	}
	for _, storage := range []string{"leveldb", "memory"} {
		r, ok := summarize(storage)
		if !ok {
			continue
		}
		topo, cpu := "topology_", "cpu_"
		if storage != headline {
			topo, cpu = "topology_"+storage+"_", "cpu_"+storage+"_"
		}
		rep.set(topo+"events_per_second", "%.0f (vehicle-state, %s tables; %s; best %.0f)", r.rate, storage, rounds, r.best)
		if storage == headline {
			rep.figure("topology_events_per_second", r.rate)
			if hasBase {
				rep.figure("topology_vs_baseline", r.rate/base.rate)
			}
		}
		if hasBase {
			rep.set(topo+"vs_baseline_throughput", "%.2f (%s tables; CPU per event: baseline/vehicle-state %.2f)", r.rate/base.rate, storage, base.cpu/r.cpu)
		}
		rep.set(cpu+"seconds_per_million_events", "%.2f (vehicle-state worker process, %s tables; the broker process used %.2f more)", r.cpu, storage, r.brokerCPU)
	}
	return nil
}

func sectionLatency(ctx context.Context, o options, data *fleetData, rep *report) error {
	rep.section("latency: DTC produced → command on MQTT $aws/things/+/shadow/update")
	r, err := runLatency(ctx, o, data, rep)
	if err != nil {
		return err
	}
	rep.printf("  %d stop-worthy DTCs (%s, one per VIN, each on a new trip) at %.0f/s; %d commands received\n", r.sent, r.stopCode, o.latencyDTCRate, r.received)
	rep.printf("  telemetry load meanwhile: %.0f messages/s; vehicle-state lag at the end %d records; command sink MQTT rate limit %.0f/s\n", r.loadRate, r.loadLag, r.mqttRate)
	rep.printf("  latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n", ms(r.p50), ms(r.p90), ms(r.p99), ms(r.max))
	rep.set("dtc_to_command_p50_ms", "%.1f", ms(r.p50))
	rep.set("dtc_to_command_p99_ms", "%.1f", ms(r.p99))
	if r.received == r.sent {
		rep.figure("dtc_to_command_p99_ms", ms(r.p99))
	}
	rep.set("dtc_commands_received", "%d of %d (telemetry load %.0f msg/s)", r.received, r.sent, r.loadRate)
	return nil
}

func sectionRecovery(ctx context.Context, o options, rep *report) error {
	rep.section(fmt.Sprintf("recovery: a fresh worker's view of vehicle-state-table with %d VINs", o.recoveryKeys))
	results, err := runRecovery(ctx, o, rep)
	if err != nil {
		return err
	}
	for i, r := range results {
		key := "table_recovery_seconds_1m_keys"
		rss := "peak_rss_mb"
		if i > 0 {
			key = "table_recovery_" + r.Storage + "_seconds_1m_keys"
			rss = "peak_rss_" + r.Storage + "_mb"
		}
		rep.set(key, "%.2f (%s, %d keys)", r.Seconds, r.Storage, o.recoveryKeys)
		if i == 0 && o.recoveryKeys >= 1_000_000 {
			rep.figure("recovery_seconds", r.Seconds)
		}
		rep.set(rss, "%.0f (recovery process VmHWM, %s)", mib(r.PeakRSS), r.Storage)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
