package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/fleetstream/fleetstream/internal/fleet"
	"github.com/fleetstream/fleetstream/topology"
)

func newTopicsCmd(stdout, stderr io.Writer, lf *logFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "topics", Short: "Provision and check topics"}
	var kf *kafkaFlags
	ensure := &cobra.Command{
		Use:   "ensure",
		Short: "Create missing topics (inputs, actions, tables) and check that co-partitioned topics agree",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			if _, err := lf.logger(stderr); err != nil {
				return err
			}
			k := kf.kafka()
			if err := k.Validate(); err != nil {
				return err
			}
			if err := kf.topics.Validate(); err != nil {
				return err
			}
			if err := kf.prov.Validate(); err != nil {
				return err
			}
			res, err := topology.EnsureTopics(cmd.Context(), k, kf.prov.Specs(kf.topics, fleet.Tables()...))
			for _, t := range res.Created {
				fmt.Fprintf(stdout, "created  %s\n", t)
			}
			for _, t := range res.Existing {
				fmt.Fprintf(stdout, "exists   %s\n", t)
			}
			return err
		},
	}
	kf = addKafkaFlags(ensure.Flags(), true)
	cmd.AddCommand(ensure)
	return cmd
}
