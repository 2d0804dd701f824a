package mqttbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sources/internal/brokertest"
	"github.com/fleetstream/fleetstream/topology"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const partitions = 4

var (
	topics    = topology.DefaultTopics()
	allTopics = []string{topics.Telemetry, topics.Trips, topics.Diagnostics, topics.DeadLetters}
)

// brokers runs test against each MQTT broker: the embedded mochi always, Mosquitto when it is
// installed (skipped loudly otherwise).
func brokers(t *testing.T, test func(t *testing.T, url string)) {
	t.Run("mochi", func(t *testing.T) { test(t, brokertest.StartMochi(t).URL) })
	t.Run("mosquitto", func(t *testing.T) { test(t, brokertest.StartMosquitto(t)) })
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() && os.Getenv("BRIDGE_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// runBridge starts a bridge and waits until it is ready; stop cancels it and waits for Run.
func runBridge(t *testing.T, cfg Config) (b *Bridge, stop func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for b.Ready() != nil {
		select {
		case err := <-done:
			t.Fatalf("bridge stopped before it was ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("bridge not ready: %v", b.Ready())
		}
		time.Sleep(5 * time.Millisecond)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("Run did not return 20s after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return b, stop
}

func bridgeConfig(url string, k *brokertest.Kafka, clientID string) Config {
	return Config{
		Broker:          url,
		ClientID:        clientID,
		Filters:         []string{"connectedcar/#"},
		Kafka:           topology.Kafka{Brokers: k.Brokers},
		ShutdownTimeout: 5 * time.Second,
	}
}

func mqttClient(t *testing.T, url, id string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID(id).SetOrderMatters(false))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

func publish(t *testing.T, c paho.Client, topic string, payload []byte) {
	t.Helper()
	if tok := c.Publish(topic, 1, false, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

func counter(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue metric
				}
			}
			return metricValue(m)
		}
	}
	return 0
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// TestBridgeRoutesKeysAndDeadLetters sends every kind of message through a real broker and the
// embedded Kafka: routed by topic, keyed by VIN on the murmur2 partition, acknowledged, and
// what cannot be bridged dead-lettered with its original bytes.
func TestBridgeRoutesKeysAndDeadLetters(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		k := brokertest.StartKafka(t, partitions, allTopics...)
		reg := prometheus.NewPedanticRegistry()
		cfg := bridgeConfig(url, k, "bridge-routes")
		cfg.MaxPayloadBytes = 1024
		cfg.Registerer = reg
		runBridge(t, cfg)

		c := mqttClient(t, url, "vehicles")
		type sent struct{ mqttTopic, kafkaTopic, key, reason string }
		var want []sent
		send := func(topic, kafkaTopic, key, reason string, payload []byte) {
			publish(t, c, topic, payload)
			want = append(want, sent{topic, kafkaTopic, key, reason})
		}
		vins := []string{"5JO226H6QR3J3T7TI", "MQYK4Z8WGTJDFDA05", "1NXBR32E84Z995078", "WDD2QF7SK5N7D0KR3", "AAAAAAAAAAAAAAAAA"}
		for i, vin := range vins {
			send("connectedcar/telemetry/"+vin, topics.Telemetry, vin, "", fmt.Appendf(nil, `{"vin":%q,"name":"vehicle_speed","value":%d}`, vin, i))
			send("connectedcar/trip/"+vin, topics.Trips, vin, "", fmt.Appendf(nil, `{"vin":%q,"name":"aggregated_telemetrics"}`, vin))
			send("connectedcar/dtc/"+vin, topics.Diagnostics, vin, "", fmt.Appendf(nil, `{"vin":%q,"name":"dtc","value":"P0420"}`, vin))
		}
		send("connectedcar/telemetry", topics.Telemetry, "FROMPAYLOAD", "", []byte(`{"vin":"FROMPAYLOAD","name":"speed","value":1}`))
		send("connectedcar/telemetry", topics.DeadLetters, "connectedcar/telemetry", string(codecs.ReasonMissingVIN), []byte(`{"name":"speed","value":1}`))
		send("connectedcar/weather/"+vins[0], topics.DeadLetters, "connectedcar/weather/"+vins[0], string(ReasonUnknownTopic), []byte(`{}`))
		send("connectedcar/telemetry", topics.DeadLetters, "connectedcar/telemetry", string(codecs.ReasonInvalidJSON), []byte(`{"vin":`))
		send("connectedcar/telemetry/"+vins[1], topics.DeadLetters, "connectedcar/telemetry/"+vins[1], string(codecs.ReasonTooLarge), bytes.Repeat([]byte("x"), 2000))

		cl := k.Consumer(t, allTopics...)
		recs := brokertest.Poll(ctx, t, cl, func(r []*kgo.Record) bool { return len(r) >= len(want) })
		if len(recs) != len(want) {
			t.Fatalf("got %d records, want %d", len(recs), len(want))
		}
		got := map[sent]int{}
		for _, r := range recs {
			s := sent{kafkaTopic: r.Topic, key: string(r.Key)}
			for _, h := range r.Headers {
				if h.Key == headerMQTTTopic {
					s.mqttTopic = string(h.Value)
				}
			}
			if r.Topic == topics.DeadLetters {
				var dl codecs.DeadLetter
				if err := json.Unmarshal(r.Value, &dl); err != nil {
					t.Fatalf("dead letter: %v", err)
				}
				s.reason = string(dl.Reason)
				if dl.Topic != s.mqttTopic || dl.Offset != -1 || dl.Stage != "mqttbridge" || len(dl.Value) == 0 || len(dl.Value) > 1024 {
					t.Errorf("dead letter %+v", dl)
				}
			} else if want := topology.PartitionerMurmur2.Partition(r.Key, partitions); r.Partition != want {
				t.Errorf("%s/%s on partition %d, murmur2 says %d", r.Topic, r.Key, r.Partition, want)
			}
			got[s]++
		}
		for _, w := range want {
			if got[w] == 0 {
				t.Errorf("missing %+v; got %v", w, got)
			}
			got[w]--
		}
		// Records can be visible in Kafka a moment before the bridge has read the acknowledgement.
		waitMetric(t, reg, "fleetstream_bridge_latency_seconds", nil, float64(len(want)))
		waitMetric(t, reg, "fleetstream_bridge_messages_total", map[string]string{"result": ResultProduced}, float64(len(want)-4))
		waitMetric(t, reg, "fleetstream_bridge_messages_total", map[string]string{"result": ResultDeadLettered}, 4)
		waitMetric(t, reg, "fleetstream_bridge_inflight_messages", nil, 0)
	})
}

// waitMetric waits until a metric reaches want, failing after a few seconds.
func waitMetric(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string, want float64) {
	t.Helper()
	waitMetricFunc(t, reg, name, labels, want, func(got float64) bool { return got == want })
}

func waitMetricFunc(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string, want float64, ok func(float64) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := counter(t, reg, name, labels)
		if ok(got) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s%v = %v, want %v", name, labels, got, want)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestBridgeRejectedByKafka: a route to a topic Kafka does not have ends as a kafka_rejected
// dead letter instead of stalling the bridge.
func TestBridgeRejectedByKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for sarama's retries")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := brokertest.StartMochi(t).URL
	k := brokertest.StartKafka(t, partitions, allTopics...)
	cfg := bridgeConfig(url, k, "bridge-rejected")
	cfg.Routes = []Route{{Filter: "connectedcar/telemetry/#", Topic: "no-such-topic"}, {Filter: "connectedcar/trip/#", Topic: topics.Trips}}
	runBridge(t, cfg)
	c := mqttClient(t, url, "vehicle")
	publish(t, c, "connectedcar/telemetry/VIN1", []byte(`{"n":1}`))
	publish(t, c, "connectedcar/trip/VIN1", []byte(`{"n":2}`))
	recs := brokertest.Poll(ctx, t, k.Consumer(t, allTopics...), func(r []*kgo.Record) bool { return len(r) >= 2 })
	var reasons []string
	for _, r := range recs {
		if r.Topic == topics.DeadLetters {
			var dl codecs.DeadLetter
			_ = json.Unmarshal(r.Value, &dl)
			reasons = append(reasons, string(dl.Reason)+":"+string(dl.Value))
		}
	}
	if len(reasons) != 1 || reasons[0] != string(ReasonRejected)+`:{"n":1}` {
		t.Errorf("dead letters %v, want one kafka_rejected with the original bytes", reasons)
	}
}

// TestBridgeBackpressure: with Kafka slow, the bridge holds at most MaxInFlight messages and
// still delivers everything.
func TestBridgeBackpressure(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	url := brokertest.StartMochi(t).URL
	k := brokertest.StartKafka(t, partitions, allTopics...)
	// A slow Kafka: every produce request waits, then is handled as usual (not handled here, so
	// the control function stays for the next one).
	k.Cluster.ControlKey(kmsg.Produce.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		time.Sleep(10 * time.Millisecond)
		return nil, nil, false
	})
	cfg := bridgeConfig(url, k, "bridge-slow")
	cfg.MaxInFlight = 8
	b, _ := runBridge(t, cfg)

	c := mqttClient(t, url, "fast-vehicle")
	const n = 150
	var toks []paho.Token
	for i := 0; i < n; i++ {
		toks = append(toks, c.Publish(fmt.Sprintf("connectedcar/telemetry/VIN%d", i%5), 1, false, fmt.Appendf(nil, `{"i":%d}`, i)))
	}
	for _, tok := range toks {
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	maxSeen := 0
	stopWatch := make(chan struct{})
	var watched sync.WaitGroup
	watched.Add(1)
	go func() {
		defer watched.Done()
		for {
			select {
			case <-stopWatch:
				return
			default:
			}
			if l := b.window.len(); l > maxSeen {
				maxSeen = l
			}
			time.Sleep(time.Millisecond)
		}
	}()
	recs := brokertest.Poll(ctx, t, k.Consumer(t, topics.Telemetry), func(r []*kgo.Record) bool { return len(r) >= n })
	close(stopWatch)
	watched.Wait()
	if len(recs) != n {
		t.Errorf("got %d records, want %d", len(recs), n)
	}
	if maxSeen > cfg.MaxInFlight || maxSeen == 0 {
		t.Errorf("up to %d messages in flight, MaxInFlight %d", maxSeen, cfg.MaxInFlight)
	}
	// Per VIN the records keep the MQTT order.
	last := map[string]int{}
	for _, r := range recs {
		var v struct{ I int }
		_ = json.Unmarshal(r.Value, &v)
		if prev, ok := last[string(r.Key)]; ok && v.I < prev {
			t.Fatalf("%s: record %d after %d", r.Key, v.I, prev)
		}
		last[string(r.Key)] = v.I
	}
}

// conns lets a test cut the bridge's connections abruptly, as a crash or a network failure
// would: no DISCONNECT, unacknowledged messages left with the broker.
type conns struct {
	mu  sync.Mutex
	all []net.Conn
}

func (cs *conns) open(uri *url.URL, _ paho.ClientOptions) (net.Conn, error) {
	c, err := net.Dial("tcp", uri.Host)
	if err == nil {
		cs.mu.Lock()
		cs.all = append(cs.all, c)
		cs.mu.Unlock()
	}
	return c, err
}

func (cs *conns) cut() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for _, c := range cs.all {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, as a dead process's socket
		}
		_ = c.Close()
	}
	cs.all = nil
}
