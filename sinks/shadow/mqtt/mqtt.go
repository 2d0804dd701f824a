package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow/target"
	"github.com/fleetstream/fleetstream/sinks/shadow/tokenbucket"
)

// Name is the backend's label in logs and metrics.
const Name = "mqtt"

// QoS is the quality of service of every publish: at least once, acknowledged by PUBACK.
const QoS = 1

// Errors a publish may fail with; both are retryable.
var (
	// ErrNotConnected: the client is between connections and reconnecting.
	ErrNotConnected = errors.New("not connected (reconnecting)")
	// ErrTimeout: no PUBACK within Config.PublishTimeout.
	ErrTimeout = errors.New("no PUBACK in time")
)

// Option configures a Backend.
type Option func(*Backend)

// WithLogger logs connection changes to l.
func WithLogger(l *slog.Logger) Option { return func(b *Backend) { b.log = l } }

// Backend publishes commands to an MQTT broker with QoS 1 over MQTT 3.1.1 (eclipse paho).
// It implements sinks.Backend: WriteBatch decodes each record of the commands topic, renders
// it with the target.Renderer and publishes it, in order.
type Backend struct {
	cfg    Config
	render *target.Renderer
	client paho.Client
	bucket *tokenbucket.Bucket
	log    *slog.Logger

	mu sync.Mutex
	// pending holds publishes that timed out but are still with the client, by command id
	// and topic: the client resends them after a reconnect, so a retry waits for them rather
	// than publishing a second copy.
	pending map[string]paho.Token
}

var _ sinks.Backend = (*Backend)(nil)

// New checks cfg, reads the TLS files and returns a backend that is not connected yet
// (Connect connects).
func New(cfg Config, render *target.Renderer, opts ...Option) (*Backend, error) {
	if render == nil {
		return nil, errors.New("mqtt: no renderer: build one with target.New")
	}
	tlsConfig, err := cfg.tlsConfig()
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	b := &Backend{
		cfg:     cfg,
		render:  render,
		bucket:  tokenbucket.New(cfg.Rate, cfg.Burst),
		log:     slog.New(slog.DiscardHandler),
		pending: map[string]paho.Token{},
	}
	for _, o := range opts {
		o(b)
	}
	o := paho.NewClientOptions().
		SetClientID(cfg.ClientID).
		SetProtocolVersion(4). // MQTT 3.1.1
		SetCleanSession(cfg.CleanSession).
		SetKeepAlive(cfg.KeepAlive).
		SetConnectTimeout(cfg.ConnectTimeout).
		SetWriteTimeout(cfg.PublishTimeout).
		SetAutoReconnect(true).
		SetConnectRetry(false). // the first connection fails Connect, so a wrong setting shows at start-up
		SetMaxReconnectInterval(cfg.MaxReconnectInterval).
		SetOrderMatters(false).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			b.log.Warn("mqtt connection lost; reconnecting", "brokers", cfg.Brokers, "err", err)
		}).
		SetReconnectingHandler(func(paho.Client, *paho.ClientOptions) {
			b.log.Info("mqtt reconnecting", "brokers", cfg.Brokers)
		}).
		SetOnConnectHandler(func(paho.Client) {
			b.log.Info("mqtt connected", "brokers", cfg.Brokers, "client_id", cfg.ClientID)
		})
	for _, u := range cfg.Brokers {
		o.AddBroker(u)
	}
	if tlsConfig != nil {
		o.SetTLSConfig(tlsConfig)
	}
	if cfg.Username != "" {
		o.SetUsername(cfg.Username)
		o.SetPassword(cfg.Password)
	}
	b.client = paho.NewClient(o)
	return b, nil
}

// Name returns "mqtt".
func (b *Backend) Name() string { return Name }

// Connect connects to the broker, once: a broker that cannot be reached or refuses the
// client fails here, at start-up. After that the client reconnects by itself.
func (b *Backend) Connect(ctx context.Context) error {
	tok := b.client.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		b.client.Disconnect(0)
		return fmt.Errorf("mqtt: connect to %s: %w", strings.Join(b.cfg.Brokers, ","), ctx.Err())
	}
	if err := tok.Error(); err != nil {
		return fmt.Errorf("mqtt: connect to %s as %q: %w (check the broker URL and TLS files; on AWS IoT Core the certificate must be active and its policy allow iot:Connect for this client id)",
			strings.Join(b.cfg.Brokers, ","), b.cfg.ClientID, err)
	}
	return nil
}

// WriteBatch publishes the commands of batch in order, each with QoS 1, and waits for each
// PUBACK. A command that cannot be decoded or rendered fails permanently and the others go on;
// after a retryable failure (not connected, no PUBACK in time) the rest of the batch is not
// attempted, so a retry keeps the order.
func (b *Backend) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	var failed []sinks.RecordError
	var blocked error
	for i, rec := range batch {
		if blocked != nil {
			failed = append(failed, sinks.RecordError{Index: i, Err: fmt.Errorf("not attempted after an earlier failure: %w", blocked)})
			continue
		}
		cmd, m, err := b.render.RenderRecord(rec)
		if err == nil {
			err = b.publish(ctx, cmd.ID, m)
		}
		if err != nil {
			failed = append(failed, sinks.RecordError{Index: i, Err: err})
			if sinks.Retryable(err) || errors.Is(err, context.Canceled) {
				blocked = err
			}
		}
	}
	if len(failed) > 0 {
		return &sinks.BatchError{Failed: failed}
	}
	return nil
}

func (b *Backend) publish(ctx context.Context, id string, m target.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mqtt: publish %s: %w", m.Topic, err)
	}
	key := id + "\x00" + m.Topic
	b.mu.Lock()
	tok, resumed := b.pending[key]
	b.mu.Unlock()
	if !resumed {
		if err := b.bucket.Wait(ctx); err != nil {
			return fmt.Errorf("mqtt: publish %s: %w", m.Topic, err)
		}
		// A publish while reconnecting would be stored by the client and sent later, behind
		// the retry this error causes: refuse it instead.
		if !b.client.IsConnectionOpen() {
			return fmt.Errorf("mqtt: publish %s: %w", m.Topic, ErrNotConnected)
		}
		tok = b.client.Publish(m.Topic, QoS, false, m.Payload)
	}
	timer := time.NewTimer(b.cfg.PublishTimeout)
	defer timer.Stop()
	select {
	case <-tok.Done():
		if resumed {
			b.mu.Lock()
			delete(b.pending, key)
			b.mu.Unlock()
		}
		if err := tok.Error(); err != nil {
			if errors.Is(err, paho.ErrNotConnected) {
				err = ErrNotConnected
			}
			return fmt.Errorf("mqtt: publish %s: %w", m.Topic, err)
		}
		return nil
	case <-timer.C:
		b.keep(key, tok)
		return fmt.Errorf("mqtt: publish %s: %w within %s", m.Topic, ErrTimeout, b.cfg.PublishTimeout)
	case <-ctx.Done():
		b.keep(key, tok)
		return fmt.Errorf("mqtt: publish %s: %w", m.Topic, ctx.Err())
	}
}

func (b *Backend) keep(key string, tok paho.Token) {
	b.mu.Lock()
	b.pending[key] = tok
	b.mu.Unlock()
}

// Close disconnects, giving publishes in flight up to a quarter of a second (or until ctx
// ends) to be acknowledged.
func (b *Backend) Close(ctx context.Context) error {
	quiesce := uint(250)
	if d, ok := ctx.Deadline(); ok {
		quiesce = uint(max(0, min(time.Until(d), 250*time.Millisecond)).Milliseconds())
	}
	b.client.Disconnect(quiesce)
	return nil
}
