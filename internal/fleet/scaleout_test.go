package fleet_test

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/internal/devstack"
	"github.com/fleetstream/fleetstream/internal/fleet"
	"github.com/fleetstream/fleetstream/topology"
)

// buildBinary builds cmd/fleetstream once per test binary.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "fleetstream-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "fleetstream")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/fleetstream/fleetstream/cmd/fleetstream").CombinedOutput()
	if err != nil {
		return "", &buildError{err: err, out: string(out)}
	}
	return bin, nil
})

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string {
	return "go build ./cmd/fleetstream: " + e.err.Error() + "\n" + e.out
}

// process is a `fleetstream run` worker started by a test.
type process struct {
	name   string
	cmd    *exec.Cmd
	http   string
	stderr *syncBuffer
	done   chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startWorkerProcess(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, http: freeAddr(t), stderr: &syncBuffer{}, done: make(chan error, 1)}
	args = append([]string{"run", "--http-addr", p.http, "--data-dir", t.TempDir(), "--log-level", "info"}, args...)
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", p.name, p.stderr.String())
		}
	})
	return p
}

func (p *process) base() string { return "http://" + p.http }

// processed is what the worker's vehicle-state processor handled.
func (p *process) processed() float64 {
	return sum(metrics(p.base()+"/metrics"), `fleetstream_messages_processed_total{group="vehicle-state"`)
}

// TestScaleOutAndKill runs two `fleetstream run` processes of the same groups against the
// embedded broker. They share the partitions; one is killed with SIGKILL in the middle of a
// stream, the other takes over, and every reading is applied (counted once, whatever was
// redelivered) and no vehicle gets a second command. SIGTERM then drains the survivor, which
// exits cleanly within --shutdown-timeout having committed everything.
func TestScaleOutAndKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs two processes")
	}
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	log := testLogger(t)
	kafka, err := devstack.StartKafka(ctx, devstack.KafkaConfig{Addr: "127.0.0.1:0", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer kafka.Close()

	groups := []string{"--brokers", kafka.Addr(), "--groups", "trip-state,vehicle-state,dtc-monitor",
		"--session-timeout", "6s", "--shutdown-timeout", "10s"}
	a := startWorkerProcess(t, "worker a", bin, groups...)
	waitFor(t, ctx, "worker a ready", func() bool { return get(a.base()+"/readyz") == http.StatusOK })
	b := startWorkerProcess(t, "worker b", bin, groups...)
	waitFor(t, ctx, "worker b ready", func() bool { return get(b.base()+"/readyz") == http.StatusOK })

	// A stream: one newer reading per vehicle every 100 ms, a stop-worthy DTC per vehicle
	// early and the same DTC again late (which must not issue a second command).
	const rounds = 80
	vins := testVINs("1SCALE", 24)
	producer := directClient(t, kafka.Addr())
	killed := make(chan struct{})
	produced := make(chan error, 1)
	go func() {
		for i := range rounds {
			recs := signalRecords(vins, i, 1)
			switch i {
			case 5:
				recs = append(recs, dtcRecords(vins, 30)...)
			case rounds - 5:
				recs = append(recs, dtcRecords(vins, 50)...)
			}
			if err := producer.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				produced <- err
				return
			}
			if i >= rounds/2 {
				<-killed // the second half streams while worker b takes over
			}
			time.Sleep(100 * time.Millisecond)
		}
		produced <- nil
	}()

	// Both workers hold partitions: both process readings. Then kill a mid-stream.
	waitFor(t, ctx, "both workers processing", func() bool { return a.processed() > 100 && b.processed() > 100 })
	t.Logf("before the kill: worker a processed %v readings, worker b %v", a.processed(), b.processed())
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.done
	killedAt := time.Now()
	close(killed)
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}

	waitAllApplied(t, ctx, kafka.Addr(), vins, rounds, 60*time.Second)
	t.Logf("every reading applied %s after the kill; worker b processed %v", time.Since(killedAt).Round(time.Second), b.processed())

	// Commands: one id per vehicle. Copies of the same id may appear (a redelivered DTC sends
	// its command again, and the command sink drops it as delivered); a second id may not.
	idsByVIN := map[string]map[string]int{}
	for _, r := range consumeUntil(t, ctx, kafka.Addr(), "commands", len(vins)) {
		var c codecs.Command
		mustJSON(t, r.Value, &c)
		if idsByVIN[c.VIN] == nil {
			idsByVIN[c.VIN] = map[string]int{}
		}
		idsByVIN[c.VIN][c.ID]++
	}
	copies := 0
	for _, vin := range vins {
		ids := idsByVIN[vin]
		if len(ids) != 1 {
			t.Errorf("%s: commands %v, want exactly one id", vin, ids)
		}
		for _, n := range ids {
			copies += n - 1
		}
	}
	t.Logf("commands: %d vehicles, one id each, %d redelivered copies", len(idsByVIN), copies)

	// SIGTERM drains and commits within --shutdown-timeout.
	termAt := time.Now()
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-b.done:
		if err != nil {
			t.Errorf("worker b exited with %v after SIGTERM, want status 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("worker b still running 15 s after SIGTERM (--shutdown-timeout 10s)")
	}
	t.Logf("worker b stopped %s after SIGTERM", time.Since(termAt).Round(100*time.Millisecond))
	if !strings.Contains(b.stderr.String(), "shutting down") {
		t.Errorf("worker b did not log its shutdown:\n%s", b.stderr.String())
	}
	admin, err := topology.ConnectAdmin(kafkaConfig(kafka.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	cfg := fleet.DefaultConfig()
	for _, g := range fleet.ProcessorGroups() {
		topics, err := fleet.InputTopics(cfg, g)
		if err != nil {
			t.Fatal(err)
		}
		lags, err := admin.Lag(g, topics)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range lags {
			if l.Lag != 0 {
				t.Errorf("%s: %s has %d uncommitted records after the drain", g, l.TopicPartition, l.Lag)
			}
		}
	}
}

func kafkaConfig(addr string) topology.Kafka {
	k := topology.DefaultKafka()
	k.Brokers = []string{addr}
	return k
}
