package simulator

import (
	"context"
	"sync"
	"time"
)

// tokenBucket paces messages to a sustained rate. Waiters reserve a token and sleep off the
// deficit, so the bucket serves them in arrival order and never exceeds rate over time; a
// tenth of a second's worth may be spent at once after a quiet spell.
type tokenBucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64) *tokenBucket {
	burst := max(1, rate/10)
	return &tokenBucket{rate: rate, burst: burst, tokens: burst, last: time.Now()}
}

// wait takes one token, sleeping until it is due or ctx ends.
func (b *tokenBucket) wait(ctx context.Context) error {
	b.mu.Lock()
	now := time.Now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens--
	deficit := -b.tokens
	b.mu.Unlock()
	if deficit <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(time.Duration(deficit / b.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
