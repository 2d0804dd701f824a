package sinktest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
)

// ErrInjected is the retryable failure Faults injects (throttling, a 5xx).
var ErrInjected = errors.New("sinktest: injected throttling")

// ReasonInjected is the dead-letter reason of a record Faults rejects.
const ReasonInjected codecs.Reason = "injected_rejection"

// Faults injects destination failures in front of a backend whose destination cannot be made to
// fail on demand (local files, memory): a harness embeds a *Faults for the Harness methods and
// wraps each backend with Wrap. Backends that talk to a server inject failures in the server
// instead, which also tests how the backend reads the server's errors.
type Faults struct {
	mu       sync.Mutex
	failNext int
	hangNext int
	rejected map[string]bool
}

// FailNext makes the next n writes fail as a whole with a retryable error that asks for a short
// wait (sinks.RetryAfter).
func (f *Faults) FailNext(n int) {
	f.mu.Lock()
	f.failNext += n
	f.mu.Unlock()
}

// RejectKeys makes every later write refuse, for good, the records with one of keys.
func (f *Faults) RejectKeys(keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rejected == nil {
		f.rejected = map[string]bool{}
	}
	for _, k := range keys {
		f.rejected[k] = true
	}
}

// HangNext makes the next write block until its context is done.
func (f *Faults) HangNext() {
	f.mu.Lock()
	f.hangNext++
	f.mu.Unlock()
}

// Wrap returns b with the faults applied to its writes.
func (f *Faults) Wrap(b sinks.Backend) sinks.Backend { return &faulty{Backend: b, f: f} }

type faulty struct {
	sinks.Backend
	f *Faults
}

func (b *faulty) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	f := b.f
	f.mu.Lock()
	hang, fail := f.hangNext > 0, f.failNext > 0
	switch {
	case hang:
		f.hangNext--
	case fail:
		f.failNext--
	}
	var keep []int
	var failed []sinks.RecordError
	for i, r := range batch {
		if f.rejected[string(r.Key)] {
			failed = append(failed, sinks.RecordError{Index: i, Err: sinks.Permanent(&codecs.DecodeError{
				Reason: ReasonInjected, Detail: fmt.Sprintf("key %s refused by the destination", r.Key)})})
		} else {
			keep = append(keep, i)
		}
	}
	f.mu.Unlock()
	if hang {
		<-ctx.Done()
		return fmt.Errorf("sinktest: injected hang: %w", ctx.Err())
	}
	if fail {
		return sinks.WithRetryAfter(ErrInjected, 20*time.Millisecond)
	}
	if len(failed) == 0 {
		return b.Backend.WriteBatch(ctx, batch)
	}
	sub := make([]sinks.Record, len(keep))
	for j, i := range keep {
		sub[j] = batch[i]
	}
	if len(sub) > 0 {
		if err := b.Backend.WriteBatch(ctx, sub); err != nil {
			var be *sinks.BatchError
			if !errors.As(err, &be) {
				for _, i := range keep {
					failed = append(failed, sinks.RecordError{Index: i, Err: err})
				}
			} else {
				for _, e := range be.Failed {
					if e.Index >= 0 && e.Index < len(keep) {
						failed = append(failed, sinks.RecordError{Index: keep[e.Index], Err: e.Err})
					}
				}
			}
		}
	}
	slices.SortFunc(failed, func(a, b sinks.RecordError) int { return a.Index - b.Index })
	return &sinks.BatchError{Failed: failed}
}
