package fleet_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fleetstream/fleetstream/codecs"
)

// Helpers of the operations tests (scale-out, broker trouble, Prometheus).

// signalRecords returns, per VIN, a trip and readings telemetry records stamped one second
// apart from the reading with index from on: each reading is a newer vehicle_speed, so that
// VehicleState.Messages counts the readings applied, and counts each once however often it is
// redelivered (vehicle-state ignores readings not newer than the one it keeps).
func signalRecords(vins []string, from, readings int) []*kgo.Record {
	base := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	var recs []*kgo.Record
	for i := from; i < from+readings; i++ {
		at := base.Add(time.Duration(i) * time.Second).Format("2006-01-02 15:04:05.000000000")
		for _, vin := range vins {
			v, _ := json.Marshal(map[string]any{"vin": vin, "trip_id": "trip-" + vin, "name": "vehicle_speed", "value": 30 + float64(i%50), "timestamp": at})
			recs = append(recs, &kgo.Record{Topic: "telemetry", Key: []byte(vin), Value: v})
		}
	}
	return recs
}

// dtcRecords is a stop-worthy trouble code per VIN, which issues one command each.
func dtcRecords(vins []string, second int) []*kgo.Record {
	at := time.Date(2025, 6, 1, 8, 0, second, 0, time.UTC).Format("2006-01-02 15:04:05.000000000")
	var recs []*kgo.Record
	for _, vin := range vins {
		v, _ := json.Marshal(map[string]any{"vin": vin, "trip_id": "trip-" + vin, "name": "dtc", "value": "P0217", "timestamp": at})
		recs = append(recs, &kgo.Record{Topic: "diagnostics", Key: []byte(vin), Value: v})
	}
	return recs
}

func testVINs(prefix string, n int) []string {
	vins := make([]string, n)
	for i := range vins {
		vins[i] = fmt.Sprintf("%s%0*d", prefix, 17-len(prefix), i)
	}
	return vins
}

// directClient is a kgo client of the broker listening at addr that dials addr whatever the
// broker advertises: the tests' own producer and readers bypass the proxy a worker goes through.
func directClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	all := append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.Dialer(func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	})}, opts...)
	c, err := kgo.NewClient(all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// vehicleMessages reads vehicle-state-table to its end and returns VehicleState.Messages per
// VIN (the newest record of each).
func vehicleMessages(t *testing.T, ctx context.Context, addr string) map[string]int64 {
	t.Helper()
	c := directClient(t, addr, kgo.ConsumeTopics("vehicle-state-table"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer c.Close()
	out := map[string]int64{}
	for {
		pctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
		fs := c.PollFetches(pctx)
		cancel()
		if fs.NumRecords() == 0 {
			return out
		}
		fs.EachRecord(func(r *kgo.Record) {
			var vs codecs.VehicleState
			if err := json.Unmarshal(r.Value, &vs); err == nil {
				out[string(r.Key)] = vs.Messages
			}
		})
	}
}

// waitAllApplied waits until every VIN's state counts want readings.
func waitAllApplied(t *testing.T, ctx context.Context, addr string, vins []string, want int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got := vehicleMessages(t, ctx, addr)
		var behind []string
		for _, vin := range vins {
			if got[vin] != want {
				behind = append(behind, fmt.Sprintf("%s:%d", vin, got[vin]))
			}
		}
		if len(behind) == 0 {
			return
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("after %s, %d of %d vehicles have not applied %d readings: %v", within, len(behind), len(vins), want, behind)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// metrics scrapes a /metrics exposition and returns every sample by `name{labels}` as
// rendered (labels in exposition order).
func metrics(url string) map[string]float64 {
	out := map[string]float64{}
	resp, err := httpClient.Get(url)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[line[:i]] = v
	}
	return out
}

// sum adds the samples whose key starts with prefix (a metric name and the start of its
// labels).
func sum(m map[string]float64, prefix string) float64 {
	var s float64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			s += v
		}
	}
	return s
}
