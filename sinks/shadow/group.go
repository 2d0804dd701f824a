package shadow

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/lovoo/goka"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow/target"
)

// Group is the command-sink group; its table is Table.
const Group goka.Group = "command-sink"

// Table is the group table, "command-sink-table": a Delivered per VIN.
var Table = goka.GroupTable(Group)

// Delivered is the group's state per VIN: the newest commands published to the vehicle, by id.
type Delivered struct {
	VIN string `json:"vin"`
	// Commands are the delivered commands, oldest first, at most Config.Remember.
	Commands []DeliveredCommand `json:"commands"`
}

// DeliveredCommand is one command the backend acknowledged.
type DeliveredCommand struct {
	ID          string    `json:"id"`
	DeliveredAt time.Time `json:"delivered_at"`
}

// Has reports whether the command id was delivered.
func (d *Delivered) Has(id string) bool {
	if d == nil {
		return false
	}
	return slices.ContainsFunc(d.Commands, func(c DeliveredCommand) bool { return c.ID == id })
}

// Add records a delivered command and drops the oldest beyond keep.
func (d *Delivered) Add(id string, at time.Time, keep int) {
	d.Commands = append(d.Commands, DeliveredCommand{ID: id, DeliveredAt: at.UTC()})
	if over := len(d.Commands) - keep; over > 0 {
		d.Commands = slices.Delete(d.Commands, 0, over)
	}
}

// Define returns the command-sink group graph. Its callback, for each record of Commands:
// decodes it (a record that cannot be decoded, or whose VIN is not its key, becomes a dead
// letter); skips it when its id is in the VIN's Delivered (result duplicate); otherwise
// publishes it through cfg.Backend, retrying retryable failures with backoff until they succeed
// or the processor stops, and then records the id. A permanent failure becomes a dead letter
// with the reason. Call cfg.Validate first.
func Define(cfg Config) *goka.GroupGraph {
	s := &sink{cfg: cfg.withDefaults()}
	return goka.DefineGroup(Group,
		goka.Input(s.cfg.Commands, new(codecs.Raw), s.process),
		goka.Output(s.cfg.DeadLetters, new(codecs.JSON[codecs.DeadLetter])),
		goka.Persist(new(codecs.JSON[Delivered])),
	)
}

type sink struct {
	cfg Config
}

func (s *sink) backendName() string { return s.cfg.Backend.Name() }

func (s *sink) process(ctx goka.Context, msg any) {
	raw, _ := msg.([]byte)
	if err := ctx.Context().Err(); err != nil {
		s.abandon(ctx, err)
		return
	}
	cmd, err := decode(ctx.Key(), raw)
	if err != nil {
		s.deadLetter(ctx, raw, err)
		return
	}
	state, _ := ctx.Value().(*Delivered)
	if state.Has(cmd.ID) {
		s.cfg.Metrics.result(s.backendName(), ResultDuplicate)
		s.cfg.Logger.Debug("command already delivered; not publishing again", "vin", cmd.VIN, "id", cmd.ID, "offset", ctx.Offset())
		return
	}
	rec := sinks.Record{
		Topic: string(ctx.Topic()), Partition: ctx.Partition(), Offset: ctx.Offset(),
		Key: []byte(ctx.Key()), Value: raw, Timestamp: ctx.Timestamp(),
	}
	err = s.deliver(ctx.Context(), rec)
	switch {
	case err == nil:
		now := time.Now()
		s.cfg.Metrics.published(s.backendName(), cmd.IssuedAt, now)
		if state == nil {
			state = &Delivered{VIN: cmd.VIN}
		}
		state.Add(cmd.ID, now, s.cfg.Remember)
		ctx.SetValue(state)
	case ctx.Context().Err() != nil:
		s.abandon(ctx, err)
	default:
		s.deadLetter(ctx, raw, err)
	}
}

// decode decodes a command and checks it sits under its VIN's key.
func decode(key string, raw []byte) (codecs.Command, error) {
	cmd, err := target.DecodeCommand(raw)
	if err != nil {
		return cmd, err
	}
	if cmd.VIN != key {
		return cmd, &codecs.DecodeError{Reason: codecs.ReasonKeyMismatch, Detail: fmt.Sprintf("command vin %q, record key %q", cmd.VIN, key)}
	}
	return cmd, nil
}

// deliver publishes one record through the backend, retrying retryable failures with
// exponential backoff and jitter until it succeeds, fails permanently, or ctx ends.
func (s *sink) deliver(ctx context.Context, rec sinks.Record) error {
	backoff := s.cfg.Retry.Initial
	for attempt := 1; ; attempt++ {
		err := s.attempt(ctx, rec)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w (last attempt: %w)", ctx.Err(), err)
		}
		if !sinks.Retryable(err) {
			return err
		}
		s.cfg.Metrics.retry(s.backendName())
		wait := backoff/2 + rand.N(backoff/2+1)
		if d, ok := sinks.RetryAfter(err); ok && d > wait {
			wait = min(d, s.cfg.Retry.Max) // the destination asked for a longer wait
		}
		s.cfg.Logger.Warn("command publish failed; retrying", "backend", s.backendName(), "key", string(rec.Key),
			"offset", rec.Offset, "attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last attempt: %w)", ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(time.Duration(float64(backoff)*s.cfg.Retry.Multiplier), s.cfg.Retry.Max)
	}
}

// attempt writes a batch of one record and returns that record's error.
func (s *sink) attempt(ctx context.Context, rec sinks.Record) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
	defer cancel()
	err := s.cfg.Backend.WriteBatch(ctx, []sinks.Record{rec})
	var be *sinks.BatchError
	if errors.As(err, &be) {
		if len(be.Failed) == 0 {
			return nil
		}
		return be.Failed[0].Err
	}
	return err
}

// deadLetter emits the record with the reason of err: that of a *codecs.DecodeError in its
// chain, else sinks.ReasonRejected, as the delivery core gives it.
func (s *sink) deadLetter(ctx goka.Context, raw []byte, err error) {
	reason, detail := sinks.DeadLetterReason(err), err.Error()
	var de *codecs.DecodeError
	if errors.As(err, &de) {
		detail = de.Detail
	}
	ts := ctx.Timestamp()
	if ts.IsZero() {
		ts = time.Now()
	}
	ctx.Emit(s.cfg.DeadLetters, ctx.Key(), &codecs.DeadLetter{
		Topic:     string(ctx.Topic()),
		Partition: ctx.Partition(),
		Offset:    ctx.Offset(),
		Key:       ctx.Key(),
		Value:     raw,
		Reason:    reason,
		Detail:    detail,
		Stage:     string(Group),
		Time:      ts.UTC(),
	})
	s.cfg.Metrics.result(s.backendName(), ResultFailed)
	s.cfg.Logger.Warn("command dead-lettered", "key", ctx.Key(), "offset", ctx.Offset(), "reason", reason, "detail", detail)
}

// abandon leaves the record uncommitted: the processor is stopping (shutdown or rebalance)
// before the command was delivered, so whoever owns the partition next gets it again. goka
// commits a record when its callback returns unless a deferred commit reports an error.
func (s *sink) abandon(ctx goka.Context, err error) {
	s.cfg.Logger.Info("processor stopping; command left for redelivery", "key", ctx.Key(), "offset", ctx.Offset(), "err", err)
	ctx.DeferCommit()(fmt.Errorf("command sink: not delivered before the processor stopped: %w", err))
}
