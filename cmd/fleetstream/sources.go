package main

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/fleetstream/fleetstream/internal/fleet"
	"github.com/fleetstream/fleetstream/sources/mqttbridge"
	"github.com/fleetstream/fleetstream/sources/simulator"
)

func newSimulateCmd(stderr io.Writer, lf *logFlags) *cobra.Command {
	var (
		kf      *kafkaFlags
		c       = fleet.SimulateConfig{Simulator: simulator.DefaultConfig(), MQTTBroker: "tcp://127.0.0.1:1883"}
		format  string
		toKafka bool
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Drive a simulated connected-car fleet over MQTT (cars obey STOP commands), or load Kafka directly",
		Example: `  fleetstream simulate --vehicles 50 --mqtt-broker tcp://127.0.0.1:1883
  fleetstream simulate --kafka --brokers 127.0.0.1:9092 --vehicles 10000 --rate 50000`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			log, err := lf.logger(stderr)
			if err != nil {
				return err
			}
			c.Logger = log
			c.Simulator.Format = simulator.Format(format)
			if toKafka {
				k := kf.kafka()
				if err := k.Validate(); err != nil {
					return err
				}
				c.Kafka, c.Topics = &k, kf.topics
			}
			return fleet.Simulate(cmd.Context(), c)
		},
	}
	fs := cmd.Flags()
	s := &c.Simulator
	fs.IntVar(&s.Vehicles, "vehicles", s.Vehicles, "number of vehicles")
	fs.Int64Var(&s.Seed, "seed", s.Seed, "seed: the same seed gives the same VINs and trips")
	fs.DurationVar(&s.Interval, "interval", s.Interval, "every signal of every vehicle once per interval")
	fs.DurationVar(&s.DTCEvery, "dtc-every", s.DTCEvery, "mean time between trouble codes per vehicle (0: none)")
	fs.StringSliceVar(&s.DTCCodes, "dtc-codes", nil, "draw trouble codes only from these")
	fs.StringVar(&format, "format", string(s.Format), "payload shape: v2 (one signal per message) or v3 (one object per tick)")
	fs.DurationVar(&s.RepairAfter, "repair-after", 0, "a car stopped by command drives again after this long (0: stays off until told to start)")
	fs.Float64Var(&s.Rate, "rate", 0, "sustained events per second across the fleet (0: paced by --interval)")
	fs.StringVar(&c.MQTTBroker, "mqtt-broker", c.MQTTBroker, "MQTT broker URL (MQTT mode)")
	fs.BoolVar(&toKafka, "kafka", false, "publish straight to Kafka (telemetry, trips, diagnostics keyed by VIN) instead of MQTT")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8081", "HTTP address for /healthz, /readyz, /metrics (empty: off)")
	kf = addKafkaFlags(fs, true)
	return cmd
}

func newBridgeCmd(stderr io.Writer, lf *logFlags) *cobra.Command {
	var (
		kf     *kafkaFlags
		c      = fleet.BridgeConfig{Bridge: mqttbridge.DefaultConfig()}
		routes []string
	)
	cmd := &cobra.Command{
		Use:   "bridge",
		Short: "Carry MQTT into Kafka keyed by VIN, acknowledging MQTT only after Kafka has the message",
		Example: `  fleetstream bridge --mqtt-broker tcp://127.0.0.1:1883 --brokers 127.0.0.1:9092
  fleetstream bridge --filter 'fleet/+/+' --route 'fleet/telemetry/+=telemetry'`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			log, err := lf.logger(stderr)
			if err != nil {
				return err
			}
			c.Logger = log
			c.Bridge.Kafka = kf.kafka()
			c.Bridge.DeadLetterTopic = kf.topics.DeadLetters
			c.Bridge.Routes = mqttbridge.DefaultRoutes(kf.topics)
			if len(routes) > 0 {
				c.Bridge.Routes = nil
				for _, r := range routes {
					route, err := mqttbridge.ParseRoute(r)
					if err != nil {
						return err
					}
					c.Bridge.Routes = append(c.Bridge.Routes, route)
				}
			}
			return fleet.Bridge(cmd.Context(), c)
		},
	}
	fs := cmd.Flags()
	b := &c.Bridge
	fs.StringVar(&b.Broker, "mqtt-broker", b.Broker, "MQTT broker URL: tcp://host:1883 or ssl://host:8883")
	fs.StringVar(&b.ClientID, "mqtt-client-id", b.ClientID, "MQTT client id; keep it across restarts (the broker keeps the session under it)")
	fs.StringVar(&b.Username, "mqtt-username", "", "MQTT username")
	fs.StringVar(&b.Password, "mqtt-password", "", "MQTT password")
	fs.StringSliceVar(&b.Filters, "filter", b.Filters, "MQTT topic filters subscribed at QoS 1")
	fs.StringArrayVar(&routes, "route", nil, "MQTT filter=Kafka topic, first match wins (default connectedcar/telemetry/+=telemetry, …/trip/+=trips, …/dtc/+=diagnostics)")
	fs.IntVar(&b.MaxInFlight, "max-in-flight", b.MaxInFlight, "messages received and not yet acknowledged by Kafka (backpressure beyond)")
	fs.StringVar(&c.HTTPAddr, "http-addr", "127.0.0.1:8082", "HTTP address for /healthz, /readyz, /metrics (empty: off)")
	kf = addKafkaFlags(fs, true)
	return cmd
}

func newSinkCmd(stderr io.Writer, lf *logFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "Run a sink group: timeseries (Timestream, files) or commands (IoT shadow, MQTT)",
	}
	for _, s := range []struct{ name, group, short string }{
		{"timeseries", fleet.GroupTimeseriesSink, "Write timeseries, anomalies and dtc-events to Timestream (--timestream-database) or JSON Lines files (--data-dir)"},
		{"commands", fleet.GroupCommandSink, "Deliver commands to vehicles over MQTT or the AWS IoT data plane, once per command id"},
	} {
		var wf *workerFlags
		sub := &cobra.Command{
			Use:   s.name,
			Short: s.short,
			RunE: func(cmd *cobra.Command, _ []string) error {
				wf.cfg.Groups = []string{s.group}
				return runWorker(cmd, stderr, lf, wf)
			},
		}
		wf = addWorkerFlags(sub.Flags(), true, ":8080", "")
		cmd.AddCommand(sub)
	}
	return cmd
}
