package fleet

import "time"

// FleetConfig is the simulated fleet of `fleetstream dev`: the simulator publishing over MQTT
// and the bridge carrying MQTT into Kafka.
type FleetConfig struct {
	Vehicles int
	Interval time.Duration
	DTCEvery time.Duration
	DTCCodes []string
	Seed     int64
}

// DefaultFleetConfig is ten vehicles ticking every 2 s, each with a trouble code about every
// 45 s.
func DefaultFleetConfig() FleetConfig {
	return FleetConfig{Vehicles: 10, Interval: 2 * time.Second, DTCEvery: 45 * time.Second, Seed: 1}
}

func (w *Worker) addFleet(cfg FleetConfig, mqttAddr string) error { return nil }
