package fleet_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/internal/devstack"
	"github.com/fleetstream/fleetstream/internal/fleet"
)

// cutProxy forwards TCP connections to a target until cut: then it closes every connection
// and its listener, so new connections are refused, until restored on the same address.
type cutProxy struct {
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(func() {
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.pipe(c)
			}()
		}
	}()
}

func (p *cutProxy) pipe(client net.Conn) {
	upstream, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // cut while dialling
		p.mu.Unlock()
		client.Close()
		upstream.Close()
		return
	}
	p.conns[client], p.conns[upstream] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(upstream, client); done <- struct{}{} }()
	go func() { _, _ = io.Copy(client, upstream); done <- struct{}{} }()
	<-done
	client.Close()
	upstream.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, upstream)
	p.mu.Unlock()
}

// cut closes the listener and every connection.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// restore listens on the proxy's address again.
func (p *cutProxy) restore(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("proxy: listen on %s again: %v", p.addr, err)
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestBrokerCut puts a proxy between a worker and the embedded broker, cuts it for 20 s in the
// middle of a stream, restores it, and checks that the worker notices (readiness drops or its
// supervisors restart units), recovers by itself, and applies every reading exactly as if
// nothing had happened.
func TestBrokerCut(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	log := testLogger(t)
	kafkaAddr := freeAddr(t)
	proxy := startCutProxy(t, kafkaAddr)
	// The broker advertises the proxy: every client that bootstraps from it stays behind it.
	kafka, err := devstack.StartKafka(ctx, devstack.KafkaConfig{Addr: kafkaAddr, AdvertisedAddr: proxy.addr, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer kafka.Close()

	cfg := fleet.DefaultConfig()
	cfg.Kafka.Brokers = []string{proxy.addr}
	cfg.Kafka.SessionTimeout = 6 * time.Second
	cfg.Groups = fleet.ProcessorGroups()
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Logger = log
	w, err := fleet.NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- w.Run(runCtx) }()
	base := "http://" + w.HTTPAddr()
	waitFor(t, ctx, "ready", func() bool { return get(base+"/readyz") == http.StatusOK })

	vins := testVINs("1CUT", 16)
	producer := directClient(t, kafkaAddr)
	produce := func(from, n int) {
		t.Helper()
		if err := producer.ProduceSync(ctx, signalRecords(vins, from, n)...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	produce(0, 10)
	waitAllApplied(t, ctx, kafkaAddr, vins, 10, 30*time.Second)
	restartsBefore := sum(metrics(base+"/metrics"), "fleetstream_restarts_total")

	// Cut mid-stream: records keep arriving at the broker while the worker cannot reach it.
	proxy.cut()
	cutAt := time.Now()
	produce(10, 10)
	var notReady, restarted bool
	for time.Since(cutAt) < 20*time.Second {
		if code := get(base + "/readyz"); code != http.StatusOK {
			notReady = true
		}
		if sum(metrics(base+"/metrics"), "fleetstream_restarts_total") > restartsBefore {
			restarted = true
		}
		time.Sleep(250 * time.Millisecond)
	}
	produce(20, 10)
	proxy.restore(t)
	restoredAt := time.Now()
	t.Logf("cut for %s: /readyz went non-200: %v; units restarted: %v", restoredAt.Sub(cutAt).Round(time.Second), notReady, restarted)
	if !notReady && !restarted {
		t.Error("a 20 s broker outage went unnoticed: /readyz stayed 200 and no unit restarted")
	}

	waitAllApplied(t, ctx, kafkaAddr, vins, 30, 60*time.Second)
	waitFor(t, ctx, "ready again", func() bool { return get(base+"/readyz") == http.StatusOK })
	t.Logf("every reading applied and ready %s after the proxy came back", time.Since(restoredAt).Round(time.Second))
	m := metrics(base + "/metrics")
	t.Logf("restarts: %v", sum(m, "fleetstream_restarts_total"))
	if m[`fleetstream_unit_ready{unit="vehicle-state"}`] != 1 {
		t.Errorf("fleetstream_unit_ready{unit=\"vehicle-state\"} = %v after recovery", m[`fleetstream_unit_ready{unit="vehicle-state"}`])
	}

	stop()
	select {
	case err := <-runErr:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("worker: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("worker did not stop")
	}
}
