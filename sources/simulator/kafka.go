package simulator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/fleetstream/fleetstream/topology"
)

// ErrPublisherClosed is returned by Publish after Close.
var ErrPublisherClosed = errors.New("simulator: publisher is closed")

// KafkaPublisher produces vehicle messages straight to Kafka for load generation: topics from
// KafkaTopics, keyed by VIN, with the deployment's partitioner and acks (topology.Kafka).
// Publish only queues (sarama AsyncProducer); acknowledgements and failures are counted as they
// come back and reported by Stats, and Close waits for the outstanding ones.
type KafkaPublisher struct {
	producer sarama.AsyncProducer
	log      *slog.Logger

	mu     sync.RWMutex // guards closed against Publish racing Close
	closed bool
	done   sync.WaitGroup

	queued, acked, failed atomic.Int64
	begin                 time.Time
	lastLog               atomic.Int64
}

// KafkaStats is what a KafkaPublisher has produced.
type KafkaStats struct {
	Queued, Acked, Failed int64
	// Elapsed is the time since the publisher was created.
	Elapsed time.Duration
}

// AckedRate is the achieved rate of acknowledged messages per second.
func (s KafkaStats) AckedRate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Acked) / s.Elapsed.Seconds()
}

// NewKafkaPublisher connects an async producer. logger may be nil.
func NewKafkaPublisher(k topology.Kafka, logger *slog.Logger) (*KafkaPublisher, error) {
	cfg, err := k.Sarama()
	if err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	producer, err := sarama.NewAsyncProducer(k.Brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("simulator: connect producer to kafka %v: %w", k.Brokers, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &KafkaPublisher{producer: producer, log: logger.With("component", "kafka"), begin: time.Now()}
	p.done.Add(2)
	go func() {
		defer p.done.Done()
		for range producer.Successes() {
			p.acked.Add(1)
		}
	}()
	go func() {
		defer p.done.Done()
		for perr := range producer.Errors() {
			n := p.failed.Add(1)
			now := time.Now().UnixNano()
			if last := p.lastLog.Load(); now-last >= int64(errorLogEvery) && p.lastLog.CompareAndSwap(last, now) {
				p.log.Warn("produce failed", "topic", perr.Msg.Topic, "failed_total", n, "error", perr.Err)
			}
		}
	}()
	return p, nil
}

// Publish queues one record; it blocks while the producer's queue is full.
func (p *KafkaPublisher) Publish(ctx context.Context, topic, key string, payload []byte) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrPublisherClosed
	}
	msg := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(payload)}
	select {
	case p.producer.Input() <- msg:
		p.queued.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats returns the counts so far.
func (p *KafkaPublisher) Stats() KafkaStats {
	return KafkaStats{Queued: p.queued.Load(), Acked: p.acked.Load(), Failed: p.failed.Load(), Elapsed: time.Since(p.begin)}
}

// Close flushes what is queued, waits for every acknowledgement or failure, and closes the
// producer. It is safe to call more than once.
func (p *KafkaPublisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.producer.AsyncClose()
	p.done.Wait()
	st := p.Stats()
	p.log.Info("kafka publisher closed", "acked", st.Acked, "failed", st.Failed,
		"acked_per_second", round(st.AckedRate(), 1))
	if st.Failed > 0 {
		return fmt.Errorf("simulator: %d of %d records were not acknowledged by kafka", st.Failed, st.Queued)
	}
	return nil
}
