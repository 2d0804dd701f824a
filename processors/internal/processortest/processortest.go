// Package processortest runs fleetstream's group graphs under goka's tester and loads the
// shared payload fixtures, for the tests of the processors packages.
package processortest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/tester"
)

// PayloadDir is where the shared fixtures sit, relative to a group package's directory
// (processors/<group>); the folder sits beside the repository, locally and in CI.
const PayloadDir = "../../../shared/payloads"

// Payload returns the bytes of the fixture name.
func Payload(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(filepath.FromSlash(PayloadDir), name))
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return b
}

// Start builds the processors of graphs on tt and runs them until the test ends. A processor
// that stops with an error while the test runs (a callback panicked, a codec failed) crashes the
// test binary with the cause, since goka's tester would otherwise wait for it forever.
func Start(t testing.TB, tt *tester.Tester, graphs ...*goka.GroupGraph) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, len(graphs))
	for _, g := range graphs {
		proc, err := goka.NewProcessor(nil, g, goka.WithTester(tt))
		if err != nil {
			cancel()
			t.Fatalf("processor %s: %v", g.Group(), err)
		}
		go func() {
			err := proc.Run(ctx)
			if err != nil && ctx.Err() == nil {
				// goka's tester waits forever for a processor that stopped; crash the test
				// binary with the cause instead of hanging until the test timeout.
				panic(fmt.Sprintf("processor %s stopped: %v", g.Group(), err))
			}
			done <- err
		}()
	}
	t.Cleanup(func() {
		cancel()
		for range graphs {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("processor stopped: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("processor did not stop within 10s")
				return
			}
		}
	})
}

// Drain returns the values left on a queue tracker.
func Drain(q *tester.QueueTracker) []any {
	var out []any
	for {
		_, v, ok := q.Next()
		if !ok {
			return out
		}
		out = append(out, v)
	}
}

// DrainKeys returns the keys and values left on a queue tracker.
func DrainKeys(q *tester.QueueTracker) (keys []string, values []any) {
	for {
		k, v, ok := q.Next()
		if !ok {
			return keys, values
		}
		keys = append(keys, k)
		values = append(values, v)
	}
}

// Modify returns payload with edit applied to its top-level JSON object, for variants of a
// fixture (another timestamp, trip or VIN).
func Modify(t testing.TB, payload []byte, edit func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		t.Fatalf("fixture is not a JSON object: %v", err)
	}
	edit(m)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("marshal variant: %v", err)
	}
	return b
}

// Set returns payload with the top-level fields kv (name, value, name, value…) set.
func Set(t testing.TB, payload []byte, kv ...any) []byte {
	t.Helper()
	if len(kv)%2 != 0 {
		t.Fatalf("Set: odd number of arguments")
	}
	return Modify(t, payload, func(m map[string]any) {
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
	})
}
