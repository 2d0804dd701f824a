package sinks

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
)

// ReasonRejected is the dead-letter reason of a record a backend refused for good without a
// reason of its own (see DeadLetterReason).
const ReasonRejected codecs.Reason = "rejected"

// RetryAfterError is a retryable failure for which the destination said how long to wait
// (HTTP 429 or 503 with Retry-After, a throttling exception with a hint).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }

// WithRetryAfter wraps err with the wait the destination asked for. A nil err stays nil.
func WithRetryAfter(err error, after time.Duration) error {
	if err == nil {
		return nil
	}
	return &RetryAfterError{After: after, Err: err}
}

// RetryAfter returns the wait a failure asks for: that of a *RetryAfterError in err's chain,
// or for a *BatchError the longest of its records' waits. The delivery core waits at least
// that long (capped at MaxRetryAfter) before the next attempt.
func RetryAfter(err error) (time.Duration, bool) {
	var ra *RetryAfterError
	if errors.As(err, &ra) {
		return ra.After, true
	}
	var be *BatchError
	if errors.As(err, &be) {
		var longest time.Duration
		found := false
		for _, f := range be.Failed {
			if d, ok := RetryAfter(f.Err); ok {
				found = true
				longest = max(longest, d)
			}
		}
		return longest, found
	}
	return 0, false
}

// DeadLetterReason returns the reason a dead letter of err carries: that of a
// *codecs.DecodeError in err's chain (a backend that could not decode a record says why with
// sinks.Permanent(&codecs.DecodeError{…})), otherwise ReasonRejected.
func DeadLetterReason(err error) codecs.Reason {
	var de *codecs.DecodeError
	if errors.As(err, &de) && de.Reason != "" {
		return de.Reason
	}
	return ReasonRejected
}

// Backoff computes the waits between attempts: exponential from Initial to Max with full
// jitter (a uniformly random wait between zero and the exponential bound), never shorter than
// what the failure asked for with RetryAfter.
type Backoff struct {
	Initial, Max time.Duration
}

// Wait returns the wait before attempt number attempt+1 (attempt counts from 0) after err.
func (b Backoff) Wait(attempt int, err error) time.Duration {
	bound := b.Initial
	for i := 0; i < attempt && bound < b.Max; i++ {
		bound *= 2
	}
	bound = min(bound, b.Max)
	wait := time.Duration(0)
	if bound > 0 {
		wait = rand.N(bound + 1)
	}
	if d, ok := RetryAfter(err); ok {
		wait = max(wait, min(d, MaxRetryAfter))
	}
	return wait
}
