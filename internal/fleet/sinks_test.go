package fleet_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fleetstream/fleetstream/internal/awsfake"
	"github.com/fleetstream/fleetstream/internal/devstack"
	"github.com/fleetstream/fleetstream/internal/fleet"
	"github.com/fleetstream/fleetstream/sinks/influx/influxtest"
)

// startSinkWorker runs vehicle-state and the timeseries sink with the given sink config against
// a fresh embedded broker, and produces one speed reading for each of vins.
func startSinkWorker(t *testing.T, ctx context.Context, sc fleet.SinkConfig, vins []string) {
	t.Helper()
	kafka, err := devstack.StartKafka(ctx, devstack.KafkaConfig{Addr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := fleet.DefaultConfig()
	cfg.Kafka.Brokers = kafka.Brokers()
	cfg.Groups = []string{fleet.GroupTripState, fleet.GroupVehicleState, fleet.GroupTimeseriesSink}
	cfg.HTTPAddr = ""
	cfg.Sinks = sc
	cfg.Logger = testLogger(t)
	w, err := fleet.NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("worker: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("worker did not stop")
		}
		kafka.Close()
	})
	client, err := kgo.NewClient(kgo.SeedBrokers(kafka.Addr()), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	speed := fixture(t, "telemetry-vehicle-speed.json")
	var recs []*kgo.Record
	for i, vin := range vins {
		recs = append(recs, &kgo.Record{Topic: "telemetry", Key: []byte(vin), Value: with(speed, "vin", vin, "value", float64(50+i))})
	}
	if err := client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func sinkVINs(prefix string) []string {
	vins := make([]string, 12)
	for i := range vins {
		vins[i] = fmt.Sprintf("%s%012d", prefix, i)
	}
	return vins
}

// TestTimeseriesSinkToInflux wires the InfluxDB backend through the worker's flags-level
// config: measurements from vehicle-state reach an InfluxDB v2 write API, through two 503s.
func TestTimeseriesSinkToInflux(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv := influxtest.NewServer(t)
	srv.FailNext(2, 503, "0")
	sc := fleet.DefaultSinkConfig()
	sc.Influx.URL, sc.Influx.API, sc.Influx.Org, sc.Influx.Bucket, sc.Influx.Token = srv.URL, "v2", srv.Org, srv.Bucket, srv.Token
	vins := sinkVINs("INFLX")
	startSinkWorker(t, ctx, sc, vins)
	waitFor(t, ctx, "points for every VIN", func() bool {
		got := map[string]any{}
		for _, p := range srv.Points() {
			if v, ok := p.Fields["vehicle_speed"]; ok {
				got[p.Tags["vin"]] = v
			}
		}
		for i, vin := range vins {
			if got[vin] != float64(50+i) {
				return false
			}
		}
		return true
	})
}

// TestTimeseriesSinkToTimestream wires the Timestream backend: the real SDK, pointed by
// AWS_ENDPOINT_URL_TIMESTREAM_WRITE at a local endpoint speaking the Timestream Write protocol.
func TestTimeseriesSinkToTimestream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fake := awsfake.NewTimestream()
	defer fake.Close()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_TIMESTREAM_WRITE": fake.URL(),
		"AWS_REGION":                        "eu-west-1",
		"AWS_ACCESS_KEY_ID":                 "AKIDFLEETSTREAMTEST",
		"AWS_SECRET_ACCESS_KEY":             "test-secret",
		"AWS_CONFIG_FILE":                   "/nonexistent",
		"AWS_SHARED_CREDENTIALS_FILE":       "/nonexistent",
		"AWS_EC2_METADATA_DISABLED":         "true",
	} {
		t.Setenv(k, v)
	}
	fake.CreateTable("fleet", "telemetry", awsfake.TableOptions{MemoryStoreRetentionHours: 24 * 365 * 20})
	fake.CreateTable("fleet", "events", awsfake.TableOptions{MemoryStoreRetentionHours: 24 * 365 * 20})
	sc := fleet.DefaultSinkConfig()
	sc.Timestream.Database = "fleet"
	vins := sinkVINs("TSTRM")
	startSinkWorker(t, ctx, sc, vins)
	waitFor(t, ctx, "a multi-measure record per VIN", func() bool {
		got := map[string]bool{}
		for _, r := range fake.Records("fleet", "telemetry") {
			if _, ok := r.Measures["vehicle_speed"]; ok {
				got[r.Dimensions["vin"]] = true
			}
		}
		return len(got) == len(vins)
	})
}
