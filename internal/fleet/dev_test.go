package fleet_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/internal/fleet"
)

// TestDevClosesTheLoop runs `fleetstream dev` as a user would get it: simulated cars publish
// over the embedded MQTT broker, the bridge carries them into the embedded Kafka, the groups
// raise a stop-worthy DTC, the command sink publishes the STOP on the car's shadow topic, and
// the car stops — which the HTTP API then shows (ignition_status off). Time series land under
// the data dir, and Ctrl-C stops everything within the shutdown deadline.
func TestDevClosesTheLoop(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cfg := fleet.DevConfig{KafkaAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0"}
	cfg.Worker = fleet.DefaultConfig()
	cfg.Worker.DataDir = dir
	cfg.Worker.HTTPAddr = "127.0.0.1:0"
	cfg.Worker.Logger = testLogger(t)
	cfg.Fleet = fleet.FleetConfig{Vehicles: 4, Interval: 200 * time.Millisecond, DTCEvery: time.Second, DTCCodes: []string{"P0217"}, Seed: 7}
	pr, pw := io.Pipe()
	cfg.Stdout = pw
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- fleet.Dev(runCtx, cfg); pw.Close() }()

	base := ""
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "http" {
			base = f[1]
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if base == "" {
		t.Fatalf("dev printed no http address; Dev returned %v", <-done)
	}

	var stopped string
	waitFor(t, ctx, "a car stopped by a STOP command", func() bool {
		b, code := getBody(base + "/api/vehicles")
		if code != http.StatusOK {
			return false
		}
		var vins []string
		_ = json.Unmarshal(b, &vins)
		for _, vin := range vins {
			b, code := getBody(base + "/api/vehicles/" + vin)
			if code != http.StatusOK {
				continue
			}
			var v struct {
				Signals map[string]any `json:"signals"`
			}
			_ = json.Unmarshal(b, &v)
			if v.Signals["ignition_status"] == "off" {
				stopped = vin
				return true
			}
		}
		return false
	})
	t.Logf("vehicle %s stopped", stopped)

	waitFor(t, ctx, "time series under the data dir", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "timeseries", "timeseries", "*.jsonl"))
		for _, f := range files {
			if st, err := os.Stat(f); err == nil && st.Size() > 0 {
				return true
			}
		}
		return false
	})

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev stopped with %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("dev did not stop within 15 s of Ctrl-C")
	}
}
