package devstack

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"
)

const mqttWait = 5 * time.Second

func startTestMQTT(t testing.TB) *MQTT {
	t.Helper()
	m, err := StartMQTT(t.Context(), MQTTConfig{Addr: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("StartMQTT: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// pahoClient connects an MQTT 3.1.1 client. Messages arriving for subscriptions kept in a
// persistent session (no handler of this connection) go to the messages channel too.
func pahoClient(t testing.TB, m *MQTT, id string, clean bool, messages chan<- paho.Message) paho.Client {
	t.Helper()
	opts := paho.NewClientOptions().
		AddBroker("tcp://" + m.Addr()).
		SetClientID(id).
		SetProtocolVersion(4).
		SetCleanSession(clean).
		SetAutoReconnect(false).
		SetConnectTimeout(mqttWait)
	if messages != nil {
		opts.SetDefaultPublishHandler(func(_ paho.Client, msg paho.Message) { messages <- msg })
	}
	c := paho.NewClient(opts)
	waitToken(t, "connect "+id, c.Connect())
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func waitToken(t testing.TB, what string, tok paho.Token) {
	t.Helper()
	if !tok.WaitTimeout(mqttWait) {
		t.Fatalf("%s: timed out", what)
	}
	if err := tok.Error(); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func subscribe(t testing.TB, c paho.Client, filter string, messages chan<- paho.Message) {
	t.Helper()
	waitToken(t, "subscribe "+filter, c.Subscribe(filter, 1, func(_ paho.Client, msg paho.Message) { messages <- msg }))
}

func receive(t testing.TB, messages <-chan paho.Message, topic, payload string) paho.Message {
	t.Helper()
	select {
	case msg := <-messages:
		if msg.Topic() != topic || string(msg.Payload()) != payload {
			t.Fatalf("received %s %q, want %s %q", msg.Topic(), msg.Payload(), topic, payload)
		}
		return msg
	case <-time.After(mqttWait):
		t.Fatalf("no message on %s within %s", topic, mqttWait)
		return nil
	}
}

func TestMQTTPublishSubscribeQoS1(t *testing.T) {
	t.Parallel()
	m := startTestMQTT(t)
	got := make(chan paho.Message, 10)
	sub := pahoClient(t, m, "bridge", true, nil)
	subscribe(t, sub, "vehicles/+/telemetry", got)

	pub := pahoClient(t, m, "VIN0001", true, nil)
	waitToken(t, "publish", pub.Publish("vehicles/VIN0001/telemetry", 1, false, `{"speed":42}`))
	msg := receive(t, got, "vehicles/VIN0001/telemetry", `{"speed":42}`)
	if msg.Qos() != 1 {
		t.Errorf("delivered at QoS %d, want 1", msg.Qos())
	}
}

// TestMQTTShadowTopic checks what the command sink needs: clients may publish to AWS IoT's
// $aws/things/{vin}/shadow/update (mochi only refuses client publishes to $SYS), and a
// subscriber receives it through a filter naming $aws. Filters starting with a wildcard do not
// match $ topics (MQTT-4.7.2-1), so a "#" subscriber does not see shadow updates.
func TestMQTTShadowTopic(t *testing.T) {
	t.Parallel()
	m := startTestMQTT(t)
	shadow := make(chan paho.Message, 10)
	everything := make(chan paho.Message, 10)
	vehicle := pahoClient(t, m, "VIN0002", true, nil)
	subscribe(t, vehicle, "$aws/things/+/shadow/update", shadow)
	// A client of its own: paho hands a message to every matching handler of the client, and its
	// own matching does let "#" match $aws/....
	monitor := pahoClient(t, m, "monitor", true, nil)
	subscribe(t, monitor, "#", everything)

	sink := pahoClient(t, m, "command-sink", true, nil)
	const topic = "$aws/things/VIN0002/shadow/update"
	const payload = `{"state":{"desired":{"engine":"stop"}},"clientToken":"cmd-1"}`
	waitToken(t, "publish", sink.Publish(topic, 1, false, payload))
	receive(t, shadow, topic, payload)

	waitToken(t, "publish", sink.Publish("vehicles/VIN0002/ping", 1, false, "ping"))
	receive(t, everything, "vehicles/VIN0002/ping", "ping") // "#" saw this one, and only this one
	select {
	case msg := <-everything:
		t.Fatalf(`"#" received %s; $ topics must not match a leading wildcard`, msg.Topic())
	default:
	}
}

func TestMQTTRetained(t *testing.T) {
	t.Parallel()
	m := startTestMQTT(t)
	pub := pahoClient(t, m, "VIN0003", true, nil)
	waitToken(t, "publish", pub.Publish("vehicles/VIN0003/status", 1, true, "online"))

	got := make(chan paho.Message, 10)
	late := pahoClient(t, m, "dashboard", true, nil)
	subscribe(t, late, "vehicles/+/status", got)
	if msg := receive(t, got, "vehicles/VIN0003/status", "online"); !msg.Retained() {
		t.Error("message delivered to a late subscriber is not flagged retained")
	}
}

// TestMQTTPersistentSession: a vehicle with a persistent session (clean session off) that is
// offline while a QoS 1 command is published receives it when it reconnects.
func TestMQTTPersistentSession(t *testing.T) {
	t.Parallel()
	m := startTestMQTT(t)
	const topic = "$aws/things/VIN0004/shadow/update"
	got := make(chan paho.Message, 10)
	vehicle := pahoClient(t, m, "VIN0004", false, got)
	subscribe(t, vehicle, topic, got)
	vehicle.Disconnect(100)

	sink := pahoClient(t, m, "command-sink", true, nil)
	waitToken(t, "publish", sink.Publish(topic, 1, false, "stop"))

	pahoClient(t, m, "VIN0004", false, got) // same client id, session resumed
	receive(t, got, topic, "stop")
}

// TestMQTT5 speaks MQTT 5 (which paho.mqtt.golang does not) with mochi's packet codec: a v5
// client subscribes, a v3.1.1 client publishes, and the v5 client publishes QoS 1 and gets a
// PUBACK.
func TestMQTT5(t *testing.T) {
	t.Parallel()
	m := startTestMQTT(t)
	c := dialMQTT5(t, m, "VIN0005")

	c.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1},
		PacketID:    1,
		Filters:     packets.Subscriptions{{Filter: "$aws/things/VIN0005/shadow/update", Qos: 1}},
	})
	if ack := c.read(); ack.FixedHeader.Type != packets.Suback || len(ack.ReasonCodes) != 1 || ack.ReasonCodes[0] != 1 {
		t.Fatalf("SUBACK = type %d reason codes %v, want one granting QoS 1", ack.FixedHeader.Type, ack.ReasonCodes)
	}

	sink := pahoClient(t, m, "command-sink", true, nil)
	waitToken(t, "publish", sink.Publish("$aws/things/VIN0005/shadow/update", 1, false, "stop"))
	pub := c.read()
	if pub.FixedHeader.Type != packets.Publish || pub.TopicName != "$aws/things/VIN0005/shadow/update" || string(pub.Payload) != "stop" {
		t.Fatalf("got packet type %d topic %q payload %q, want the shadow update", pub.FixedHeader.Type, pub.TopicName, pub.Payload)
	}
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pub.PacketID})

	c.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
		PacketID:    2,
		TopicName:   "vehicles/VIN0005/telemetry",
		Payload:     []byte(`{"speed":1}`),
	})
	if ack := c.read(); ack.FixedHeader.Type != packets.Puback || ack.PacketID != 2 || ack.ReasonCode != 0 {
		t.Fatalf("PUBACK = type %d id %d reason %#x, want success for id 2", ack.FixedHeader.Type, ack.PacketID, ack.ReasonCode)
	}
}

type mqtt5Conn struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

func dialMQTT5(t testing.TB, m *MQTT, id string) *mqtt5Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", m.Addr(), mqttWait)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &mqtt5Conn{t: t, conn: conn, r: bufio.NewReader(conn)}
	c.send(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connect},
		Connect:     packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: true, Keepalive: 30},
	})
	if ack := c.read(); ack.FixedHeader.Type != packets.Connack || ack.ReasonCode != 0 {
		t.Fatalf("CONNACK = type %d reason %#x, want success", ack.FixedHeader.Type, ack.ReasonCode)
	}
	return c
}

func (c *mqtt5Conn) send(pk packets.Packet) {
	c.t.Helper()
	pk.ProtocolVersion = 5
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	default:
		err = fmt.Errorf("test helper cannot encode packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		c.t.Fatalf("encode: %v", err)
	}
	c.conn.SetWriteDeadline(time.Now().Add(mqttWait))
	if _, err := c.conn.Write(buf.Bytes()); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *mqtt5Conn) read() packets.Packet {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(mqttWait))
	hb, err := c.r.ReadByte()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	pk := packets.Packet{ProtocolVersion: 5}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		c.t.Fatalf("fixed header: %v", err)
	}
	n, _, err := packets.DecodeLength(c.r)
	if err != nil {
		c.t.Fatalf("length: %v", err)
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	}
	if err != nil {
		c.t.Fatalf("decode packet type %d: %v", pk.FixedHeader.Type, err)
	}
	return pk
}

func TestMQTTDefaultsAndValidate(t *testing.T) {
	t.Parallel()
	if err := (MQTTConfig{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
	if err := (MQTTConfig{Addr: "1883"}).Validate(); err == nil || !strings.Contains(err.Error(), "Addr") {
		t.Errorf("Addr without host: err = %v, want one naming Addr", err)
	}
	m, err := StartMQTT(t.Context(), MQTTConfig{Addr: "0.0.0.0:0"})
	if err != nil {
		t.Fatalf("StartMQTT: %v", err)
	}
	defer m.Close()
	if !strings.HasPrefix(m.Addr(), "127.0.0.1:") || strings.HasSuffix(m.Addr(), ":0") {
		t.Errorf("Addr() = %q, want 127.0.0.1:<chosen port>", m.Addr())
	}
	m.Close()
	m.Close() // idempotent
}

func TestMQTTAddrInUse(t *testing.T) {
	t.Parallel()
	m := startTestMQTT(t)
	if _, err := StartMQTT(t.Context(), MQTTConfig{Addr: m.Addr()}); err == nil || !strings.Contains(err.Error(), m.Addr()) {
		t.Fatalf("second broker on %s: err = %v, want one naming the address", m.Addr(), err)
	}
}

// TestMQTTLogIsQuiet: at info level the broker logs where it listens and nothing else, not
// mochi's start-up lines and not a warning per client that disconnects.
func TestMQTTLogIsQuiet(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	m, err := StartMQTT(t.Context(), MQTTConfig{Addr: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatalf("StartMQTT: %v", err)
	}
	c := pahoClient(t, m, "VIN0006", true, nil)
	waitToken(t, "publish", c.Publish("vehicles/VIN0006/telemetry", 1, false, "x"))
	c.Disconnect(0)
	raw, err := net.Dial("tcp", m.Addr()) // a client that hangs up without DISCONNECT
	if err != nil {
		t.Fatal(err)
	}
	raw.Close()
	time.Sleep(50 * time.Millisecond)
	m.Close()

	out := buf.String()
	if !strings.Contains(out, "mqtt broker listening") {
		t.Errorf("log lacks the listening line:\n%s", out)
	}
	for _, unwanted := range []string{"level=WARN", "added hook", "attached listener", "level=DEBUG"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("log contains %q:\n%s", unwanted, out)
		}
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
