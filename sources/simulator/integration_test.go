package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sources/internal/brokertest"
	"github.com/fleetstream/fleetstream/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// syncBuffer is a log sink safe for the simulator's goroutines.
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

// watcher is an MQTT client that records what it sees.
type watcher struct {
	mu   sync.Mutex
	msgs []watched
}

type watched struct {
	topic   string
	payload []byte
}

func watch(t *testing.T, url string, filters ...string) *watcher {
	t.Helper()
	w := &watcher{}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("watcher-" + t.Name()).SetOrderMatters(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("watcher connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	for _, f := range filters {
		tok := c.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
			w.mu.Lock()
			w.msgs = append(w.msgs, watched{m.Topic(), append([]byte(nil), m.Payload()...)})
			w.mu.Unlock()
		})
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("watcher subscribe %s: %v", f, tok.Error())
		}
	}
	return w
}

func (w *watcher) snapshot() []watched {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]watched(nil), w.msgs...)
}

func (w *watcher) count(topic string) int {
	n := 0
	for _, m := range w.snapshot() {
		if m.topic == topic {
			n++
		}
	}
	return n
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMQTTFleetObeysStop runs a fleet over a real MQTT broker and stops one vehicle through
// its AWS IoT shadow topic.
func TestMQTTFleetObeysStop(t *testing.T) {
	t.Run("mochi", func(t *testing.T) { testFleetObeysStop(t, brokertest.StartMochi(t).URL) })
	t.Run("mosquitto", func(t *testing.T) { testFleetObeysStop(t, brokertest.StartMosquitto(t)) })
}

func testFleetObeysStop(t *testing.T, url string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	w := watch(t, url, "connectedcar/#", "$aws/things/+/shadow/update")

	pub, err := DialMQTT(ctx, MQTTConfig{Broker: url, ClientID: "sim-" + t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var logs syncBuffer
	sim, err := New(Config{Vehicles: 3, Seed: 8, Interval: 20 * time.Millisecond, AggregateEvery: 200 * time.Millisecond,
		TripLength: time.Hour, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}, pub)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- sim.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	vins := sim.VINs()
	waitFor(t, "telemetry of every vehicle", 10*time.Second, func() bool {
		for _, vin := range vins {
			if w.count("connectedcar/telemetry/"+vin) < 17*5 {
				return false
			}
		}
		return true
	})

	target := vins[0]
	shadow := "$aws/things/" + target + "/shadow/update"
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("commander-" + t.Name()))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	cmd := `{"state":{"desired":{"engine":"stop"}},"clientToken":"cmd-1"}`
	if tok := c.Publish(shadow, 1, false, cmd); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish command: %v", tok.Error())
	}

	var reportAt int
	waitFor(t, "the vehicle's shadow report", 15*time.Second, func() bool {
		for i, m := range w.snapshot() {
			if m.topic == shadow && strings.Contains(string(m.payload), `"reported"`) {
				reportAt = i
				return true
			}
		}
		return false
	})
	msgs := w.snapshot()
	if want := `{"state":{"reported":{"engine":"stopped","ignition_status":"off"}},"clientToken":"cmd-1"}`; string(msgs[reportAt].payload) != want {
		t.Errorf("report %s, want %s", msgs[reportAt].payload, want)
	}
	// MQTT orders messages per topic, not across topics, so the final aggregate (on the trip
	// topic) may reach the subscriber after the report (on the shadow topic).
	waitFor(t, "the final trip aggregate with end_time", 5*time.Second, func() bool {
		for _, m := range w.snapshot() {
			if m.topic == "connectedcar/trip/"+target {
				a, err := codecs.DecodeTrip(m.payload)
				if err != nil {
					t.Fatal(err)
				}
				if a.EndTime != nil {
					return true
				}
			}
		}
		return false
	})
	if !strings.Contains(logs.String(), "vehicle stopped by command") || !strings.Contains(logs.String(), target) {
		t.Errorf("no log of the stop naming %s:\n%s", target, logs.String())
	}

	// The stopped vehicle stays quiet; the others drive on.
	quiet, other := w.count("connectedcar/telemetry/"+target), w.count("connectedcar/telemetry/"+vins[1])
	time.Sleep(300 * time.Millisecond)
	if n := w.count("connectedcar/telemetry/" + target); n != quiet {
		t.Errorf("the stopped vehicle sent %d more telemetry messages", n-quiet)
	}
	if n := w.count("connectedcar/telemetry/" + vins[1]); n <= other {
		t.Error("the other vehicles stopped too")
	}
	if st := sim.Stats(); st.Failed != 0 {
		t.Errorf("%d publishes failed", st.Failed)
	}
}

// TestKafkaLoad produces straight to Kafka at a rate, keyed by VIN with murmur2, and reads
// everything back.
func TestKafkaLoad(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	topics := topology.DefaultTopics()
	const partitions = 4
	k := brokertest.StartKafka(t, partitions, topics.Telemetry, topics.Trips, topics.Diagnostics)
	pub, err := NewKafkaPublisher(topology.Kafka{Brokers: k.Brokers}, nil)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := New(Config{Vehicles: 6, Seed: 3, Rate: 3000, Interval: 20 * time.Millisecond, AggregateEvery: 100 * time.Millisecond,
		DTCEvery: 200 * time.Millisecond, TripLength: time.Hour, Topics: KafkaTopics(topics)}, pub)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithTimeout(ctx, 700*time.Millisecond)
	defer stop()
	if err := sim.Run(runCtx); err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	st := pub.Stats()
	if st.Acked == 0 || st.Acked != st.Queued || st.Acked != sim.Stats().Messages() {
		t.Fatalf("kafka stats %+v, simulator published %d", st, sim.Stats().Messages())
	}

	known := map[string]bool{}
	for _, vin := range sim.VINs() {
		known[vin] = true
	}
	cl := k.Consumer(t, topics.Telemetry, topics.Trips, topics.Diagnostics)
	recs := brokertest.Poll(ctx, t, cl, func(r []*kgo.Record) bool { return int64(len(r)) >= st.Acked })
	seen := map[string]int{}
	for _, r := range recs {
		key := string(r.Key)
		if !known[key] {
			t.Fatalf("record keyed %q, not a VIN of the fleet", key)
		}
		if want := topology.PartitionerMurmur2.Partition(r.Key, partitions); r.Partition != want {
			t.Errorf("%s keyed %s landed on partition %d, murmur2 says %d", r.Topic, key, r.Partition, want)
		}
		var vin string
		switch r.Topic {
		case topics.Telemetry:
			sigs, err := codecs.DecodeTelemetry(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			vin = sigs[0].VIN
		case topics.Trips:
			a, err := codecs.DecodeTrip(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			vin = a.VIN
		case topics.Diagnostics:
			d, err := codecs.DecodeDTC(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			vin = d.VIN
		}
		if vin != key {
			t.Errorf("record keyed %s carries vin %s", key, vin)
		}
		seen[r.Topic]++
	}
	if seen[topics.Telemetry] == 0 || seen[topics.Trips] == 0 || seen[topics.Diagnostics] == 0 {
		t.Errorf("records per topic: %v", seen)
	}
	var m map[string]any
	_ = json.Unmarshal(recs[0].Value, &m)
	t.Logf("acked %d records at %.0f/s; per topic %v", st.Acked, st.AckedRate(), seen)
}
