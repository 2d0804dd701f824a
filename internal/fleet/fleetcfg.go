package fleet

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetstream/fleetstream/sources/mqttbridge"
	"github.com/fleetstream/fleetstream/sources/simulator"
)

// FleetConfig is the simulated fleet of `fleetstream dev`: the simulator publishing over MQTT
// and the bridge carrying MQTT into Kafka.
type FleetConfig struct {
	Vehicles int
	Interval time.Duration
	DTCEvery time.Duration
	DTCCodes []string
	Seed     int64
	Format   string
	// RepairAfter brings a car stopped by command back on the road after this long.
	RepairAfter time.Duration
}

// DevDTCCodes are the codes the dev fleet reports: common ones, a third of them stop-worthy, so
// within a minute of `make run` some car gets a STOP command (and is repaired a minute later).
var DevDTCCodes = []string{"P0217", "P0300", "P0524", "P0218", "P0420", "P0171", "P0128", "P0442", "P0455", "P0301", "P0113", "P0404"}

// DefaultFleetConfig is ten vehicles ticking every 2 s, each with a trouble code about every
// 45 s, repaired a minute after a STOP.
func DefaultFleetConfig() FleetConfig {
	return FleetConfig{Vehicles: 10, Interval: 2 * time.Second, DTCEvery: 45 * time.Second, DTCCodes: DevDTCCodes,
		Seed: 1, Format: string(simulator.FormatV2), RepairAfter: time.Minute}
}

// addFleet adds the MQTT→Kafka bridge and the simulator publishing to the MQTT broker at
// mqttAddr; the vehicles obey the commands the command sink publishes there.
func (w *Worker) addFleet(cfg FleetConfig, mqttAddr string) error {
	broker := "tcp://" + mqttAddr
	bc := mqttbridge.DefaultConfig()
	bc.Broker = broker
	bc.Kafka = w.cfg.Kafka
	bc.Routes = mqttbridge.DefaultRoutes(w.cfg.Topics)
	bc.DeadLetterTopic = w.cfg.Topics.DeadLetters
	bc.Logger = w.log.With("component", "bridge")
	bc.Registerer = w.registry
	bridge, err := mqttbridge.New(bc)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	sc := simulator.DefaultConfig()
	sc.Vehicles, sc.Seed, sc.Interval, sc.DTCEvery, sc.DTCCodes = cfg.Vehicles, cfg.Seed, cfg.Interval, cfg.DTCEvery, cfg.DTCCodes
	sc.RepairAfter = cfg.RepairAfter
	if cfg.Format != "" {
		sc.Format = simulator.Format(cfg.Format)
	}
	sc.Logger = w.log.With("component", "simulator")
	sc.Registerer = w.registry
	if err := sc.Validate(); err != nil {
		return err
	}
	w.extra = append(w.extra,
		namedRunner{name: "bridge", run: bridge.Run, ready: bridge.Ready},
		namedRunner{name: "simulator", run: func(ctx context.Context) error {
			pub, err := simulator.DialMQTT(ctx, simulator.MQTTConfig{Broker: broker, ClientID: "fleetstream-simulator", Logger: sc.Logger})
			if err != nil {
				return err
			}
			defer pub.Close()
			sim, err := simulator.New(sc, pub)
			if err != nil {
				return err
			}
			return sim.Run(ctx)
		}},
	)
	return nil
}
