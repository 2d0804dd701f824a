package processors

import (
	"errors"
	"fmt"
	"time"

	"github.com/lovoo/goka"

	"github.com/fleetstream/fleetstream/codecs"
)

// ReasonUnprocessable is the dead-letter reason of an error that is not a *codecs.DecodeError:
// the message decoded but a group could not apply it.
const ReasonUnprocessable codecs.Reason = "unprocessable"

// Reject returns an error carrying reason, for DeadLetter to read back. It is how a group
// gives its own reason (for example codecs.ReasonKeyMismatch) to a message it refuses.
func Reject(reason codecs.Reason, format string, args ...any) error {
	return &codecs.DecodeError{Reason: reason, Detail: fmt.Sprintf(format, args...)}
}

// CheckKey rejects a message whose VIN differs from its Kafka key with
// codecs.ReasonKeyMismatch: the record sits in the partition of another vehicle, so applying it
// would corrupt that vehicle's state and break the co-partitioned joins.
func CheckKey(key, vin string) error {
	if key != vin {
		return Reject(codecs.ReasonKeyMismatch, "payload vin %q, record key %q", truncate(vin, 64), truncate(key, 64))
	}
	return nil
}

// RawValue returns the bytes of a message consumed with codecs.Raw. A nil message (a tombstone,
// which reaches callbacks only when the processor runs with goka.NilProcess or NilDecode rather
// than goka's default NilIgnore) is empty bytes, which the decoders reject as invalid JSON.
func RawValue(msg any) ([]byte, error) {
	switch v := msg.(type) {
	case nil:
		return nil, nil
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	return nil, Reject(codecs.ReasonWrongType, "input edge delivered %T; wire it with codecs.Raw", msg)
}

// DeadLetter builds the envelope of the message being processed: where it came from
// (ctx.Topic, Partition, Offset, Key), its original bytes value, and why it was refused. The
// reason is that of a *codecs.DecodeError found in err's chain (see Reject), otherwise
// ReasonUnprocessable. Time is the record's timestamp, so a replay builds the same envelope;
// a record without one gets the current time.
//
// goka's ctx.Value is the group table's value, not the message, which is why the message
// bytes are passed in.
func DeadLetter(ctx goka.Context, group string, value []byte, err error) *codecs.DeadLetter {
	reason, detail := ReasonOf(err)
	ts := ctx.Timestamp()
	if ts.IsZero() {
		ts = time.Now()
	}
	return &codecs.DeadLetter{
		Topic:     string(ctx.Topic()),
		Partition: ctx.Partition(),
		Offset:    ctx.Offset(),
		Key:       ctx.Key(),
		Value:     value,
		Reason:    reason,
		Detail:    detail,
		Stage:     group,
		Time:      ts.UTC(),
	}
}

// ReasonOf returns the dead-letter reason and detail of err.
func ReasonOf(err error) (codecs.Reason, string) {
	var de *codecs.DecodeError
	if errors.As(err, &de) {
		return de.Reason, de.Detail
	}
	if err == nil {
		return ReasonUnprocessable, ""
	}
	return ReasonUnprocessable, err.Error()
}

// EmitDeadLetter builds the envelope of the message being processed (see DeadLetter), emits it
// to stream keyed like the message, and counts it. Every group's callback hands its errors here.
func EmitDeadLetter(ctx goka.Context, stream goka.Stream, group string, value []byte, err error, m *Metrics) {
	dl := DeadLetter(ctx, group, value, err)
	ctx.Emit(stream, ctx.Key(), dl)
	m.DeadLetter(group, dl.Reason)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// ApplyFunc applies one vehicle message, as raw bytes, in a group's callback. An error means the
// message is refused; RawInput turns it into a dead letter.
type ApplyFunc func(ctx goka.Context, raw []byte) error

// RawInput is the input edge every vehicle group uses, and the one adapter that decides what an
// error means: the topic is read as raw bytes (codecs.Raw, which never fails), apply decodes and
// applies them, and any error becomes a dead letter on deadLetters instead of stopping the
// processor. The callback is timed into fleetstream_processing_seconds.
func RawInput(group goka.Group, topic, deadLetters goka.Stream, m *Metrics, apply ApplyFunc) goka.Edge {
	cb := func(ctx goka.Context, msg any) {
		raw, err := RawValue(msg)
		if err == nil {
			err = apply(ctx, raw)
		}
		if err != nil {
			EmitDeadLetter(ctx, deadLetters, string(group), raw, err, m)
		}
	}
	return goka.Input(topic, codecs.Raw{}, m.Instrument(string(group), topic, cb))
}
