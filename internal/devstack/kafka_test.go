package devstack

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func newKgoClient(t testing.TB, k *Kafka, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	opts = append([]kgo.Opt{kgo.SeedBrokers(k.Addr()), kgo.FetchMaxWait(100 * time.Millisecond)}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produceKgo(ctx context.Context, t testing.TB, cl *kgo.Client, topic string, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		recs = append(recs, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "VIN%03d", i%7), Value: fmt.Appendf(nil, "rec-%d", i)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// consumeValues polls cl until it has n records or ctx ends, and returns their values.
func consumeValues(ctx context.Context, t testing.TB, cl *kgo.Client, n int) map[string]bool {
	t.Helper()
	got := make(map[string]bool)
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before %v", len(got), n, ctx.Err())
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if got[string(r.Value)] {
				t.Errorf("record %q consumed twice", r.Value)
			}
			got[string(r.Value)] = true
		})
	}
	return got
}

// TestKafkaRestartKeepsData is what `fleetstream dev --data-dir` relies on: topics, records and
// committed group offsets survive a clean Close and a new StartKafka on the same directory, even
// on another port.
func TestKafkaRestartKeepsData(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	dir := t.TempDir()
	const topic, group = "telemetry", "vehicle-state"

	// First run: create, produce 20, let a group consume and commit all of them.
	k1 := startTestKafka(t, KafkaConfig{DataDir: dir})
	cl := newKgoClient(t, k1)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, topic); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	produceKgo(ctx, t, cl, topic, 0, 20)
	grp := newKgoClient(t, k1, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
	if got := consumeValues(ctx, t, grp, 20); len(got) != 20 {
		t.Fatalf("first run consumed %d records, want 20", len(got))
	}
	if err := grp.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	grp.Close() // leaves the group
	cl.Close()
	k1.Close()

	// Second run on the same directory.
	k2 := startTestKafka(t, KafkaConfig{DataDir: dir})
	if k2.Addr() == k1.Addr() {
		t.Logf("both runs got port %s; the test still holds", k2.Addr())
	}
	cl = newKgoClient(t, k2)
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	if n := len(details[topic].Partitions); n != 3 {
		t.Fatalf("after restart %s has %d partitions, want 3", topic, n)
	}
	offsets, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	var committed int64
	offsets.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != 20 {
		t.Fatalf("after restart group %s has committed %d records in total, want 20 (%v)", group, committed, offsets)
	}

	// Every record from the first run is still there.
	all := newKgoClient(t, k2, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if got := consumeValues(ctx, t, all, 20); len(got) != 20 {
		t.Fatalf("after restart read %d records, want 20", len(got))
	}

	// The group resumes at its committed offsets: it sees only what was produced since.
	produceKgo(ctx, t, cl, topic, 20, 25)
	grp = newKgoClient(t, k2, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := consumeValues(ctx, t, grp, 5)
	for i := 20; i < 25; i++ {
		if !got[fmt.Sprintf("rec-%d", i)] {
			t.Errorf("resumed group missed rec-%d; got %v", i, got)
		}
	}
	// Nothing older is redelivered.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if fs := grp.PollFetches(short); fs.NumRecords() > 0 {
		t.Errorf("resumed group got %d records it had committed before the restart", fs.NumRecords())
	}
}

func TestKafkaInMemoryStartsEmpty(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	k := startTestKafka(t, KafkaConfig{})
	topics, err := kadm.NewClient(newKgoClient(t, k)).ListTopics(ctx)
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	if len(topics) != 0 {
		t.Fatalf("a new in-memory broker has topics %v", topics.Names())
	}
}

// TestKafkaWildcardAddr listens on every interface and checks the broker advertises an address
// clients can dial, not 0.0.0.0.
func TestKafkaWildcardAddr(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	k := startTestKafka(t, KafkaConfig{Addr: "0.0.0.0:0", AutoCreateTopics: true, DefaultPartitions: 2})
	if !strings.HasPrefix(k.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want 127.0.0.1:<port>", k.Addr())
	}
	cl := newKgoClient(t, k, kgo.AllowAutoTopicCreation())
	produceKgo(ctx, t, cl, "auto", 0, 3)
	topics, err := kadm.NewClient(cl).ListTopics(ctx, "auto")
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	if n := len(topics["auto"].Partitions); n != 2 {
		t.Fatalf("auto-created topic has %d partitions, want DefaultPartitions 2", n)
	}
	brokers, err := kadm.NewClient(cl).ListBrokers(ctx)
	if err != nil {
		t.Fatalf("list brokers: %v", err)
	}
	if len(brokers) != 1 || brokers[0].Host != "127.0.0.1" {
		t.Fatalf("metadata advertises %v, want one broker on 127.0.0.1", brokers)
	}
}

func TestKafkaNoAutoCreateByDefault(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	k := startTestKafka(t, KafkaConfig{})
	cl := newKgoClient(t, k, kgo.AllowAutoTopicCreation(), kgo.RecordDeliveryTimeout(time.Second))
	err := cl.ProduceSync(ctx, &kgo.Record{Topic: "missing", Value: []byte("x")}).FirstErr()
	if err == nil {
		t.Fatal("producing to a missing topic succeeded; want an error because AutoCreateTopics is off")
	}
}

func TestKafkaAddrInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = StartKafka(t.Context(), KafkaConfig{Addr: ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("StartKafka on a taken port: err = %v, want one naming %s", err, ln.Addr())
	}
}

func TestKafkaConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  KafkaConfig
		want string // substring of the error; empty = valid
	}{
		{"zero value", KafkaConfig{}, ""},
		{"ephemeral", KafkaConfig{Addr: "127.0.0.1:0"}, ""},
		{"no port", KafkaConfig{Addr: "localhost"}, "Addr"},
		{"advertised without port", KafkaConfig{AdvertisedAddr: "kafka"}, "AdvertisedAddr"},
		{"advertised port 0", KafkaConfig{AdvertisedAddr: "kafka:0"}, "AdvertisedAddr"},
		{"negative partitions", KafkaConfig{DefaultPartitions: -1}, "DefaultPartitions"},
		{"negative session timeout", KafkaConfig{GroupMinSessionTimeout: -time.Second}, "GroupMinSessionTimeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate() = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

func TestAdvertisedAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		bound, configured, want string
	}{
		{"127.0.0.1:9092", "", "127.0.0.1:9092"},
		{"0.0.0.0:9092", "", "127.0.0.1:9092"},
		{"[::]:9092", "", "127.0.0.1:9092"},
		{"[::1]:9092", "", "[::1]:9092"},
		{"0.0.0.0:9092", "kafka:19092", "kafka:19092"},
	} {
		if got := advertisedAddr(hostPort(tc.bound), tc.configured); got != tc.want {
			t.Errorf("advertisedAddr(%q, %q) = %q, want %q", tc.bound, tc.configured, got, tc.want)
		}
	}
}

func TestKafkaCloseTwice(t *testing.T) {
	t.Parallel()
	k := startTestKafka(t, KafkaConfig{DataDir: t.TempDir()})
	k.Close()
	k.Close()
}

// TestKafkaCrashRecovery covers a `fleetstream dev` that dies without Close (SIGKILL, panic):
// a child process produces and commits, then exits without closing the broker; a broker
// started on the same directory still has the records and the committed offsets, which kfake
// recovers from the segment files and the append-only groups log.
func TestKafkaCrashRecovery(t *testing.T) {
	if dir := os.Getenv("DEVSTACK_CRASH_DIR"); dir != "" {
		crashingBroker(t, dir) // child: never returns
	}
	t.Parallel()
	ctx := testCtx(t)
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestKafkaCrashRecovery$")
	cmd.Env = append(os.Environ(), "DEVSTACK_CRASH_DIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}

	k := startTestKafka(t, KafkaConfig{DataDir: dir})
	cl := newKgoClient(t, k, kgo.ConsumeTopics("telemetry"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if got := consumeValues(ctx, t, cl, 10); len(got) != 10 {
		t.Fatalf("after the crash read %d records, want 10", len(got))
	}
	offsets, err := kadm.NewClient(cl).FetchOffsets(ctx, "vehicle-state")
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	var committed int64
	offsets.Each(func(o kadm.OffsetResponse) { committed += o.At })
	if committed != 10 {
		t.Fatalf("after the crash the group has committed %d records in total, want 10 (%v)", committed, offsets)
	}
}

// crashingBroker is the child of TestKafkaCrashRecovery: it writes state and exits without
// Close.
func crashingBroker(t *testing.T, dir string) {
	ctx := testCtx(t)
	k, err := StartKafka(ctx, KafkaConfig{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatalf("StartKafka: %v", err)
	}
	cl := newKgoClient(t, k)
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "telemetry"); err != nil {
		t.Fatalf("create topic: %v", err)
	}
	produceKgo(ctx, t, cl, "telemetry", 0, 10)
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "telemetry")
	if err != nil {
		t.Fatalf("end offsets: %v", err)
	}
	if _, err := kadm.NewClient(cl).CommitOffsets(ctx, "vehicle-state", ends.Offsets()); err != nil {
		t.Fatalf("commit: %v", err)
	}
	os.Exit(0) // no Close, no deferred cleanup
}
