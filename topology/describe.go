package topology

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/lovoo/goka"
)

// Node is one group of a topology as Describe sees it: what it reads, joins and looks up, the
// table it keeps, what it emits, and (for sinks) where it writes outside Kafka.
type Node struct {
	Group        string   `json:"group"`
	Kind         string   `json:"kind"` // processor or sink
	Inputs       []string `json:"inputs"`
	Joins        []string `json:"joins,omitempty"`
	Lookups      []string `json:"lookups,omitempty"`
	Table        string   `json:"table,omitempty"`
	Outputs      []string `json:"outputs,omitempty"`
	Destinations []string `json:"destinations,omitempty"`
}

// Description is a whole topology, in data-flow order.
type Description struct {
	Nodes []Node `json:"groups"`
}

// DescribeGraph reads a goka group graph: the description comes from the graph the processor
// actually runs, so it cannot drift from the code.
func DescribeGraph(gg *goka.GroupGraph) Node {
	n := Node{Group: string(gg.Group()), Kind: "processor"}
	n.Inputs = topics(gg.InputStreams())
	n.Joins = topics(gg.JointTables())
	n.Lookups = topics(gg.LookupTables())
	if t := gg.GroupTable(); t != nil {
		n.Table = t.Topic()
	}
	n.Outputs = topics(gg.OutputStreams())
	return n
}

func topics(edges goka.Edges) []string {
	var out []string
	for _, e := range edges {
		out = append(out, e.Topic())
	}
	sort.Strings(out)
	return out
}

// Formats Describe renders.
var Formats = []string{"text", "mermaid", "dot", "json"}

// Render writes the description in format (text, mermaid, dot or json).
func (d Description) Render(format string) (string, error) {
	switch format {
	case "text":
		return d.text(), nil
	case "mermaid":
		return d.mermaid(), nil
	case "dot":
		return d.dot(), nil
	case "json":
		b, err := json.MarshalIndent(d, "", "  ")
		return string(b) + "\n", err
	}
	return "", fmt.Errorf("format %q: use one of %s", format, strings.Join(Formats, ", "))
}

func (d Description) text() string {
	var b strings.Builder
	for _, n := range d.Nodes {
		fmt.Fprintf(&b, "%s (%s)\n", n.Group, n.Kind)
		line := func(label string, items []string) {
			if len(items) > 0 {
				fmt.Fprintf(&b, "  %-13s %s\n", label, strings.Join(items, ", "))
			}
		}
		line("reads", n.Inputs)
		line("joins", n.Joins)
		line("looks up", n.Lookups)
		if n.Table != "" {
			line("keeps table", []string{n.Table})
		}
		line("emits", n.Outputs)
		line("writes to", n.Destinations)
	}
	return b.String()
}

// mermaidID makes a topic or group name usable as a Mermaid node id.
func mermaidID(prefix, name string) string {
	r := strings.NewReplacer("-", "_", ".", "_", "$", "_", "/", "_", "{", "", "}", "", "+", "_", " ", "_")
	return prefix + "_" + r.Replace(name)
}

func (d Description) mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	declared := map[string]bool{}
	topic := func(name string) string {
		id := mermaidID("t", name)
		if !declared[id] {
			declared[id] = true
			fmt.Fprintf(&b, "  %s[/%s/]\n", id, name)
		}
		return id
	}
	table := func(name string) string {
		id := mermaidID("tbl", name)
		if !declared[id] {
			declared[id] = true
			fmt.Fprintf(&b, "  %s[(%s)]\n", id, name)
		}
		return id
	}
	for _, n := range d.Nodes {
		g := mermaidID("g", n.Group)
		shape := "[[%s]]"
		if n.Kind == "sink" {
			shape = "{{%s}}"
		}
		fmt.Fprintf(&b, "  %s"+shape+"\n", g, n.Group)
		for _, in := range n.Inputs {
			fmt.Fprintf(&b, "  %s --> %s\n", topic(in), g)
		}
		for _, j := range n.Joins {
			fmt.Fprintf(&b, "  %s -. join .-> %s\n", table(j), g)
		}
		for _, l := range n.Lookups {
			fmt.Fprintf(&b, "  %s -. lookup .-> %s\n", table(l), g)
		}
		if n.Table != "" {
			fmt.Fprintf(&b, "  %s --- %s\n", g, table(n.Table))
		}
		for _, out := range n.Outputs {
			fmt.Fprintf(&b, "  %s --> %s\n", g, topic(out))
		}
		for _, dst := range n.Destinations {
			id := mermaidID("d", dst)
			if !declared[id] {
				declared[id] = true
				fmt.Fprintf(&b, "  %s>%s]\n", id, dst)
			}
			fmt.Fprintf(&b, "  %s --> %s\n", g, id)
		}
	}
	return b.String()
}

func (d Description) dot() string {
	var b strings.Builder
	b.WriteString("digraph fleetstream {\n  rankdir=LR;\n  node [fontname=\"Helvetica\"];\n")
	declared := map[string]bool{}
	node := func(name, shape string) string {
		id := fmt.Sprintf("%q", shape+":"+name)
		if !declared[id] {
			declared[id] = true
			fmt.Fprintf(&b, "  %s [label=%q shape=%s];\n", id, name, shape)
		}
		return id
	}
	for _, n := range d.Nodes {
		shape := "box"
		if n.Kind == "sink" {
			shape = "hexagon"
		}
		g := node(n.Group, shape)
		for _, in := range n.Inputs {
			fmt.Fprintf(&b, "  %s -> %s;\n", node(in, "parallelogram"), g)
		}
		for _, j := range n.Joins {
			fmt.Fprintf(&b, "  %s -> %s [style=dashed label=join];\n", node(j, "cylinder"), g)
		}
		for _, l := range n.Lookups {
			fmt.Fprintf(&b, "  %s -> %s [style=dashed label=lookup];\n", node(l, "cylinder"), g)
		}
		if n.Table != "" {
			fmt.Fprintf(&b, "  %s -> %s [dir=both arrowhead=none];\n", g, node(n.Table, "cylinder"))
		}
		for _, out := range n.Outputs {
			fmt.Fprintf(&b, "  %s -> %s;\n", g, node(out, "parallelogram"))
		}
		for _, dst := range n.Destinations {
			fmt.Fprintf(&b, "  %s -> %s;\n", g, node(dst, "cds"))
		}
	}
	b.WriteString("}\n")
	return b.String()
}
