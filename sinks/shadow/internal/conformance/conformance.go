// Package conformance runs the command backends through the sinktest conformance suite.
//
// The suite writes records of the timeseries, anomalies and dtc-events topics; a command backend
// takes commands. Adapt turns each suite record into a command (its id derived from the record's
// topic, partition and offset, its original topic and bytes carried in Reason) before the
// backend sees it, and Items reads the published payloads back the way a vehicle does: one
// command per clientToken, in arrival order, so a redelivered record is one command, not two.
// A record that is not JSON reaches the backend as it is, and the backend refuses it.
package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow/target"
	"github.com/fleetstream/fleetstream/sinks/sinktest"
)

// Target renders the default shadow update with the suite record added under "record".
func Target() target.Config {
	c := target.DefaultConfig()
	c.Payload = `{"state":{"desired":{"engine":"stop"}},"clientToken":{{json .ID}},"record":{{json .Reason}}}`
	return c
}

type envelope struct {
	Topic string          `json:"topic"`
	Value json.RawMessage `json:"value"`
}

// Adapt wraps b so that it takes the suite's records.
func Adapt(b sinks.Backend) sinks.Backend { return adapter{b} }

type adapter struct{ sinks.Backend }

func (a adapter) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	out := make([]sinks.Record, len(batch))
	for i, r := range batch {
		out[i] = r
		if !json.Valid(r.Value) {
			continue // the backend refuses it: not a command
		}
		env, _ := json.Marshal(envelope{Topic: r.Topic, Value: r.Value})
		sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d/%d", r.Topic, r.Partition, r.Offset))
		cmd := codecs.Command{
			ID:       hex.EncodeToString(sum[:16]),
			VIN:      string(r.Key),
			Action:   codecs.CommandEngineStop,
			Reason:   string(env),
			IssuedAt: r.Timestamp,
		}
		v, err := json.Marshal(cmd)
		if err != nil {
			return err
		}
		out[i].Value = v
	}
	return a.Backend.WriteBatch(ctx, out)
}

// Items reads published payloads back as the suite's Items: the first payload of each
// clientToken, in order.
func Items(t *testing.T, payloads [][]byte) []sinktest.Item {
	t.Helper()
	seen := map[string]bool{}
	var items []sinktest.Item
	for _, p := range payloads {
		var msg struct {
			ClientToken string `json:"clientToken"`
			Record      string `json:"record"`
		}
		if err := json.Unmarshal(p, &msg); err != nil {
			t.Fatalf("published payload %s: %v", p, err)
		}
		if seen[msg.ClientToken] {
			continue
		}
		seen[msg.ClientToken] = true
		var env envelope
		if err := json.Unmarshal([]byte(msg.Record), &env); err != nil {
			t.Fatalf("record of payload %s: %v", p, err)
		}
		its, err := sinktest.ItemsOf(sinks.Record{Topic: env.Topic, Value: env.Value})
		if err != nil {
			t.Fatalf("record of payload %s: %v", p, err)
		}
		items = append(items, its...)
	}
	return items
}
