package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/fleetstream/fleetstream/codecs"
)

// Worker is a sink's consumer-group worker: it reads its topics, hands batches of records to a
// Backend, retries what may succeed later, dead-letters what the backend refused for good, and
// commits an offset only once every record before it in its partition is written or
// dead-lettered. Delivery is at least once: a record is never skipped, and a record written
// but not yet committed when the worker stops is delivered again by the next one.
type Worker struct {
	cfg     Config
	backend Backend
	log     *slog.Logger
	m       *metrics
	backoff Backoff
	slots   chan struct{} // MaxInFlight delivery slots

	ran      atomic.Bool
	producer sarama.SyncProducer
	commitMu sync.Mutex

	mu    sync.Mutex
	state error // Ready's answer
}

// NewWorker validates cfg and returns a worker delivering to backend. The worker owns the
// backend from Run on: it connects it before consuming and closes it when it stops.
func NewWorker(cfg Config, backend Backend) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if backend == nil {
		return nil, fmt.Errorf("sinks: %s: no backend: pass the destination's Backend to NewWorker", cfg.Group)
	}
	cfg = cfg.WithDefaults()
	m, err := newMetrics(cfg.Registerer, cfg.DeadLetters)
	if err != nil {
		return nil, err
	}
	return &Worker{
		cfg:     cfg,
		backend: backend,
		log:     cfg.Logger.With("sink", cfg.Group, "backend", backend.Name()),
		m:       m,
		backoff: Backoff{Initial: cfg.InitialBackoff, Max: cfg.MaxBackoff},
		slots:   make(chan struct{}, cfg.MaxInFlight),
		state:   fmt.Errorf("sink %s: not started", cfg.Group),
	}, nil
}

// Ready is nil once the worker has joined its consumer group, and says why not otherwise
// (connecting the backend, joining, the last consume error, stopped).
func (w *Worker) Ready() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state
}

func (w *Worker) setState(err error) {
	w.mu.Lock()
	w.state = err
	w.mu.Unlock()
}

// Run connects the backend, joins the consumer group and delivers until ctx is done. Then it
// stops fetching, delivers what it fetched within DrainTimeout, commits what is done, leaves
// the group, closes the backend and returns nil. It returns an error when the backend or
// Kafka cannot be reached at start-up. Run may be called once.
func (w *Worker) Run(ctx context.Context) (err error) {
	if !w.ran.CompareAndSwap(false, true) {
		return fmt.Errorf("sinks: %s: Run called twice: build a new Worker", w.cfg.Group)
	}
	defer func() {
		if err != nil {
			w.setState(err)
		} else {
			w.setState(fmt.Errorf("sink %s: stopped", w.cfg.Group))
		}
	}()
	consumerCfg, producerCfg, err := w.saramaConfigs()
	if err != nil {
		return err
	}

	w.setState(fmt.Errorf("sink %s: connecting %s backend", w.cfg.Group, w.backend.Name()))
	if err := w.backend.Connect(ctx); err != nil {
		return fmt.Errorf("sinks: %s: connect %s backend: %w", w.cfg.Group, w.backend.Name(), err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.DrainTimeout)
		defer cancel()
		if cerr := w.backend.Close(cctx); cerr != nil {
			w.log.Error("closing backend failed", "err", cerr)
			if err == nil {
				err = fmt.Errorf("sinks: %s: close %s backend: %w", w.cfg.Group, w.backend.Name(), cerr)
			}
		}
	}()

	producer, err := sarama.NewSyncProducer(w.cfg.Kafka.Brokers, producerCfg)
	if err != nil {
		return fmt.Errorf("sinks: %s: dead-letter producer for %v: %w", w.cfg.Group, w.cfg.Kafka.Brokers, err)
	}
	w.producer = producer
	defer func() {
		if cerr := producer.Close(); cerr != nil {
			w.log.Warn("closing dead-letter producer failed", "err", cerr)
		}
	}()

	group, err := sarama.NewConsumerGroup(w.cfg.Kafka.Brokers, w.cfg.Group, consumerCfg)
	if err != nil {
		return fmt.Errorf("sinks: %s: consumer group on %v: %w", w.cfg.Group, w.cfg.Kafka.Brokers, err)
	}
	errsDone := make(chan struct{})
	go func() {
		defer close(errsDone)
		for err := range group.Errors() {
			w.log.Warn("consumer group error", "err", err)
		}
	}()
	defer func() {
		if cerr := group.Close(); cerr != nil {
			w.log.Warn("leaving consumer group failed", "err", cerr)
		}
		<-errsDone
	}()

	w.setState(fmt.Errorf("sink %s: joining consumer group", w.cfg.Group))
	w.log.Info("sink starting", "topics", w.cfg.Topics, "dead_letters", w.cfg.DeadLetterTopic)
	h := &groupHandler{w: w}
	for attempt := 0; ; attempt++ {
		err := group.Consume(ctx, w.cfg.Topics, h)
		if ctx.Err() != nil {
			w.log.Info("sink stopped")
			return nil
		}
		if errors.Is(err, sarama.ErrClosedConsumerGroup) {
			return fmt.Errorf("sinks: %s: %w", w.cfg.Group, err)
		}
		if err == nil {
			attempt = -1 // a session ended (rebalance): rejoin at once
			continue
		}
		w.setState(fmt.Errorf("sink %s: consume: %w", w.cfg.Group, err))
		wait := w.backoff.Wait(attempt, nil)
		w.log.Warn("consuming failed; rejoining", "err", err, "retry_in", wait)
		if !sleep(ctx, wait) {
			return nil
		}
	}
}

// saramaConfigs returns the consumer group's configuration (manual commits, range assignment)
// and the dead-letter producer's (synchronous, acks=all, no lingering).
func (w *Worker) saramaConfigs() (*sarama.Config, *sarama.Config, error) {
	c, err := w.cfg.Kafka.Sarama()
	if err != nil {
		return nil, nil, fmt.Errorf("sinks: %s: %w", w.cfg.Group, err)
	}
	// Sinks join no tables, so they need no co-partitioning assignment; range keeps a worker's
	// partitions of every topic together.
	c.Consumer.Group.Rebalance.Strategy = nil // goka's copartitioning strategy, set the deprecated way
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Return.Errors = true

	p, err := w.cfg.Kafka.Sarama()
	if err != nil {
		return nil, nil, fmt.Errorf("sinks: %s: %w", w.cfg.Group, err)
	}
	p.Producer.RequiredAcks = sarama.WaitForAll
	p.Producer.Return.Successes = true
	p.Producer.Return.Errors = true
	p.Producer.Flush.Frequency, p.Producer.Flush.Bytes, p.Producer.Flush.Messages = 0, 0, 0
	if w.cfg.Sarama != nil {
		w.cfg.Sarama(c)
		w.cfg.Sarama(p)
	}
	if c.Consumer.Offsets.AutoCommit.Enable {
		return nil, nil, fmt.Errorf("sinks: %s: Config.Sarama enabled auto-commit: the worker commits itself, leave it off", w.cfg.Group)
	}
	return c, p, nil
}

type groupHandler struct{ w *Worker }

func (h *groupHandler) Setup(s sarama.ConsumerGroupSession) error {
	h.w.setState(nil)
	h.w.log.Info("partitions assigned", "claims", s.Claims(), "generation", s.GenerationID())
	return nil
}

func (h *groupHandler) Cleanup(s sarama.ConsumerGroupSession) error {
	h.w.log.Debug("session ended", "generation", s.GenerationID())
	return nil
}

func (h *groupHandler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	h.w.consumePartition(s, c)
	return nil
}

// batch is a run of consecutive records of one partition.
type batch struct {
	records []Record
	bytes   int
}

func (b *batch) last() int64 { return b.records[len(b.records)-1].Offset }

// consumePartition reads one claim into batches and hands them, in order, to the partition's
// writer. When the session ends (revocation, rebalance or shutdown) it hands over what it
// fetched and waits for the writer, which gives up DrainTimeout after the end of the session.
func (w *Worker) consumePartition(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) {
	topic, partition := claim.Topic(), claim.Partition()
	log := w.log.With("topic", topic, "partition", partition)
	log.Debug("claim started", "offset", claim.InitialOffset())

	// The writer's context outlives the session by DrainTimeout.
	wctx, cancel := context.WithCancel(context.WithoutCancel(sess.Context()))
	defer cancel()
	returned := make(chan struct{})
	defer close(returned)
	go func() {
		select {
		case <-sess.Context().Done():
		case <-returned:
			return
		}
		t := time.NewTimer(w.cfg.DrainTimeout)
		defer t.Stop()
		select {
		case <-t.C:
			log.Warn("drain deadline passed; undelivered records stay uncommitted and will be delivered again", "drain_timeout", w.cfg.DrainTimeout)
			cancel()
		case <-returned:
		}
	}()

	batches := make(chan *batch, 1)
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		w.writePartition(wctx, sess, topic, partition, batches, log)
	}()

	var cur *batch
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()
	handOver := func() bool {
		if cur == nil {
			return true
		}
		linger.Stop()
		select {
		case batches <- cur:
			cur = nil
			return true
		case <-writerDone:
			return false
		}
	}
loop:
	for {
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				break loop
			}
			if cur == nil {
				cur = &batch{records: make([]Record, 0, min(w.cfg.MaxRecords, 64))}
				linger.Reset(w.cfg.Linger)
			}
			cur.records = append(cur.records, Record{
				Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset,
				Key: msg.Key, Value: msg.Value, Timestamp: msg.Timestamp,
			})
			cur.bytes += len(msg.Key) + len(msg.Value)
			if len(cur.records) >= w.cfg.MaxRecords || cur.bytes >= w.cfg.MaxBytes {
				if !handOver() {
					break loop
				}
			}
		case <-linger.C:
			if !handOver() {
				break loop
			}
		case <-writerDone:
			break loop
		}
	}
	handOver() // what was fetched is delivered too, within the drain deadline
	close(batches)
	<-writerDone
	log.Debug("claim released")
}

// writePartition delivers one partition's batches in order, committing after each. It stops at
// the first batch it cannot finish before ctx is done; nothing after it is committed.
func (w *Worker) writePartition(ctx context.Context, sess sarama.ConsumerGroupSession, topic string, partition int32, batches <-chan *batch, log *slog.Logger) {
	for b := range batches {
		if err := w.deliver(ctx, b, log); err != nil {
			log.Warn("stopped before a batch was delivered; it stays uncommitted and will be delivered again",
				"first_offset", b.records[0].Offset, "last_offset", b.last(), "err", err)
			return
		}
		sess.MarkOffset(topic, partition, b.last()+1, "")
		w.commitMu.Lock()
		sess.Commit()
		w.commitMu.Unlock()
	}
}

// failedRecord is a record the backend refused for good, and why.
type failedRecord struct {
	rec Record
	err error
}

// deliver writes b, retrying retryable failures until they succeed, and dead-letters the
// records refused for good. It returns an error only when ctx is done first.
func (w *Worker) deliver(ctx context.Context, b *batch, log *slog.Logger) error {
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-w.slots }()
	inflight := w.m.inflight.WithLabelValues(w.cfg.Group)
	inflight.Inc()
	defer inflight.Dec()

	pending := b.records
	var dead []failedRecord
	var lastErr error
	started := time.Now()
	attempts := 0
	for attempt := 0; len(pending) > 0; attempt++ {
		attempts++
		if attempt > 0 {
			w.m.retries.WithLabelValues(w.cfg.Group, w.backend.Name()).Inc()
			wait := w.backoff.Wait(attempt-1, lastErr)
			if attempt&(attempt-1) == 0 { // 1st, 2nd, 4th, 8th… retry
				log.Warn("write failed; retrying", "err", lastErr, "records", len(pending), "attempt", attempt,
					"failing_for", time.Since(started).Round(time.Millisecond), "retry_in", wait.Round(time.Millisecond))
			}
			if !sleep(ctx, wait) {
				return ctx.Err()
			}
		}
		retry, refused, err := w.attempt(ctx, pending)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		dead = append(dead, refused...)
		pending, lastErr = retry, err
	}
	if attempts > 1 {
		log.Info("batch delivered after retries", "records", len(b.records), "dead_lettered", len(dead),
			"attempts", attempts, "took", time.Since(started).Round(time.Millisecond))
	}
	if len(dead) > 0 {
		if err := w.deadLetter(ctx, dead, log); err != nil {
			return err
		}
	}
	return nil
}

// attempt makes one WriteBatch call and sorts its outcome into the records to try again and
// those refused for good.
func (w *Worker) attempt(ctx context.Context, recs []Record) (retry []Record, refused []failedRecord, err error) {
	actx, cancel := context.WithTimeout(ctx, w.cfg.WriteTimeout)
	start := time.Now()
	err = w.backend.WriteBatch(actx, recs)
	cancel()
	name := w.backend.Name()
	w.m.write.WithLabelValues(w.cfg.Group, name).Observe(time.Since(start).Seconds())
	if err == nil {
		w.m.batches.WithLabelValues(w.cfg.Group, name, BatchOK).Inc()
		w.m.records.WithLabelValues(w.cfg.Group, name, RecordWritten).Add(float64(len(recs)))
		return nil, nil, nil
	}
	if ctx.Err() != nil {
		return recs, nil, err
	}
	var be *BatchError
	if errors.As(err, &be) && len(be.Failed) > 0 {
		failed := make(map[int]error, len(be.Failed))
		valid := true
		for _, f := range be.Failed {
			if f.Index < 0 || f.Index >= len(recs) {
				valid = false
				break
			}
			if _, dup := failed[f.Index]; !dup {
				failed[f.Index] = f.Err
			}
		}
		if valid {
			result := BatchPartial
			if len(failed) == len(recs) {
				result = BatchFailed
			}
			w.m.batches.WithLabelValues(w.cfg.Group, name, result).Inc()
			w.m.records.WithLabelValues(w.cfg.Group, name, RecordWritten).Add(float64(len(recs) - len(failed)))
			idx := make([]int, 0, len(failed))
			for i := range failed {
				idx = append(idx, i)
			}
			slices.Sort(idx)
			for _, i := range idx {
				if permanent(failed[i]) {
					refused = append(refused, failedRecord{rec: recs[i], err: failed[i]})
				} else {
					retry = append(retry, recs[i])
				}
			}
			return retry, refused, err
		}
		w.log.Error("backend reported a failed record outside its batch; retrying the whole batch", "err", err, "records", len(recs))
		err = fmt.Errorf("invalid batch error from %s backend: %w", name, err)
	}
	w.m.batches.WithLabelValues(w.cfg.Group, name, BatchFailed).Inc()
	if permanent(err) {
		for _, r := range recs {
			refused = append(refused, failedRecord{rec: r, err: err})
		}
		return nil, refused, err
	}
	return recs, nil, err
}

// permanent reports whether a failure goes to dead-letters: only errors marked Permanent.
// A cancellation the worker did not cause is retried, never dead-lettered.
func permanent(err error) bool { return errors.Is(err, ErrPermanent) }

// deadLetter produces an envelope of every refused record to the dead-letter topic and waits
// for the brokers' acknowledgement, retrying until it succeeds or ctx is done.
func (w *Worker) deadLetter(ctx context.Context, dead []failedRecord, log *slog.Logger) error {
	msgs := make([]*sarama.ProducerMessage, 0, len(dead))
	index := make(map[*sarama.ProducerMessage]int, len(dead))
	build := func(i int) (*sarama.ProducerMessage, error) {
		d := dead[i]
		ts := d.rec.Timestamp
		if ts.IsZero() {
			ts = time.Now()
		}
		env := codecs.DeadLetter{
			Topic: d.rec.Topic, Partition: d.rec.Partition, Offset: d.rec.Offset,
			Key: string(d.rec.Key), Value: d.rec.Value,
			Reason: DeadLetterReason(d.err), Detail: d.err.Error(),
			Stage: w.cfg.Group, Time: ts.UTC(),
		}
		b, err := json.Marshal(&env)
		if err != nil {
			return nil, err
		}
		m := &sarama.ProducerMessage{Topic: w.cfg.DeadLetterTopic, Value: sarama.ByteEncoder(b)}
		if d.rec.Key != nil {
			m.Key = sarama.ByteEncoder(d.rec.Key)
		}
		index[m] = i
		return m, nil
	}
	for i := range dead {
		m, err := build(i)
		if err != nil {
			return fmt.Errorf("encode dead letter: %w", err) // cannot happen: the envelope is plain data
		}
		msgs = append(msgs, m)
	}
	for attempt := 0; ; attempt++ {
		err := w.producer.SendMessages(msgs)
		if err == nil {
			break
		}
		var pe sarama.ProducerErrors
		if errors.As(err, &pe) && len(pe) > 0 {
			err = fmt.Errorf("%w: first: %w", err, pe[0].Err)
			var again []*sarama.ProducerMessage
			for _, e := range pe {
				if i, ok := index[e.Msg]; ok {
					m, _ := build(i)
					again = append(again, m)
				}
			}
			if len(again) > 0 {
				msgs = again
			}
		}
		wait := w.backoff.Wait(attempt, nil)
		log.Warn("producing dead letters failed; retrying (the batch stays uncommitted)", "err", err, "records", len(msgs), "attempt", attempt+1, "retry_in", wait.Round(time.Millisecond))
		if !sleep(ctx, wait) {
			return ctx.Err()
		}
	}
	name := w.backend.Name()
	reasons := map[codecs.Reason]int{}
	for _, d := range dead {
		reason := DeadLetterReason(d.err)
		reasons[reason]++
		w.m.deadLetters.WithLabelValues(w.cfg.Group, string(reason)).Inc()
	}
	log.Warn("records dead-lettered", "records", len(dead), "first_offset", dead[0].rec.Offset,
		"reasons", reasons, "first_err", dead[0].err)
	w.m.records.WithLabelValues(w.cfg.Group, name, RecordDeadLettered).Add(float64(len(dead)))
	return nil
}

// sleep waits d or until ctx is done; it reports whether the wait ran out.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
