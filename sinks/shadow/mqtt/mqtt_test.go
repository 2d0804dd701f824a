package mqtt_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow/internal/brokertest"
	"github.com/fleetstream/fleetstream/sinks/shadow/mqtt"
	"github.com/fleetstream/fleetstream/sinks/shadow/target"
)

const shadowFilter = "$aws/things/+/shadow/update"

func command(vin, trip string) codecs.Command {
	return codecs.Command{
		ID:       codecs.CommandID(vin, trip, "P0300", codecs.CommandEngineStop),
		VIN:      vin,
		Action:   codecs.CommandEngineStop,
		Reason:   "dtc P0300",
		Code:     "P0300",
		TripID:   trip,
		IssuedAt: time.Now().UTC(),
	}
}

func record(t *testing.T, cmd codecs.Command) sinks.Record {
	t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return sinks.Record{Topic: "commands", Key: []byte(cmd.VIN), Value: b, Timestamp: cmd.IssuedAt}
}

func wantPayload(cmd codecs.Command) string {
	return `{"state":{"desired":{"engine":"stop"}},"clientToken":"` + cmd.ID + `"}`
}

func newBackend(t *testing.T, cfg mqtt.Config) *mqtt.Backend {
	t.Helper()
	r, err := target.New(target.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	b, err := mqtt.New(cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close(context.Background()) })
	return b
}

func config(broker string) mqtt.Config {
	cfg := mqtt.DefaultConfig()
	cfg.Brokers = []string{broker}
	cfg.ClientID = "command-sink-test-" + strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "")
	cfg.PublishTimeout = 2 * time.Second
	cfg.MaxReconnectInterval = 200 * time.Millisecond
	return cfg
}

// publishesInOrder writes three commands and checks an independent subscriber sees each once,
// in order, on its shadow topic with the default payload.
func publishesInOrder(t *testing.T, broker *brokertest.Broker) {
	sub := brokertest.Subscribe(t, broker.URL, shadowFilter, nil)
	b := newBackend(t, config(broker.URL))
	cmds := []codecs.Command{command("VIN00000000000001", "t1"), command("VIN00000000000002", "t1"), command("VIN00000000000001", "t2")}
	var batch []sinks.Record
	for _, c := range cmds {
		batch = append(batch, record(t, c))
	}
	if err := b.WriteBatch(context.Background(), batch); err != nil {
		t.Fatalf("WriteBatch: %v", err)
	}
	got := sub.WaitFor(t, 3, 5*time.Second)
	for i, c := range cmds {
		if want := "$aws/things/" + c.VIN + "/shadow/update"; got[i].Topic != want {
			t.Errorf("message %d topic %q, want %q", i, got[i].Topic, want)
		}
		if string(got[i].Payload) != wantPayload(c) {
			t.Errorf("message %d payload %s, want %s", i, got[i].Payload, wantPayload(c))
		}
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(sub.Messages()); n != 3 {
		t.Fatalf("subscriber got %d messages, want 3", n)
	}
}

func TestPublishToMochi(t *testing.T) {
	publishesInOrder(t, brokertest.StartMochi(t, nil))
}

func TestPublishToMosquitto(t *testing.T) {
	publishesInOrder(t, brokertest.StartMosquitto(t))
}

func TestTLSWithClientCertificate(t *testing.T) {
	certs := brokertest.NewCerts(t)
	broker := brokertest.StartMochi(t, certs.Server)
	if !strings.HasPrefix(broker.URL, "tls://") {
		t.Fatalf("broker URL %s", broker.URL)
	}
	sub := brokertest.Subscribe(t, broker.URL, shadowFilter, certs.Client)

	cfg := config(broker.URL)
	cfg.TLS = mqtt.TLS{CAFile: certs.CAFile, CertFile: certs.CertFile, KeyFile: certs.KeyFile}
	b := newBackend(t, cfg)
	cmd := command("VIN00000000000009", "t1")
	if err := b.WriteBatch(context.Background(), []sinks.Record{record(t, cmd)}); err != nil {
		t.Fatal(err)
	}
	got := sub.WaitFor(t, 1, 5*time.Second)
	if string(got[0].Payload) != wantPayload(cmd) {
		t.Fatalf("payload %s", got[0].Payload)
	}

	t.Run("without client certificate the broker refuses", func(t *testing.T) {
		r, _ := target.New(target.Config{})
		cfg := config(broker.URL)
		cfg.TLS = mqtt.TLS{CAFile: certs.CAFile}
		cfg.ConnectTimeout = 2 * time.Second
		b, err := mqtt.New(cfg, r)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close(context.Background())
		if err := b.Connect(context.Background()); err == nil {
			t.Fatal("Connect without a client certificate succeeded")
		}
	})
	t.Run("untrusted broker", func(t *testing.T) {
		r, _ := target.New(target.Config{})
		cfg := config(broker.URL)
		cfg.TLS = mqtt.TLS{CertFile: certs.CertFile, KeyFile: certs.KeyFile} // system roots
		cfg.ConnectTimeout = 2 * time.Second
		b, err := mqtt.New(cfg, r)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close(context.Background())
		if err := b.Connect(context.Background()); err == nil {
			t.Fatal("Connect to a broker signed by an unknown CA succeeded")
		}
	})
}

func TestBadRecordFailsAloneAndPermanently(t *testing.T) {
	broker := brokertest.StartMochi(t, nil)
	sub := brokertest.Subscribe(t, broker.URL, shadowFilter, nil)
	b := newBackend(t, config(broker.URL))
	good1, good2 := command("VIN00000000000001", "t1"), command("VIN00000000000002", "t1")
	bad := command("VIN/../other", "t1") // a VIN that would change the topic's levels
	unknown := command("VIN00000000000003", "t1")
	unknown.Action = "unlock_doors"
	batch := []sinks.Record{record(t, good1), {Value: []byte("{not json")}, record(t, bad), record(t, unknown), record(t, good2)}
	err := b.WriteBatch(context.Background(), batch)
	var be *sinks.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("WriteBatch = %v, want *sinks.BatchError", err)
	}
	if len(be.Failed) != 3 {
		t.Fatalf("failed %+v, want indexes 1, 2, 3", be.Failed)
	}
	wantReasons := []codecs.Reason{codecs.ReasonInvalidJSON, target.ReasonBadVIN, target.ReasonUnsupportedAction}
	for i, f := range be.Failed {
		if f.Index != i+1 || sinks.Retryable(f.Err) {
			t.Errorf("failure %d: index %d retryable %v (%v)", i, f.Index, sinks.Retryable(f.Err), f.Err)
		}
		var de *codecs.DecodeError
		if !errors.As(f.Err, &de) || de.Reason != wantReasons[i] {
			t.Errorf("failure %d: %v, want reason %s", i, f.Err, wantReasons[i])
		}
	}
	got := sub.WaitFor(t, 2, 5*time.Second)
	if string(got[0].Payload) != wantPayload(good1) || string(got[1].Payload) != wantPayload(good2) {
		t.Fatalf("got %v", got)
	}
}

// slowAck delays the PUBACK of the first publish it sees past the backend's PublishTimeout.
type slowAck struct {
	mochi.HookBase
	delay time.Duration
	seen  atomic.Int32
}

func (h *slowAck) ID() string { return "slow-ack" }
func (h *slowAck) Provides(b byte) bool {
	return b == mochi.OnPublish
}
func (h *slowAck) OnPublish(_ *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if h.seen.Add(1) == 1 {
		time.Sleep(h.delay)
	}
	return pk, nil
}

// A publish whose PUBACK is late fails with a retryable timeout; the retry waits for that same
// publish rather than sending a second copy.
func TestRetryAfterTimeoutDoesNotPublishTwice(t *testing.T) {
	hook := &slowAck{delay: 600 * time.Millisecond}
	broker := brokertest.StartMochi(t, nil, hook)
	sub := brokertest.Subscribe(t, broker.URL, shadowFilter, nil)
	cfg := config(broker.URL)
	cfg.PublishTimeout = 150 * time.Millisecond
	b := newBackend(t, cfg)
	cmd := command("VIN00000000000001", "t1")
	batch := []sinks.Record{record(t, cmd)}

	err := b.WriteBatch(context.Background(), batch)
	var be *sinks.BatchError
	if !errors.As(err, &be) || !errors.Is(be.Failed[0].Err, mqtt.ErrTimeout) || !sinks.Retryable(be.Failed[0].Err) {
		t.Fatalf("first WriteBatch = %v, want a retryable timeout", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		err = b.WriteBatch(context.Background(), batch)
		if err == nil {
			break
		}
		if time.Now().After(deadline) || !errors.Is(err.(*sinks.BatchError).Failed[0].Err, mqtt.ErrTimeout) {
			t.Fatalf("retry: %v", err)
		}
	}
	sub.WaitFor(t, 1, 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	if n := len(sub.Messages()); n != 1 {
		t.Fatalf("subscriber got %d copies, want 1", n)
	}
	if n := hook.seen.Load(); n != 1 {
		t.Fatalf("broker saw %d publishes, want 1", n)
	}
}

// When the broker goes away the backend fails retryably and reconnects by itself.
func TestReconnectsAfterBrokerRestart(t *testing.T) {
	broker := brokertest.StartMochi(t, nil)
	cfg := config(broker.URL)
	cfg.PublishTimeout = 300 * time.Millisecond
	b := newBackend(t, cfg)
	broker.Close()
	cmd := command("VIN00000000000001", "t1")
	batch := []sinks.Record{record(t, cmd), record(t, command("VIN00000000000002", "t1"))}
	deadline := time.Now().Add(5 * time.Second)
	var be *sinks.BatchError
	for {
		err := b.WriteBatch(context.Background(), batch)
		if errors.As(err, &be) && len(be.Failed) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WriteBatch with the broker down = %v, want both records failed", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, f := range be.Failed {
		if !sinks.Retryable(f.Err) {
			t.Fatalf("failure %v is not retryable", f.Err)
		}
	}

	restarted := brokertest.StartMochiAt(t, broker.Addr, nil)
	sub := brokertest.Subscribe(t, restarted.URL, shadowFilter, nil)
	deadline = time.Now().Add(10 * time.Second)
	for {
		err := b.WriteBatch(context.Background(), batch)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WriteBatch after the broker restarted: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := sub.WaitFor(t, 2, 5*time.Second)
	if string(got[0].Payload) != wantPayload(cmd) {
		t.Fatalf("first message %s", got[0].Payload)
	}
}

func TestWriteBatchHonoursContext(t *testing.T) {
	broker := brokertest.StartMochi(t, nil)
	b := newBackend(t, config(broker.URL))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := b.WriteBatch(ctx, []sinks.Record{record(t, command("VIN00000000000001", "t1"))})
	var be *sinks.BatchError
	if !errors.As(err, &be) || !errors.Is(be.Failed[0].Err, context.Canceled) {
		t.Fatalf("WriteBatch with a cancelled context = %v", err)
	}
}
