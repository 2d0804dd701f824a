package mqttbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/fleetstream/fleetstream/codecs"
)

// mqttQoS is the QoS of the subscriptions: at least once.
const mqttQoS = 1

// Errors of Run and Ready.
var (
	ErrAlreadyRunning = errors.New("mqttbridge: Run was already called")
	ErrNotRunning     = errors.New("mqttbridge: not running")
)

// Bridge moves MQTT messages to Kafka without losing any the broker accepted: it subscribes at
// QoS 1 in a persistent session, produces each message with acks=all, and acknowledges it to
// the broker only after Kafka acknowledged the record. A crash or restart at any point leaves
// the unacknowledged messages with the broker, which delivers them again to the next session
// (at-least-once: a message may reach Kafka twice, never zero times).
type Bridge struct {
	cfg     Config
	log     *slog.Logger
	router  router
	metrics *metrics

	slots  chan struct{} // one token per message in flight: the backpressure
	window ackWindow
	retryq chan *pending

	stopping chan struct{} // closed when Run's context ends: take no new messages
	closing  chan struct{} // closed before the producer closes: stop producing
	inputMu  sync.RWMutex  // held for reading while sending to the producer; for writing to close it
	inputOff bool

	producer sarama.AsyncProducer

	started, running, connected, subscribed atomic.Bool
	lastWarn                                atomic.Int64
}

// New validates cfg and registers the bridge's metrics; Run connects.
func New(cfg Config) (*Bridge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Bridge{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "mqttbridge", "client_id", cfg.ClientID),
		router:   router{routes: cfg.Routes, deadLetter: cfg.DeadLetterTopic, maxPayload: cfg.MaxPayloadBytes},
		metrics:  m,
		slots:    make(chan struct{}, cfg.MaxInFlight),
		retryq:   make(chan *pending, cfg.MaxInFlight),
		stopping: make(chan struct{}),
		closing:  make(chan struct{}),
	}, nil
}

// Ready reports nil once the bridge is connected to the MQTT broker and subscribed, and why
// not otherwise.
func (b *Bridge) Ready() error {
	switch {
	case !b.running.Load():
		return ErrNotRunning
	case !b.connected.Load():
		return fmt.Errorf("mqttbridge: not connected to the MQTT broker %s", b.cfg.Broker)
	case !b.subscribed.Load():
		return fmt.Errorf("mqttbridge: connected to %s, not yet subscribed to %v", b.cfg.Broker, b.cfg.Filters)
	}
	return nil
}

// Run bridges until ctx ends, then returns nil. It fails when the Kafka producer cannot be set
// up or the MQTT broker refuses the connection; an unreachable broker is retried (Ready says
// so). On return what Kafka acknowledged within
// ShutdownTimeout is acknowledged to the broker, and the rest stays with the broker.
func (b *Bridge) Run(ctx context.Context) error {
	if !b.started.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	if err := b.startProducer(); err != nil {
		return err
	}
	var loops sync.WaitGroup
	loops.Add(3)
	go func() { defer loops.Done(); b.acknowledge() }()
	go func() { defer loops.Done(); b.handleErrors() }()
	go func() { defer loops.Done(); b.retry() }()

	client := paho.NewClient(b.clientOptions())
	b.running.Store(true)
	b.log.Info("bridge starting", "broker", b.cfg.Broker, "filters", b.cfg.Filters, "kafka", b.cfg.Kafka.Brokers,
		"max_in_flight", b.cfg.MaxInFlight)
	var runErr error
	connect := client.Connect() // retries until it connects or Disconnect is called
	select {
	case <-connect.Done():
		if err := connect.Error(); err != nil {
			runErr = fmt.Errorf("mqttbridge: connect to %s: %w", b.cfg.Broker, err) // refused: retrying will not help
			break
		}
		<-ctx.Done()
	case <-ctx.Done():
	}

	// Shut down: take nothing new, let Kafka acknowledge what is in flight and pass those
	// acknowledgements on, then leave the broker; the rest it delivers again next time.
	b.running.Store(false)
	close(b.stopping)
	drained := b.drain(b.cfg.ShutdownTimeout)
	client.Disconnect(250)
	close(b.closing)
	b.inputMu.Lock()
	b.inputOff = true
	b.inputMu.Unlock()
	b.producer.AsyncClose()
	loops.Wait()
	left := b.window.len()
	b.log.Info("bridge stopped", "drained", drained, "unacknowledged", left)
	return runErr
}

func (b *Bridge) startProducer() error {
	cfg, err := b.cfg.Kafka.Sarama()
	if err != nil {
		return fmt.Errorf("mqttbridge: %w", err)
	}
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	// One request in flight per broker keeps each VIN's records in order through sarama's
	// retries; batching still groups whatever arrived meanwhile.
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Flush.Frequency = b.cfg.Linger
	cfg.Producer.Flush.Bytes, cfg.Producer.Flush.Messages = 0, 0
	p, err := sarama.NewAsyncProducer(b.cfg.Kafka.Brokers, cfg)
	if err != nil {
		return fmt.Errorf("mqttbridge: connect producer to kafka %v: %w", b.cfg.Kafka.Brokers, err)
	}
	b.producer = p
	return nil
}

// clientOptions sets up paho for at-least-once: a fixed client id in a persistent session
// (CleanSession false), so the broker keeps unacknowledged messages across restarts; manual
// acknowledgement, so a message is acknowledged only after Kafka has it; ordered delivery, so
// the handler runs on paho's reading goroutine and blocking it on a full window stops reading
// from the socket (backpressure through TCP to the broker, instead of a goroutine per message
// as with OrderMatters false); and the default handler for everything, because a resumed
// session delivers before any Subscribe call could register a route.
func (b *Bridge) clientOptions() *paho.ClientOptions {
	opts := paho.NewClientOptions()
	if b.cfg.MQTTOptions != nil {
		b.cfg.MQTTOptions(opts)
	}
	opts.Servers = nil // the broker is Config.Broker
	opts.AddBroker(b.cfg.Broker).
		SetClientID(b.cfg.ClientID).
		SetUsername(b.cfg.Username).
		SetPassword(b.cfg.Password).
		SetProtocolVersion(4). // MQTT 3.1.1
		SetCleanSession(false).
		SetAutoAckDisabled(true).
		SetOrderMatters(true).
		SetDefaultPublishHandler(b.onMessage).
		SetKeepAlive(b.cfg.KeepAlive).
		SetConnectTimeout(b.cfg.ConnectTimeout).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(10 * time.Second).
		SetResumeSubs(false).
		SetOnConnectHandler(b.onConnect).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			b.connected.Store(false)
			b.subscribed.Store(false)
			b.log.Warn("mqtt connection lost; reconnecting", "error", err)
		}).
		SetReconnectingHandler(func(paho.Client, *paho.ClientOptions) {
			b.log.Info("mqtt reconnecting", "broker", b.cfg.Broker)
		})
	if b.cfg.TLS != nil {
		opts.SetTLSConfig(b.cfg.TLS)
	}
	return opts
}

// onConnect (re)subscribes after every connection; paho runs it on its own goroutine.
func (b *Bridge) onConnect(c paho.Client) {
	b.connected.Store(true)
	b.log.Info("mqtt connected", "broker", b.cfg.Broker)
	filters := make(map[string]byte, len(b.cfg.Filters))
	for _, f := range b.cfg.Filters {
		filters[f] = mqttQoS
	}
	for attempt := 1; ; attempt++ {
		tok := c.SubscribeMultiple(filters, nil) // nil: the default handler takes everything
		err := errTimeout
		if tok.WaitTimeout(b.cfg.ConnectTimeout) {
			err = tok.Error()
		}
		if err == nil {
			for f, granted := range tok.(*paho.SubscribeToken).Result() {
				if granted > mqttQoS {
					err = fmt.Errorf("broker refused the subscription to %s (code %#x)", f, granted)
				}
			}
		}
		if err == nil {
			b.subscribed.Store(true)
			b.log.Info("mqtt subscribed", "filters", b.cfg.Filters)
			return
		}
		b.log.Error("mqtt subscribe failed", "filters", b.cfg.Filters, "attempt", attempt, "error", err)
		select {
		case <-b.stopping:
			return
		case <-time.After(backoff(attempt)):
		}
		if !c.IsConnectionOpen() {
			return // the next connection subscribes again
		}
	}
}

var errTimeout = errors.New("timed out")

// onMessage is paho's handler, called on its reading goroutine one message at a time.
func (b *Bridge) onMessage(_ paho.Client, m paho.Message) {
	received := time.Now()
	select {
	case b.slots <- struct{}{}: // blocks while MaxInFlight messages are unacknowledged
	case <-b.stopping:
		return // not acknowledged: the broker delivers it again to the next session
	}
	p := b.prepare(m, received)
	b.window.push(p)
	b.metrics.inflight.Inc()
	if !b.send(p.record(), b.stopping) {
		b.window.remove(p)
		b.metrics.inflight.Dec()
		<-b.slots
	}
}

// prepare routes a message: its Kafka topic and key, or a dead letter.
func (b *Bridge) prepare(m paho.Message, received time.Time) *pending {
	p := &pending{msg: m, received: received, dest: b.router.route(m.Topic(), m.Payload())}
	if p.dest.reason == "" {
		p.key, p.value = []byte(p.dest.key), m.Payload()
		return p
	}
	if err := p.deadLetter(b.cfg.DeadLetterTopic, p.dest.reason, p.dest.detail, b.cfg.MaxPayloadBytes); err != nil {
		// Cannot happen for a DeadLetter (plain fields); keep the bytes flowing regardless.
		p.value = m.Payload()
	}
	b.log.Debug("dead-lettering", "mqtt_topic", m.Topic(), "reason", p.dest.reason, "detail", p.dest.detail)
	return p
}

// send hands a record to the producer unless stop closes first.
func (b *Bridge) send(rec *sarama.ProducerMessage, stop <-chan struct{}) bool {
	b.inputMu.RLock()
	defer b.inputMu.RUnlock()
	if b.inputOff {
		return false
	}
	select {
	case b.producer.Input() <- rec:
		return true
	case <-stop:
		return false
	}
}

// acknowledge passes Kafka's acknowledgements on to the broker, in arrival order.
func (b *Bridge) acknowledge() {
	for rec := range b.producer.Successes() {
		p := rec.Metadata.(*pending)
		result := ResultProduced
		if p.dest.reason != "" {
			result = ResultDeadLettered
		}
		b.metrics.messages.WithLabelValues(result).Inc()
		b.metrics.latency.Observe(time.Since(p.received).Seconds())
		for _, q := range b.window.complete(p) {
			q.msg.Ack()
			b.metrics.inflight.Dec()
			<-b.slots
		}
	}
}

// handleErrors retries what Kafka did not acknowledge, and dead-letters what it refused for
// good.
func (b *Bridge) handleErrors() {
	for perr := range b.producer.Errors() {
		p := perr.Msg.Metadata.(*pending)
		b.metrics.messages.WithLabelValues(ResultFailed).Inc()
		if p.dest.reason == "" && refusedForGood(perr.Err) {
			b.log.Warn("kafka refused the record; dead-lettering it", "topic", p.dest.topic, "key", p.dest.key, "error", perr.Err)
			if err := p.deadLetter(b.cfg.DeadLetterTopic, ReasonRejected, perr.Err.Error(), b.cfg.MaxPayloadBytes); err == nil {
				b.schedule(p, 0)
				continue
			}
		}
		p.attempts++
		b.warnf("produce failed; retrying", "topic", p.dest.topic, "key", p.dest.key, "attempt", p.attempts, "error", perr.Err)
		b.schedule(p, backoff(p.attempts))
	}
}

// refusedForGood reports the produce errors that retrying cannot fix.
func refusedForGood(err error) bool {
	for _, e := range []error{sarama.ErrMessageSizeTooLarge, sarama.ErrInvalidMessage, sarama.ErrInvalidMessageSize,
		sarama.ErrUnknownTopicOrPartition, sarama.ErrInvalidTopic, sarama.ErrTopicAuthorizationFailed, sarama.ErrInvalidRecord} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (b *Bridge) schedule(p *pending, after time.Duration) {
	if after <= 0 {
		b.retryq <- p // room for every message in flight: never blocks
		return
	}
	time.AfterFunc(after, func() { b.retryq <- p })
}

// retry sends scheduled records again until the producer closes.
func (b *Bridge) retry() {
	for {
		select {
		case p := <-b.retryq:
			if !b.send(p.record(), b.closing) {
				return
			}
		case <-b.closing:
			return
		}
	}
}

// drain waits until everything in flight is acknowledged, or timeout.
func (b *Bridge) drain(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for b.window.len() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// warnf logs at most one warning a second.
func (b *Bridge) warnf(msg string, args ...any) {
	now := time.Now().UnixNano()
	last := b.lastWarn.Load()
	if now-last < int64(time.Second) || !b.lastWarn.CompareAndSwap(last, now) {
		return
	}
	b.log.Warn(msg, args...)
}

// backoff is the wait before attempt n+1: 100ms doubling to 10s, with jitter.
func backoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt-1, 7)
	d = min(d, 10*time.Second)
	return d/2 + rand.N(d/2+1)
}

func encodeDeadLetter(dl codecs.DeadLetter) ([]byte, error) { return json.Marshal(dl) }
