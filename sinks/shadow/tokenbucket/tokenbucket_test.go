package tokenbucket

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestBucketLimitsRate(t *testing.T) {
	b := New(200, 5)
	ctx := context.Background()
	start := time.Now()
	for range 25 { // 5 from the burst, 20 at 200/s: about 100 ms
		if err := b.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Fatalf("25 tokens at 200/s with burst 5 took %s, want about 100ms", d)
	}
}

func TestBucketBurstIsImmediate(t *testing.T) {
	b := New(1, 10)
	start := time.Now()
	for range 10 {
		if err := b.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Fatalf("burst of 10 took %s", d)
	}
}

func TestBucketWaitHonoursContext(t *testing.T) {
	b := New(0.1, 1)
	_ = b.Wait(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := b.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want deadline exceeded", err)
	}
}

func TestNoLimit(t *testing.T) {
	var nilBucket *Bucket
	for _, b := range []*Bucket{New(0, 0), nilBucket} {
		for range 1000 {
			if err := b.Wait(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
}
