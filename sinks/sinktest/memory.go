package sinktest

import (
	"context"
	"sync"
	"testing"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
)

// Memory is the reference destination: it keeps the records written to it, once per topic,
// partition and offset (a redelivered record replaces itself, as an idempotent destination
// does), in the order written. It is a Harness, so the suite runs against it too, and its
// Backend is what the delivery core's own tests write to.
type Memory struct {
	Faults

	mu       sync.Mutex
	order    []recordID
	records  map[recordID]sinks.Record
	writes   int
	rewrites int
}

type recordID struct {
	topic     string
	partition int32
	offset    int64
}

// NewMemory returns an empty destination.
func NewMemory() *Memory { return &Memory{records: map[recordID]sinks.Record{}} }

// NewBackend returns a backend writing to m, with m's faults applied.
func (m *Memory) NewBackend(*testing.T) sinks.Backend { return m.Wrap(&memoryBackend{m: m}) }

// Stored returns the Items of the records m holds, in the order they were first written.
func (m *Memory) Stored(t *testing.T) []Item {
	t.Helper()
	var out []Item
	for _, r := range m.Records() {
		items, err := ItemsOf(r)
		if err != nil {
			t.Fatalf("memory holds an undecodable record: %v", err)
		}
		out = append(out, items...)
	}
	return out
}

// Records returns the records m holds, in the order they were first written.
func (m *Memory) Records() []sinks.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]sinks.Record, 0, len(m.order))
	for _, id := range m.order {
		out = append(out, m.records[id])
	}
	return out
}

// Writes counts the WriteBatch calls that reached m.
func (m *Memory) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// Rewrites counts the records written again (redelivered) after they were first written.
func (m *Memory) Rewrites() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rewrites
}

type memoryBackend struct{ m *Memory }

func (b *memoryBackend) Name() string                  { return "memory" }
func (b *memoryBackend) Connect(context.Context) error { return nil }
func (b *memoryBackend) Close(context.Context) error   { return nil }

// WriteBatch stores the records; one that is not JSON of the suite's types is refused for good,
// as a destination that decodes what it stores would.
func (b *memoryBackend) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m := b.m
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes++
	var failed []sinks.RecordError
	for i, r := range batch {
		if _, err := ItemsOf(r); err != nil {
			failed = append(failed, sinks.RecordError{Index: i, Err: sinks.Permanent(&codecs.DecodeError{Reason: codecs.ReasonInvalidJSON, Detail: err.Error()})})
			continue
		}
		id := recordID{r.Topic, r.Partition, r.Offset}
		if _, ok := m.records[id]; ok {
			m.rewrites++
		} else {
			m.order = append(m.order, id)
		}
		r.Key, r.Value = append([]byte(nil), r.Key...), append([]byte(nil), r.Value...)
		m.records[id] = r
	}
	if len(failed) > 0 {
		return &sinks.BatchError{Failed: failed}
	}
	return nil
}

var _ Harness = (*Memory)(nil)
