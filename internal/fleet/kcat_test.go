package fleet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/internal/devstack"
	"github.com/fleetstream/fleetstream/internal/fleet"
	"github.com/fleetstream/fleetstream/topology"
)

// TestKcatProducesWhereProcessorsLook produces with kcat (librdkafka, an independent client)
// using -X partitioner=murmur2_random, as the README tells users to, for VINs spread over every
// partition. Each VIN's state must then be found by the HTTP API, whose views look a key up in
// the partition fleetstream's murmur2 partitioner computes: a record kcat put elsewhere would
// be applied to another partition's state and break joins and recovery, so the test checks the
// partition of every record as well as the state behind the API.
func TestKcatProducesWhereProcessorsLook(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("SKIPPED LOUDLY: kcat not installed (apt-get install kcat); the interop test with an independent Kafka client did not run")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	kafka, err := devstack.StartKafka(ctx, devstack.KafkaConfig{Addr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer kafka.Close()
	cfg := fleet.DefaultConfig()
	cfg.Kafka.Brokers = kafka.Brokers()
	cfg.Groups = []string{fleet.GroupTripState, fleet.GroupVehicleState}
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Logger = testLogger(t)
	w, err := fleet.NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = w.Run(runCtx) }()
	waitFor(t, ctx, "topics", func() bool { return get("http://"+w.HTTPAddr()+"/healthz") == http.StatusOK })

	speed := fixture(t, "telemetry-speed.json")
	var lines bytes.Buffer
	vins := make([]string, 40)
	for i := range vins {
		vins[i] = fmt.Sprintf("KCAT%013d", i*7919)
		fmt.Fprintf(&lines, "%s\t%s\n", vins[i], with(speed, "vin", vins[i], "value", float64(i)))
	}
	// The worker creates the topics; wait until kcat can see telemetry.
	waitFor(t, ctx, "telemetry topic", func() bool {
		return exec.CommandContext(ctx, kcat, "-b", kafka.Addr(), "-L", "-t", "telemetry").Run() == nil
	})
	cmd := exec.CommandContext(ctx, kcat, "-b", kafka.Addr(), "-P", "-t", "telemetry", "-K", "\t", "-X", "partitioner=murmur2_random")
	cmd.Stdin = &lines
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, out)
	}
	// Every record sits where fleetstream's partitioner (and goka's joins and recovery) expect it.
	recs := consumeUntil(t, ctx, kafka.Addr(), "telemetry", len(vins))
	parts := map[int32]bool{}
	for _, r := range recs {
		want := topology.PartitionerMurmur2.Partition(r.Key, cfg.Provisioning.Partitions)
		if r.Partition != want {
			t.Errorf("kcat put %s in partition %d, fleetstream's murmur2 says %d", r.Key, r.Partition, want)
		}
		parts[r.Partition] = true
	}
	if len(parts) < 2 {
		t.Fatalf("the VINs landed in %d partition(s); the test needs several", len(parts))
	}
	base := "http://" + w.HTTPAddr()
	for i, vin := range vins {
		waitFor(t, ctx, "state of "+vin, func() bool {
			b, code := getBody(base + "/api/vehicles/" + vin)
			if code != http.StatusOK {
				return false
			}
			var v struct {
				Signals map[string]any `json:"signals"`
			}
			return json.Unmarshal(b, &v) == nil && v.Signals["vehicle_speed"] == float64(i)
		})
	}
}
