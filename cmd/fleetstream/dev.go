package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/fleetstream/fleetstream/internal/fleet"
)

func newDevCmd(stdout, stderr io.Writer, lf *logFlags) *cobra.Command {
	var (
		wf       *workerFlags
		dev      fleet.DevConfig
		only     string
		fleetCfg = fleet.DefaultFleetConfig()
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run everything on this machine: embedded Kafka and MQTT brokers, every group, a simulated fleet",
		Long: `dev runs the whole topology in one process with no cloud account: an embedded
Kafka-protocol broker that any Kafka client can produce to, an embedded MQTT broker, every
processor and sink group, and a simulated fleet whose cars obey STOP commands.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			log, err := lf.logger(stderr)
			if err != nil {
				return err
			}
			switch only {
			case "":
			case "broker", "brokers":
				dev.OnlyBrokers = true
			default:
				return fmt.Errorf("--only %q: the only choice is broker (run just the embedded brokers)", only)
			}
			cfg, err := wf.config()
			if err != nil {
				return err
			}
			cfg.Logger = log
			dev.Worker = cfg
			dev.Fleet = fleetCfg
			dev.Stdout = stdout
			return fleet.Dev(cmd.Context(), dev)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&dev.KafkaAddr, "kafka-addr", "127.0.0.1:9092", "address of the embedded Kafka-protocol broker")
	fs.StringVar(&dev.MQTTAddr, "mqtt-addr", "127.0.0.1:1883", "address of the embedded MQTT broker")
	fs.StringVar(&only, "only", "", "run only part of the stack: broker")
	wf = addWorkerFlags(fs, false, "127.0.0.1:8080", ".fleetstream")
	fs.IntVar(&fleetCfg.Vehicles, "vehicles", fleetCfg.Vehicles, "simulated vehicles (0: no simulator)")
	fs.DurationVar(&fleetCfg.Interval, "interval", fleetCfg.Interval, "simulator tick: every signal of every vehicle once per interval")
	fs.DurationVar(&fleetCfg.DTCEvery, "dtc-every", fleetCfg.DTCEvery, "mean time between trouble codes per vehicle (0: none)")
	fs.StringSliceVar(&fleetCfg.DTCCodes, "dtc-codes", fleetCfg.DTCCodes, "draw trouble codes only from these")
	fs.StringVar(&fleetCfg.Format, "format", fleetCfg.Format, "simulator payloads: v2 (one signal per message) or v3 (one object per tick)")
	fs.DurationVar(&fleetCfg.RepairAfter, "repair-after", fleetCfg.RepairAfter, "a car stopped by command drives again after this long (0: stays off)")
	fs.Int64Var(&fleetCfg.Seed, "seed", fleetCfg.Seed, "simulator seed (same seed, same VINs)")
	return cmd
}
