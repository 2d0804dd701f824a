package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// DefaultKafkaAddr is where the embedded Kafka-protocol broker listens unless told otherwise.
const DefaultKafkaAddr = "127.0.0.1:9092"

// DefaultKafkaPartitions is the partition count of topics created without one (CreateTopics with
// -1 partitions, or auto-created topics when KafkaConfig.AutoCreateTopics is set).
const DefaultKafkaPartitions = 10

// KafkaConfig configures the embedded Kafka-protocol broker. The zero value is usable: one
// in-memory broker on DefaultKafkaAddr.
type KafkaConfig struct {
	// Addr is the host:port to listen on, DefaultKafkaAddr when empty. Port 0 picks a free
	// port; Kafka.Addr reports the one chosen.
	Addr string

	// AdvertisedAddr is the host:port the broker tells clients to connect to in metadata and
	// coordinator responses. Empty means the bound address, with 127.0.0.1 in place of a
	// wildcard host (0.0.0.0, ::), which no client can connect to. Set it when clients reach
	// the broker under another name, e.g. from another container.
	AdvertisedAddr string

	// DataDir keeps topics, records, committed offsets and group tables on disk so that a
	// restart on the same directory continues where the last run stopped. Empty keeps
	// everything in memory.
	DataDir string

	// DefaultPartitions is the partition count of topics created without one,
	// DefaultKafkaPartitions when zero.
	DefaultPartitions int

	// AutoCreateTopics lets metadata requests create missing topics, as Kafka's
	// auto.create.topics.enable does. Off by default: fleetstream provisions its topics with
	// the partition count co-partitioning needs, and a topic auto-created first with
	// DefaultPartitions would break the joins.
	AutoCreateTopics bool

	// GroupMinSessionTimeout is the smallest consumer-group session timeout the broker accepts,
	// kfake's 6s when zero. Tests lower it to let groups notice dead members quickly.
	GroupMinSessionTimeout time.Duration

	// Logger receives the broker's log at matching slog levels; nil discards it.
	Logger *slog.Logger
}

func (c KafkaConfig) withDefaults() KafkaConfig {
	if c.Addr == "" {
		c.Addr = DefaultKafkaAddr
	}
	if c.DefaultPartitions == 0 {
		c.DefaultPartitions = DefaultKafkaPartitions
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first field that cannot work, naming the fix.
func (c KafkaConfig) Validate() error {
	c = c.withDefaults()
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return fmt.Errorf("devstack: kafka Addr %q: want host:port such as %s: %w", c.Addr, DefaultKafkaAddr, err)
	}
	if c.AdvertisedAddr != "" {
		if _, port, err := net.SplitHostPort(c.AdvertisedAddr); err != nil || port == "" || port == "0" {
			return fmt.Errorf("devstack: kafka AdvertisedAddr %q: want host:port with a non-zero port, or leave it empty", c.AdvertisedAddr)
		}
	}
	if c.DefaultPartitions < 0 {
		return fmt.Errorf("devstack: kafka DefaultPartitions %d: want a positive count, or 0 for %d", c.DefaultPartitions, DefaultKafkaPartitions)
	}
	if c.GroupMinSessionTimeout < 0 {
		return fmt.Errorf("devstack: kafka GroupMinSessionTimeout %s: want a positive duration, or 0 for the default", c.GroupMinSessionTimeout)
	}
	return nil
}

// Kafka is a running in-process Kafka-protocol broker (a single kfake broker) that any Kafka
// client can reach over TCP.
type Kafka struct {
	cluster *kfake.Cluster
	addr    string
	once    sync.Once
}

// StartKafka starts one broker and returns once it accepts connections. With a DataDir it first
// loads what the previous run persisted there. ctx bounds the start only: the broker runs until
// Close, so that processors can commit their last offsets after ctx is cancelled.
func StartKafka(ctx context.Context, cfg KafkaConfig) (*Kafka, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("devstack: start kafka: %w", err)
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("devstack: kafka listen on %s: %w", cfg.Addr, err)
	}
	adv := advertisedAddr(ln.Addr(), cfg.AdvertisedAddr)
	// kfake always asks for 127.0.0.1:<port>; hand it the listener bound above instead, wrapped
	// so that what it advertises (it uses the listener's Addr) is an address clients can dial.
	handedOut := false
	listen := func(string, string) (net.Listener, error) {
		if handedOut {
			return nil, errors.New("devstack: kfake asked for a second listener; only one broker is configured")
		}
		handedOut = true
		return advertisingListener{Listener: ln, addr: hostPort(adv)}, nil
	}

	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(listen),
		kfake.DefaultNumPartitions(cfg.DefaultPartitions),
		kfake.WithLogger(kfakeLogger{l: cfg.Logger.With("component", "kfake")}),
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.AutoCreateTopics {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if cfg.GroupMinSessionTimeout > 0 {
		opts = append(opts, kfake.GroupMinSessionTimeout(cfg.GroupMinSessionTimeout))
	}

	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		ln.Close() // kfake may have closed it already; a second Close is harmless
		return nil, fmt.Errorf("devstack: start kafka (data dir %q): %w", cfg.DataDir, err)
	}
	k := &Kafka{cluster: cluster, addr: adv}
	cfg.Logger.Info("kafka broker listening", "addr", k.addr, "listen", ln.Addr().String(), "data_dir", cfg.DataDir)
	return k, nil
}

// Addr is the host:port clients bootstrap from (the advertised address).
func (k *Kafka) Addr() string { return k.addr }

// Brokers is Addr as the broker list sarama, goka and kgo take.
func (k *Kafka) Brokers() []string { return []string{k.addr} }

// Close stops the broker. With a DataDir it first writes the state snapshot (topics, partition
// high watermarks, groups, producer ids) and closes the segment files, so the next StartKafka on
// that directory resumes from here. Stop clients first: a commit still in flight when Close runs
// is applied, one sent later is lost. Close is safe to call more than once.
func (k *Kafka) Close() {
	k.once.Do(k.cluster.Close)
}

// advertisedAddr picks what the broker tells clients: the configured address, else the bound one
// with a wildcard host replaced by loopback.
func advertisedAddr(bound net.Addr, configured string) string {
	if configured != "" {
		return configured
	}
	host, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return bound.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// advertisingListener reports addr as its address; kfake puts that address in metadata.
type advertisingListener struct {
	net.Listener
	addr net.Addr
}

func (l advertisingListener) Addr() net.Addr { return l.addr }

// hostPort is a net.Addr that may carry a hostname, which net.TCPAddr cannot.
type hostPort string

func (hostPort) Network() string  { return "tcp" }
func (a hostPort) String() string { return string(a) }

// kfakeLogger routes kfake's log to slog. kfake formats nothing itself, so messages are only
// formatted when slog would keep them.
type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var sl slog.Level
	switch level {
	case kfake.LogLevelError:
		sl = slog.LevelError
	case kfake.LogLevelWarn:
		sl = slog.LevelWarn
	case kfake.LogLevelInfo:
		sl = slog.LevelInfo
	case kfake.LogLevelDebug:
		sl = slog.LevelDebug
	default:
		return
	}
	ctx := context.Background()
	if !k.l.Enabled(ctx, sl) {
		return
	}
	k.l.Log(ctx, sl, fmt.Sprintf(format, args...))
}
