package main

import (
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fleetstream/fleetstream/internal/fleet"
)

// workerFlags configure a worker (run, dev, sink).
type workerFlags struct {
	kafka *kafkaFlags
	cfg   fleet.Config
	sinks *sinkFlags
}

func addWorkerFlags(fs *pflag.FlagSet, withBrokers bool, defaultHTTP, defaultDataDir string) *workerFlags {
	f := &workerFlags{kafka: addKafkaFlags(fs, withBrokers), cfg: fleet.DefaultConfig()}
	fs.StringSliceVar(&f.cfg.Groups, "groups", f.cfg.Groups, "groups to run: "+strings.Join(fleet.AllGroups(), ","))
	fs.StringVar(&f.cfg.DataDir, "data-dir", defaultDataDir, "directory for table storage and local time series (empty: tables in memory)")
	fs.StringVar(&f.cfg.HTTPAddr, "http-addr", defaultHTTP, "HTTP address for /healthz, /readyz, /metrics, /api/vehicles (empty: off)")
	fs.StringVar(&f.cfg.RulesFile, "rules", "", "YAML file of anomaly rules (empty: built-in defaults)")
	fs.StringSliceVar(&f.cfg.StopCodes, "stop-codes", nil, "DTCs that issue a STOP command (default P0217,P0218,P0524,P0300)")
	fs.DurationVar(&f.cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "drain and commit deadline on SIGTERM (keep below the ECS stopTimeout)")
	fs.BoolVar(&f.cfg.HotStandby, "hot-standby", false, "keep every table partition warm so a takeover does not wait for recovery")
	fs.BoolVar(&f.cfg.EnsureTopics, "ensure-topics", true, "create missing topics and check co-partitioning at start-up")
	f.sinks = addSinkFlags(fs)
	return f
}

func (f *workerFlags) config() (fleet.Config, error) {
	c := f.cfg
	c.Kafka = f.kafka.kafka()
	c.Topics = f.kafka.topics
	c.Provisioning = f.kafka.prov
	sc, err := f.sinks.config(c.DataDir)
	if err != nil {
		return c, err
	}
	c.Sinks = sc
	return c, nil
}

func newRunCmd(stderr io.Writer, lf *logFlags) *cobra.Command {
	var wf *workerFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run chosen groups against any Kafka (a consumer-group worker; run many to scale out)",
		Example: `  fleetstream run --brokers b-1.msk:9098 --groups vehicle-state,dtc-monitor
  FLEETSTREAM_BROKERS=b-1.msk:9098 FLEETSTREAM_GROUPS=trip-state fleetstream run`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runWorker(cmd, stderr, lf, wf) },
	}
	wf = addWorkerFlags(cmd.Flags(), true, ":8080", "")
	return cmd
}

// runWorker runs the groups wf configures until the command's context ends.
func runWorker(cmd *cobra.Command, stderr io.Writer, lf *logFlags, wf *workerFlags) error {
	if err := bindEnv(cmd); err != nil {
		return err
	}
	log, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	cfg, err := wf.config()
	if err != nil {
		return err
	}
	cfg.Logger = log
	for _, w := range cfg.Kafka.Security.Warnings() {
		log.Warn(w)
	}
	w, err := fleet.NewWorker(cfg)
	if err != nil {
		return err
	}
	log.Info("worker starting", "groups", cfg.Groups, "brokers", cfg.Kafka.Brokers, "http", w.HTTPAddr())
	return w.Run(cmd.Context())
}
