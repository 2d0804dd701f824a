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
}

// DefaultFleetConfig is ten vehicles ticking every 2 s, each with a trouble code about every
// two minutes.
func DefaultFleetConfig() FleetConfig {
	return FleetConfig{Vehicles: 10, Interval: 2 * time.Second, DTCEvery: 2 * time.Minute, Seed: 1, Format: string(simulator.FormatV2)}
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
