package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors/rules"
	"github.com/fleetstream/fleetstream/processors/vehiclestate"
	"github.com/fleetstream/fleetstream/topology"
)

// recoveryResult is what the -role=recover child reports.
type recoveryResult struct {
	Storage    string  `json:"storage"`
	Seconds    float64 `json:"seconds"`
	CPUSeconds float64 `json:"cpu_seconds"`
	PeakRSS    int64   `json:"peak_rss_bytes"`
	DiskBytes  int64   `json:"disk_bytes"`
	Checked    int     `json:"checked"`
}

// tableValues returns n realistic vehicle-state table values: the states of templates fleet
// vehicles after a few ticks of simulated driving (every signal, rolling statistics), each
// written for its own made-up VIN of the same length.
func tableValues(seed int64, n, templates int) (func(i int) (string, []byte), int64, error) {
	data, err := generateFleet(seed+11, templates, templates*signalsPerTick*8, time.Now().Add(-time.Hour))
	if err != nil {
		return nil, 0, err
	}
	states := map[string]*codecs.VehicleState{}
	rs := rules.Default()
	for _, r := range data.records {
		sigs, err := codecs.DecodeTelemetry(r.value)
		if err != nil {
			return nil, 0, err
		}
		states[r.key] = vehiclestate.Apply(states[r.key], sigs, nil, rs).State
	}
	type template struct {
		vin  string
		json []byte
	}
	var ts []template
	var size int64
	for _, vin := range data.vins {
		b, err := codecs.JSON[codecs.VehicleState]{}.Encode(states[vin])
		if err != nil {
			return nil, 0, err
		}
		ts = append(ts, template{vin: vin, json: b})
		size += int64(len(b))
	}
	value := func(i int) (string, []byte) {
		t := ts[i%len(ts)]
		vin := fmt.Sprintf("%.*s%09d", len(t.vin)-9, "RECOVERYVINFLEET", i)
		return vin, bytes.ReplaceAll(t.json, []byte(t.vin), []byte(vin))
	}
	return value, size / int64(len(ts)), nil
}

// runRecover is the -role=recover child: a goka view of vehicle-state-table built by
// topology.Builder on fresh storage, timed from Run until Recovered, with this process's peak
// RSS (VmHWM). It prints its result as JSON.
func runRecover(o options) error {
	b := topology.Builder{Kafka: o.kafka(o.brokerAddr), Replication: 1}
	if o.recoverStorage == "leveldb" {
		b.StorageDir = o.recoverDir
	}
	v, err := b.View(vehiclestate.Table, codecs.JSON[codecs.VehicleState]{})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cpu0 := cpuTime()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- v.Run(ctx) }()
	deadline := time.After(o.runTimeout)
	for !v.Recovered() {
		select {
		case err := <-done:
			return fmt.Errorf("view stopped before it recovered: %w", err)
		case <-deadline:
			return fmt.Errorf("view not recovered after %s", o.runTimeout)
		case <-time.After(5 * time.Millisecond):
		}
	}
	res := recoveryResult{Storage: o.recoverStorage, Seconds: time.Since(start).Seconds(), CPUSeconds: (cpuTime() - cpu0).Seconds()}
	res.PeakRSS = memStatus(0, "VmHWM")
	// Spot-check that the table is there: every 1000th key decodes to its own VIN.
	for i := 0; i < o.recoveryKeys; i += 1000 {
		vin := fmt.Sprintf("%.*s%09d", 8, "RECOVERYVINFLEET", i)
		got, err := v.Get(vin)
		if err != nil {
			return err
		}
		s, ok := got.(*codecs.VehicleState)
		if !ok || s == nil || s.VIN != vin {
			return fmt.Errorf("recovered table lacks %s (got %T)", vin, got)
		}
		res.Checked++
	}
	cancel()
	<-done
	if b.StorageDir != "" {
		res.DiskBytes = dirSize(b.StorageDir)
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func dirSize(dir string) int64 {
	var n int64
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	for _, e := range entries {
		if e.IsDir() {
			n += dirSize(dir + "/" + e.Name())
			continue
		}
		if info, err := e.Info(); err == nil {
			n += info.Size()
		}
	}
	return n
}

// runRecovery preloads the table once and recovers it in a child process per storage.
func runRecovery(ctx context.Context, o options, out *report) ([]recoveryResult, error) {
	b, err := startBroker(o.partitions)
	if err != nil {
		return nil, err
	}
	defer b.close()
	a, err := newAdmin(b.addr)
	if err != nil {
		return nil, err
	}
	defer a.close()
	if err := a.create(ctx, int32(o.partitions), topicSpec{name: string(vehiclestate.Table), compacted: true}); err != nil {
		return nil, err
	}
	value, avg, err := tableValues(o.seed, o.recoveryKeys, 200)
	if err != nil {
		return nil, err
	}
	p, err := newProducer(b.addr, int32(o.partitions), o.tableProducer())
	if err != nil {
		return nil, err
	}
	start := time.Now()
	for i := 0; i < o.recoveryKeys; i++ {
		k, v := value(i)
		p.produce(ctx, string(vehiclestate.Table), k, v, nil)
	}
	err = p.flush(ctx)
	p.close()
	if err != nil {
		return nil, err
	}
	out.printf("  preloaded %d keys (%.0f bytes per JSON value on average, %.0f MiB) into %s in %s with %s; broker RSS %.0f MiB\n",
		o.recoveryKeys, float64(avg), mib(avg*int64(o.recoveryKeys)), vehiclestate.Table, time.Since(start).Round(time.Millisecond),
		o.tableProducer(), mib(b.rss()))

	var results []recoveryResult
	for _, storage := range o.recoveryStorages {
		dir, err := os.MkdirTemp(o.workDir, "recover-")
		if err != nil {
			return results, err
		}
		r, err := recoverInChild(o, b.addr, storage, dir)
		_ = os.RemoveAll(dir)
		if err != nil {
			return results, fmt.Errorf("recover with %s: %w", storage, err)
		}
		out.printf("  %-8s recovered %d keys in %.2f s (%.1f CPU s), peak RSS %.0f MiB, on disk %.0f MiB, %d keys spot-checked\n",
			storage, o.recoveryKeys, r.Seconds, r.CPUSeconds, mib(r.PeakRSS), mib(r.DiskBytes), r.Checked)
		results = append(results, r)
	}
	return results, nil
}

func recoverInChild(o options, addr, storage, dir string) (recoveryResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return recoveryResult{}, err
	}
	args := []string{"-role=recover", "-broker-addr=" + addr, "-recover-storage=" + storage, "-recover-dir=" + dir,
		fmt.Sprintf("-recovery-keys=%d", o.recoveryKeys), fmt.Sprintf("-partitions=%d", o.partitions),
		"-compression=" + o.compression, "-acks=" + o.acks, "-run-timeout=" + o.runTimeout.String()}
	cmd := exec.Command(exe, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	outb, err := cmd.Output()
	if err != nil {
		return recoveryResult{}, fmt.Errorf("recovery process: %w", err)
	}
	var r recoveryResult
	line := strings.TrimSpace(string(outb))
	if i := strings.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return r, errors.Join(fmt.Errorf("recovery process said %q", line), err)
	}
	return r, nil
}
