package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated parts of README.md")

// readmePath is the repository's README, two directories up.
var readmePath = filepath.Join("..", "..", "README.md")

// mermaidBlock returns the offsets of the body of the ```mermaid block of the section titled
// heading in doc.
func mermaidBlock(doc, heading string) (start, end int, ok bool) {
	h := strings.Index(doc, "\n"+heading+"\n")
	if h < 0 {
		return 0, 0, false
	}
	const open = "```mermaid\n"
	o := strings.Index(doc[h:], open)
	if o < 0 {
		return 0, 0, false
	}
	start = h + o + len(open)
	if next := strings.Index(doc[h+1:], "\n## "); next >= 0 && h+1+next < start {
		return 0, 0, false // the block belongs to a later section
	}
	c := strings.Index(doc[start:], "```")
	if c < 0 {
		return 0, 0, false
	}
	return start, start + c, true
}

// TestREADMETopology keeps the README's Topology diagram equal to what
// `fleetstream topology describe --format mermaid` prints. Run with -update to rewrite it.
func TestREADMETopology(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"topology", "describe", "--format", "mermaid"}, &out, &errOut); err != nil {
		t.Fatalf("topology describe: %v\n%s", err, errOut.String())
	}
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start, end, ok := mermaidBlock(doc, "## Topology")
	if !ok {
		t.Fatalf("%s has no \"## Topology\" section with a ```mermaid block", readmePath)
	}
	if doc[start:end] == out.String() {
		return
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(doc[:start]+out.String()+doc[end:]), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote the Topology diagram in %s", readmePath)
		return
	}
	t.Errorf("the README's Topology diagram differs from `fleetstream topology describe --format mermaid`;\n"+
		"run: go test ./cmd/fleetstream -run TestREADMETopology -update\n--- README\n%s\n--- generated\n%s", doc[start:end], out.String())
}

func TestMermaidBlock(t *testing.T) {
	doc := "# x\n\n## Topology\n\ntext\n\n```mermaid\nflowchart LR\n```\n\n## Metrics\n"
	start, end, ok := mermaidBlock(doc, "## Topology")
	if !ok || doc[start:end] != "flowchart LR\n" {
		t.Fatalf("block = %q, %v", doc[start:end], ok)
	}
	if _, _, ok := mermaidBlock("## Topology\n\nnone here\n\n## Other\n```mermaid\nx\n```\n", "## Topology"); ok {
		t.Error("took the block of a later section")
	}
}

func TestTopologyDescribeFormats(t *testing.T) {
	for format, want := range map[string]string{
		"text":    "vehicle-state (processor)\n  reads         telemetry\n  joins         trip-state-table",
		"mermaid": "t_commands --> g_command_sink",
		"dot":     `"box:dtc-monitor" -> "parallelogram:commands";`,
		"json":    `"group": "timeseries-sink"`,
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"topology", "describe", "--format", format}, &out, &errOut); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("%s output lacks %q:\n%s", format, want, out.String())
		}
		if format == "json" && !json.Valid(out.Bytes()) {
			t.Errorf("json output is not JSON:\n%s", out.String())
		}
	}
	// Topic names come from the same flags as everywhere else.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"topology", "describe", "--topic-telemetry", "signals"}, &out, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "reads         signals") {
		t.Errorf("renamed topic not shown:\n%s", out.String())
	}
	if err := run(context.Background(), []string{"topology", "describe", "--format", "svg"}, &out, &out); err == nil {
		t.Error("unknown format accepted")
	}
}
