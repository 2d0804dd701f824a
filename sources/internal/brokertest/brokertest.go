// Package brokertest starts the real brokers the sources' integration tests run against: an
// embedded mochi MQTT broker, an embedded Kafka-protocol broker (kfake) over TCP, and a
// Mosquitto process when the binary is installed.
package brokertest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Mochi is an embedded mochi MQTT broker listening on loopback.
type Mochi struct {
	Server *mqtt.Server
	// URL is the broker URL for paho, tcp://127.0.0.1:<port>.
	URL string
}

// StartMochi starts mochi with every client allowed (auth.AllowHook) on a free loopback port.
// mochi accepts $aws/... topics from clients: it only refuses publishes to $SYS.
func StartMochi(t testing.TB) *Mochi {
	t.Helper()
	server := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatalf("mochi: allow hook: %v", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	if err := server.AddListener(tcp); err != nil {
		t.Fatalf("mochi: listen: %v", err)
	}
	if err := server.Serve(); err != nil {
		t.Fatalf("mochi: serve: %v", err)
	}
	t.Cleanup(func() { _ = server.Close() })
	return &Mochi{Server: server, URL: "tcp://" + tcp.Address()}
}

// StartMosquitto starts a Mosquitto broker on a free loopback port with anonymous access,
// persistence off and an unbounded per-client queue, and returns its URL. Without the binary
// the test is skipped, loudly.
func StartMosquitto(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		for _, p := range []string{"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto", "/opt/homebrew/sbin/mosquitto"} {
			if _, statErr := os.Stat(p); statErr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		t.Skip("!!! SKIPPED: mosquitto not installed: apt-get install mosquitto (CI installs it; this test is not optional there) !!!")
	}
	port := FreePort(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"+
		"max_queued_messages 0\nlog_dest stderr\nlog_type error\nlog_type warning\n", port)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stderr = &logWriter{t: t}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "tcp://" + addr
}

type logWriter struct{ t testing.TB }

func (w *logWriter) Write(p []byte) (int, error) {
	w.t.Logf("mosquitto: %s", p)
	return len(p), nil
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Kafka is an embedded single-broker Kafka over TCP with seeded topics.
type Kafka struct {
	Cluster *kfake.Cluster
	Brokers []string
}

// StartKafka starts one kfake broker with the given topics, each with partitions partitions.
func StartKafka(t testing.TB, partitions int32, topics ...string) *Kafka {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return &Kafka{Cluster: c, Brokers: c.ListenAddrs()}
}

// Consumer returns a kgo client reading topics from the start.
func (k *Kafka) Consumer(t testing.TB, topics ...string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatalf("kgo: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Poll reads records until done returns true for everything read so far or ctx ends; it
// returns what it read.
func Poll(ctx context.Context, t testing.TB, cl *kgo.Client, done func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	var recs []*kgo.Record
	for !done(recs) {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("polled %d records before %v", len(recs), ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		recs = append(recs, fs.Records()...)
	}
	return recs
}
