package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fleetstream/fleetstream/internal/fleet"
	"github.com/fleetstream/fleetstream/topology"
)

func newTopologyCmd(stdout, stderr io.Writer, lf *logFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "topology", Short: "Inspect the topology"}
	var (
		kf     *kafkaFlags
		format string
	)
	describe := &cobra.Command{
		Use:   "describe",
		Short: "Print the groups, topics and tables as text, Mermaid, Graphviz dot or JSON",
		Long: `describe prints the topology from the group graphs the workers run: what each group reads,
joins, keeps and emits, and where the sinks write. The README's Topology section is its Mermaid
output.`,
		Example: `  fleetstream topology describe
  fleetstream topology describe --format dot | dot -Tsvg > topology.svg`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if _, err := lf.logger(stderr); err != nil {
				return err
			}
			if err := kf.topics.Validate(); err != nil {
				return err
			}
			cfg := fleet.DefaultConfig()
			cfg.Topics = kf.topics
			out, err := fleet.Describe(cfg).Render(format)
			if err != nil {
				return fmt.Errorf("--format: %w", err)
			}
			_, err = io.WriteString(stdout, out)
			return err
		},
	}
	describe.Flags().StringVar(&format, "format", "text", "output format: "+strings.Join(topology.Formats, ", "))
	kf = addKafkaFlags(describe.Flags(), false)
	cmd.AddCommand(describe)
	return cmd
}
