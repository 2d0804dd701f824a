package mqttbridge

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sources/internal/brokertest"
	"github.com/fleetstream/fleetstream/sources/simulator"
	"github.com/fleetstream/fleetstream/topology"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// countingPublisher counts what the broker accepted, per Kafka topic and VIN.
type countingPublisher struct {
	next simulator.Publisher
	mu   sync.Mutex
	sent map[[2]string]int // {kafka topic, VIN}
}

func (c *countingPublisher) Publish(ctx context.Context, topic, key string, payload []byte) error {
	if err := c.next.Publish(ctx, topic, key, payload); err != nil {
		return err
	}
	kafkaTopic := map[string]string{
		"connectedcar/telemetry/" + key: topics.Telemetry,
		"connectedcar/trip/" + key:      topics.Trips,
		"connectedcar/dtc/" + key:       topics.Diagnostics,
	}[topic]
	c.mu.Lock()
	c.sent[[2]string{kafkaTopic, key}]++
	c.mu.Unlock()
	return nil
}

// TestSimulatorThroughBridge runs the fleet simulator over MQTT into the bridge and reads Kafka:
// every message the broker accepted arrives, on its topic, keyed by VIN on the murmur2
// partition, and decodes with the codecs the processors use.
func TestSimulatorThroughBridge(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		k := brokertest.StartKafka(t, partitions, allTopics...)
		reg := prometheus.NewPedanticRegistry()
		cfg := bridgeConfig(url, k, "bridge-e2e")
		cfg.Filters = nil // the default, connectedcar/+/+
		cfg.Registerer = reg
		runBridge(t, cfg)

		mqttPub, err := simulator.DialMQTT(ctx, simulator.MQTTConfig{Broker: url, ClientID: "simulator-e2e"})
		if err != nil {
			t.Fatal(err)
		}
		defer mqttPub.Close()
		pub := &countingPublisher{next: mqttPub, sent: map[[2]string]int{}}
		sim, err := simulator.New(simulator.Config{Vehicles: 5, Seed: 21, Interval: 20 * time.Millisecond,
			AggregateEvery: 200 * time.Millisecond, DTCEvery: 300 * time.Millisecond, TripLength: time.Second}, pub)
		if err != nil {
			t.Fatal(err)
		}
		simCtx, stopSim := context.WithTimeout(ctx, 1500*time.Millisecond)
		defer stopSim()
		if err := sim.Run(simCtx); err != nil {
			t.Fatal(err)
		}
		total := 0
		for _, n := range pub.sent {
			total += n
		}

		got := map[[2]string]int{}
		recs := brokertest.Poll(ctx, t, k.Consumer(t, allTopics...), func(r []*kgo.Record) bool { return len(r) >= total })
		var ended int
		for _, r := range recs {
			vin := string(r.Key)
			got[[2]string{r.Topic, vin}]++
			if want := topology.PartitionerMurmur2.Partition(r.Key, partitions); r.Partition != want {
				t.Errorf("%s/%s on partition %d, murmur2 says %d", r.Topic, vin, r.Partition, want)
			}
			switch r.Topic {
			case topics.Telemetry:
				sigs, err := codecs.DecodeTelemetry(r.Value)
				if err != nil || sigs[0].VIN != vin {
					t.Fatalf("telemetry keyed %s: %v %s", vin, err, r.Value)
				}
			case topics.Trips:
				a, err := codecs.DecodeTrip(r.Value)
				if err != nil || a.VIN != vin {
					t.Fatalf("trip keyed %s: %v %s", vin, err, r.Value)
				}
				if a.EndTime != nil {
					ended++
				}
			case topics.Diagnostics:
				d, err := codecs.DecodeDTC(r.Value)
				if err != nil || d.VIN != vin {
					t.Fatalf("dtc keyed %s: %v %s", vin, err, r.Value)
				}
			default:
				t.Errorf("a simulator message became a dead letter: %s", r.Value)
			}
		}
		for k, n := range pub.sent {
			if got[k] < n {
				t.Errorf("%s/%s: %d in Kafka, the broker accepted %d", k[0], k[1], got[k], n)
			}
		}
		if ended == 0 {
			t.Error("no trip ended in 1.5s of one-second trips")
		}
		// At least what was read: a publish cut short by the simulator's end may still have
		// reached the broker, uncounted by the simulator, and Kafka after the read.
		waitMetricFunc(t, reg, "fleetstream_bridge_messages_total", map[string]string{"result": ResultProduced}, float64(len(recs)),
			func(got float64) bool { return got >= float64(len(recs)) })
		t.Logf("%d messages from %d vehicles through the bridge; %d trips ended", total, len(sim.VINs()), ended)
	})
}

// TestBrokerRedeliversUnacknowledged pins the broker behaviour the bridge relies on: a QoS 1
// subscriber in a persistent session that received messages without acknowledging them gets
// them again (DUP set) after an abrupt disconnect, followed by what was published while it was
// away. Both mochi (v2.7.9: inheritClientSession clones the old inflight queue,
// ResendInflightMessages resends it) and Mosquitto do.
//
// Mosquitto resends in the original order with DUP only on the messages it had sent before
// (MQTT 3.1.1, 4.6). mochi keeps what it queued for an offline session in the same inflight
// queue and resends all of it with DUP set, in no particular order: Inflight.GetAll sorts by
// uint16(Created), the creation time in whole seconds, with an unstable sort over a map. So
// after a bridge restart on mochi the redelivered records may reach Kafka out of order per VIN
// (consumers order by event time anyway); within a connection the order holds.
func TestBrokerRedeliversUnacknowledged(t *testing.T) {
	brokers(t, func(t *testing.T, url string) {
		strict := strings.HasSuffix(t.Name(), "/mosquitto")
		type got struct {
			payload string
			dup     bool
		}
		connect := func(cut *conns, into chan<- got) paho.Client {
			opts := paho.NewClientOptions().AddBroker(url).SetClientID("redelivery").SetCleanSession(false).
				SetAutoAckDisabled(true).SetOrderMatters(true).SetAutoReconnect(false).SetCustomOpenConnectionFn(cut.open).
				SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { into <- got{string(m.Payload()), m.Duplicate()} })
			c := paho.NewClient(opts)
			if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}
			if tok := c.Subscribe("redelivery/#", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
				t.Fatal(tok.Error())
			}
			return c
		}
		receive := func(ch <-chan got, n int) []got {
			var out []got
			for len(out) < n {
				select {
				case g := <-ch:
					out = append(out, g)
				case <-time.After(5 * time.Second):
					t.Fatalf("received %d of %d messages: %v", len(out), n, out)
				}
			}
			return out
		}
		pub := mqttClient(t, url, "redelivery-publisher")

		var cut1 conns
		first := make(chan got, 100)
		c1 := connect(&cut1, first)
		for i := 0; i < 5; i++ {
			publish(t, pub, "redelivery/a", []byte{'0' + byte(i)})
		}
		receive(first, 5) // received, never acknowledged
		cut1.cut()        // the subscriber dies without DISCONNECT
		c1.Disconnect(0)
		time.Sleep(50 * time.Millisecond) // let the broker notice
		for i := 5; i < 8; i++ {
			publish(t, pub, "redelivery/a", []byte{'0' + byte(i)})
		}

		var cut2 conns
		second := make(chan got, 100)
		c2 := connect(&cut2, second)
		defer c2.Disconnect(50)
		again := receive(second, 8)
		seen := map[string]bool{}
		for i, g := range again {
			seen[g.payload] = true
			wasSent := g.payload < "5"
			if wasSent && !g.dup {
				t.Errorf("redelivered message %s lacks the DUP flag", g.payload)
			}
			if strict && (g.payload != string(rune('0'+i)) || g.dup != wasSent) {
				t.Errorf("message %d after the resume: %+v; want payload %c, dup %v", i, g, '0'+i, i < 5)
			}
		}
		if len(seen) != 8 {
			t.Errorf("after the resume got %v, want the 5 unacknowledged and the 3 queued messages", again)
		}
		if !strict {
			t.Logf("resumed session delivered (payload, dup): %v", again)
		}
	})
}
