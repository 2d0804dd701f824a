package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/fleetstream/fleetstream/topology"
)

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "fleetstream",
		Short:         "Stream processing for connected-vehicle fleets on Kafka",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	lf := &logFlags{}
	root.PersistentFlags().StringVar(&lf.level, "log-level", "info", "log level: debug, info, warn or error")
	root.PersistentFlags().StringVar(&lf.format, "log-format", "text", "log format: text or json")
	root.AddCommand(
		newDevCmd(stdout, stderr, lf),
		newRunCmd(stderr, lf),
		newTopicsCmd(stdout, stderr, lf),
		newSinkCmd(stderr, lf),
		newSimulateCmd(stderr, lf),
		newBridgeCmd(stderr, lf),
		newReplayCmd(stdout, stderr, lf),
		newTopologyCmd(stdout, stderr, lf),
		newHealthcheckCmd(stdout),
	)
	return root
}

// logFlags build the process logger; sarama's logger is routed to it.
type logFlags struct{ level, format string }

func (f *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", f.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch f.format {
	case "text":
		h = slog.NewTextHandler(w, opts)
	case "json":
		h = slog.NewJSONHandler(w, opts)
	default:
		return nil, fmt.Errorf("--log-format %q: use text or json", f.format)
	}
	l := slog.New(h)
	topology.RouteSaramaLogger(l)
	return l, nil
}

// bindEnv lets every flag be set from the environment as FLEETSTREAM_<NAME> (dashes become
// underscores), which is how ECS task definitions configure workers. A flag given on the
// command line wins.
func bindEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := "FLEETSTREAM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := cmd.Flags().Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, serr)
			}
		}
	})
	return err
}
