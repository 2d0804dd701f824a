package topology

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
)

func testGraph() *goka.GroupGraph {
	cb := func(goka.Context, any) {}
	return goka.DefineGroup("enricher",
		goka.Input("events", new(codec.String), cb),
		goka.Join("profiles-table", new(codec.String)),
		goka.Lookup("prices-table", new(codec.String)),
		goka.Persist(new(codec.String)),
		goka.Output("enriched", new(codec.String)),
		goka.Output("errors", new(codec.String)),
	)
}

func TestDescribeGraphReadsTheGraph(t *testing.T) {
	n := DescribeGraph(testGraph())
	want := Node{Group: "enricher", Kind: "processor", Inputs: []string{"events"}, Joins: []string{"profiles-table"},
		Lookups: []string{"prices-table"}, Table: "enricher-table", Outputs: []string{"enriched", "errors"}}
	got, _ := json.Marshal(n)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Fatalf("DescribeGraph = %s\nwant            %s", got, exp)
	}
}

func TestRenderFormats(t *testing.T) {
	d := Description{Nodes: []Node{DescribeGraph(testGraph()), {Group: "sink", Kind: "sink", Inputs: []string{"enriched"}, Destinations: []string{"Timestream"}}}}
	for format, wants := range map[string][]string{
		"text":    {"enricher (processor)", "joins         profiles-table", "writes to     Timestream"},
		"mermaid": {"flowchart LR", "t_events[/events/]", "t_events --> g_enricher", "tbl_profiles_table -. join .-> g_enricher", "g_sink --> d_Timestream"},
		"dot":     {"digraph fleetstream", `"box:enricher"`, `label=join`},
		"json":    {`"group": "enricher"`, `"destinations": [`},
	} {
		out, err := d.Render(format)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("%s output lacks %q:\n%s", format, w, out)
			}
		}
	}
	if _, err := d.Render("svg"); err == nil {
		t.Error("unknown format accepted")
	}
}
