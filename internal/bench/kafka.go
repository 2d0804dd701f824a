package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/fleetstream/fleetstream/internal/devstack"
	"github.com/fleetstream/fleetstream/topology"
)

// runBroker is the -role=broker child: the embedded broker (devstack.StartKafka, kfake) on a
// free port, which it prints, until its stdin closes or it is told to stop.
func runBroker(partitions int) error {
	k, err := devstack.StartKafka(context.Background(), devstack.KafkaConfig{Addr: "127.0.0.1:0", DefaultPartitions: partitions})
	if err != nil {
		return err
	}
	fmt.Printf("kafka %s\n", k.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop <- syscall.SIGTERM
	}()
	<-stop
	k.Close()
	return nil
}

// broker is the embedded broker running in a child process of the bench, so that the CPU time
// and memory of the process under test are its own and the broker's are measured apart.
type broker struct {
	addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startBroker(partitions int) (*broker, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-role=broker", fmt.Sprintf("-partitions=%d", partitions))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start broker process: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("broker process did not report its address: %w", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "kafka ")
	if !ok {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, fmt.Errorf("broker process said %q", line)
	}
	return &broker{addr: addr, cmd: cmd, stdin: stdin}, nil
}

// cpu is the broker process's CPU time so far.
func (b *broker) cpu() time.Duration { return processCPU(b.cmd.Process.Pid) }

func (b *broker) rss() int64 { return memStatus(b.cmd.Process.Pid, "VmRSS") }

func (b *broker) close() {
	_ = b.stdin.Close()
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
}

// admin is a franz-go admin client of the broker.
type admin struct {
	cl  *kgo.Client
	adm *kadm.Client
}

func newAdmin(addr string) (*admin, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return nil, err
	}
	return &admin{cl: cl, adm: kadm.NewClient(cl)}, nil
}

func (a *admin) close() { a.cl.Close() }

// topicSpec is a topic to create: compacted for tables.
type topicSpec struct {
	name      string
	compacted bool
}

func (a *admin) create(ctx context.Context, partitions int32, specs ...topicSpec) error {
	for _, s := range specs {
		var configs map[string]*string
		if s.compacted {
			configs = map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
		}
		if _, err := a.adm.CreateTopic(ctx, partitions, 1, configs, s.name); err != nil {
			return fmt.Errorf("create topic %s: %w", s.name, err)
		}
	}
	return nil
}

// recreate deletes the topics and groups and creates the topics again, empty.
func (a *admin) recreate(ctx context.Context, partitions int32, groups []string, specs ...topicSpec) error {
	if len(groups) > 0 {
		if _, err := a.adm.DeleteGroups(ctx, groups...); err != nil {
			return fmt.Errorf("delete groups %v: %w", groups, err)
		}
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.name)
	}
	if resp, err := a.adm.DeleteTopics(ctx, names...); err != nil {
		return fmt.Errorf("delete topics %v: %w", names, err)
	} else {
		for _, r := range resp.Sorted() {
			if r.Err != nil && !strings.Contains(r.Err.Error(), "UNKNOWN_TOPIC") {
				return fmt.Errorf("delete topic %s: %w", r.Topic, r.Err)
			}
		}
	}
	return a.create(ctx, partitions, specs...)
}

// endOffsets sums the high-water marks of each topic's partitions.
func (a *admin) endOffsets(ctx context.Context, topics ...string) (map[string]int64, error) {
	offs, err := a.adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return nil, err
	}
	if err := offs.Error(); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	offs.Each(func(o kadm.ListedOffset) { out[o.Topic] += o.Offset })
	return out, nil
}

// lag is the records of topic not yet committed by group.
func (a *admin) lag(ctx context.Context, group, topic string) (int64, error) {
	ends, err := a.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	committed, err := a.adm.FetchOffsets(ctx, group)
	if err != nil {
		return 0, err
	}
	var lag int64
	ends.Each(func(o kadm.ListedOffset) {
		c := int64(0)
		if r, ok := committed.Lookup(o.Topic, o.Partition); ok && r.At >= 0 {
			c = r.At
		}
		lag += o.Offset - c
	})
	return lag, nil
}

// waitForCounts polls the topics' high-water marks until each holds at least want records
// and returns the time it first saw that. It polls every poll once the outputs are nearly
// complete and ten times less often before, so that watching costs the run little.
func (a *admin) waitForCounts(ctx context.Context, want map[string]int64, poll time.Duration) (time.Time, map[string]int64, error) {
	var topics []string
	var total int64
	for t, n := range want {
		topics = append(topics, t)
		total += n
	}
	var last map[string]int64
	for {
		got, err := a.endOffsets(ctx, topics...)
		wait := poll
		if err == nil {
			last = got
			done := true
			var have int64
			for topic, n := range want {
				if got[topic] < n {
					done = false
				}
				have += min(got[topic], n)
			}
			if done {
				return time.Now(), got, nil
			}
			if float64(have) < 0.97*float64(total) {
				wait = 10 * poll
			}
		}
		select {
		case <-ctx.Done():
			return time.Time{}, last, fmt.Errorf("waiting for %v (have %v): %w", want, last, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// producerSettings are the franz-go producer settings the bench loads data with.
type producerSettings struct {
	compression string
	linger      time.Duration
	acks        string
}

func (p producerSettings) String() string {
	return fmt.Sprintf("franz-go kgo: compression=%s acks=%s linger=%s batch.max=1MiB partitioner=murmur2 (StickyKeyPartitioner)", p.compression, p.acks, p.linger)
}

func (p producerSettings) opts() []kgo.Opt {
	codec := kgo.NoCompression()
	switch p.compression {
	case "snappy":
		codec = kgo.SnappyCompression()
	case "lz4":
		codec = kgo.Lz4Compression()
	case "zstd":
		codec = kgo.ZstdCompression()
	case "gzip":
		codec = kgo.GzipCompression()
	}
	acks := kgo.AllISRAcks()
	if p.acks == "leader" {
		acks = kgo.LeaderAck()
	}
	opts := []kgo.Opt{
		kgo.ProducerBatchCompression(codec),
		kgo.ProducerLinger(p.linger),
		kgo.RequiredAcks(acks),
		kgo.ProducerBatchMaxBytes(1 << 20),
		kgo.MaxBufferedRecords(100_000),
		// kgo's default key partitioner is Kafka's murmur2, as fleetstream's default.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
	}
	if p.acks == "leader" {
		opts = append(opts, kgo.DisableIdempotentWrite())
	}
	return opts
}

// producer produces records with franz-go and checks that each lands in the partition
// fleetstream's murmur2 partitioner picks.
type producer struct {
	cl         *kgo.Client
	partitions int32
	failed     atomic.Int64
	misplaced  atomic.Int64
	errOnce    sync.Once
	firstErr   atomic.Value
}

func newProducer(addr string, partitions int32, s producerSettings) (*producer, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, s.opts()...)...)
	if err != nil {
		return nil, err
	}
	return &producer{cl: cl, partitions: partitions}, nil
}

func (p *producer) produce(ctx context.Context, topic, key string, value []byte, done func()) {
	rec := &kgo.Record{Topic: topic, Key: []byte(key), Value: value}
	p.cl.Produce(ctx, rec, func(r *kgo.Record, err error) {
		if err != nil {
			p.failed.Add(1)
			p.errOnce.Do(func() { p.firstErr.Store(err) })
		} else if r.Partition != topology.PartitionerMurmur2.Partition(r.Key, p.partitions) {
			p.misplaced.Add(1)
		}
		if done != nil {
			done()
		}
	})
}

// flush waits for every record produced so far and reports failures.
func (p *producer) flush(ctx context.Context) error {
	if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	if n := p.failed.Load(); n > 0 {
		err, _ := p.firstErr.Load().(error)
		return fmt.Errorf("%d records failed: %w", n, err)
	}
	if n := p.misplaced.Load(); n > 0 {
		return fmt.Errorf("%d records landed in another partition than fleetstream's murmur2 partitioner picks", n)
	}
	return nil
}

func (p *producer) close() { p.cl.Close() }

// preload produces recs to topic and waits for all of them.
func preload(ctx context.Context, addr string, partitions int32, s producerSettings, topic string, recs []record) (time.Duration, error) {
	p, err := newProducer(addr, partitions, s)
	if err != nil {
		return 0, err
	}
	defer p.close()
	start := time.Now()
	for _, r := range recs {
		p.produce(ctx, topic, r.key, r.value, nil)
	}
	if err := p.flush(ctx); err != nil {
		return 0, fmt.Errorf("preload %s: %w", topic, err)
	}
	return time.Since(start), nil
}
