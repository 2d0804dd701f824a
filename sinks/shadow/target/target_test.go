package target_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow/target"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s:\n got %s\nwant %s", name, got, want)
	}
}

func TestDefaultRendering(t *testing.T) {
	r, err := target.New(target.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	cmd := target.SampleCommand()
	m, err := r.Render(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic != "$aws/things/1FTEW1EP5JKD00001/shadow/update" || m.Thing != "1FTEW1EP5JKD00001" {
		t.Fatalf("topic %q thing %q", m.Topic, m.Thing)
	}
	golden(t, "default_payload.json", m.Payload)
}

func TestCustomTemplates(t *testing.T) {
	cfg := target.Config{
		Topic:   "fleet/{{.VIN}}/commands/{{.Action}}",
		Payload: `{"command":{{json .Action}},"id":{{json .ID}},"reason":{{json .Reason}},"code":{{json .Code}},"issued_at":{{json .IssuedAt}}}`,
		Actions: []string{codecs.CommandEngineStop, "unlock"},
	}
	r, err := target.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cmd := target.SampleCommand()
	cmd.Reason = `quote " and backslash \ stay JSON`
	m, err := r.Render(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic != "fleet/1FTEW1EP5JKD00001/commands/engine_stop" {
		t.Fatalf("topic %q", m.Topic)
	}
	golden(t, "custom_payload.json", m.Payload)
}

func TestValidateRejectsBadTemplates(t *testing.T) {
	cases := []struct {
		name string
		cfg  target.Config
		want string
	}{
		{"syntax", target.Config{Topic: "things/{{.VIN"}, "Topic template"},
		{"unknown field", target.Config{Payload: `{"x":{{json .Speed}}}`}, "Speed"},
		{"invalid JSON", target.Config{Payload: `{"id":{{.ID}}}`}, "invalid JSON"},
		{"unquoted field breaks JSON", target.Config{Payload: `{"reason":"{{.Reason}}"`}, "invalid JSON"},
		{"wildcard topic", target.Config{Topic: "things/+/{{.VIN}}"}, "must not contain +"},
		{"empty topic", target.Config{Topic: "{{if false}}x{{end}}"}, "empty topic"},
		{"thing", target.Config{Thing: "{{.VIN}}/x"}, "Thing renders"},
		{"empty action", target.Config{Actions: []string{" "}}, "Actions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	if err := (target.Config{}).Validate(); err != nil {
		t.Fatalf("zero config (defaults): %v", err)
	}
}

func TestRenderRefusesCommands(t *testing.T) {
	r, err := target.New(target.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	long := target.SampleCommand()
	long.ID = strings.Repeat("a", target.MaxIDBytes+1)
	slash := target.SampleCommand()
	slash.VIN = "VIN/../x"
	plus := target.SampleCommand()
	plus.VIN = "VIN+"
	unlock := target.SampleCommand()
	unlock.Action = "unlock"
	for _, tc := range []struct {
		cmd  codecs.Command
		want codecs.Reason
	}{
		{long, target.ReasonMissingID},
		{slash, target.ReasonBadVIN},
		{plus, target.ReasonBadVIN},
		{unlock, target.ReasonUnsupportedAction},
	} {
		_, err := r.Render(tc.cmd)
		var de *codecs.DecodeError
		if !errors.As(err, &de) || de.Reason != tc.want || sinks.Retryable(err) {
			t.Errorf("Render(%+v) = %v, want permanent %s", tc.cmd, err, tc.want)
		}
	}
}

func TestDecodeCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want codecs.Reason
	}{
		{`nope`, codecs.ReasonInvalidJSON},
		{`{"vin":"V1","action":"engine_stop"}`, target.ReasonMissingID},
		{`{"id":"x","action":"engine_stop"}`, codecs.ReasonMissingVIN},
		{strings.Repeat(" ", codecs.MaxMessageBytes+1), codecs.ReasonTooLarge},
	} {
		_, err := target.DecodeCommand([]byte(tc.in))
		var de *codecs.DecodeError
		if !errors.As(err, &de) || de.Reason != tc.want {
			t.Errorf("DecodeCommand(%.30q) = %v, want %s", tc.in, err, tc.want)
		}
	}
}
