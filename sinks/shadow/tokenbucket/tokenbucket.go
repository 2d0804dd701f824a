package tokenbucket

import (
	"context"
	"sync"
	"time"
)

// Bucket is a token bucket: it holds up to burst tokens and gains rate tokens per second. Wait
// takes one token, blocking until there is one. It is safe for concurrent use.
type Bucket struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
	now    func() time.Time
}

// New returns a full bucket. A rate of zero or less means no limit.
func New(rate float64, burst int) *Bucket {
	if burst < 1 {
		burst = 1
	}
	b := &Bucket{rate: rate, burst: float64(burst), tokens: float64(burst), now: time.Now}
	b.last = b.now()
	return b
}

// Wait takes a token, waiting for one while ctx allows. It returns ctx's error when ctx ends
// first; the token is then not taken.
func (b *Bucket) Wait(ctx context.Context) error {
	if b == nil || b.rate <= 0 {
		return ctx.Err()
	}
	for {
		wait := b.reserve()
		if wait == 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// reserve takes a token and returns 0, or returns how long until one is there.
func (b *Bucket) reserve() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}
