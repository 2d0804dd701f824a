package simulator_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/fleetstream/fleetstream/sources/simulator"
)

// Step is pure: the same state, step and random source give the same car.
func ExampleStep() {
	rng := rand.New(rand.NewPCG(1, 2))
	s := simulator.State{Running: true, FuelLevel: 80, OilTemp: simulator.AmbientOilTemp, Latitude: 38.9072, Longitude: -77.0369}
	for i := 0; i < 60; i++ { // two minutes in two-second steps
		s = simulator.Step(s, 2, rng)
	}
	fmt.Printf("%.0f km/h in %s at %.0f rpm, gear consistent: %v\n", s.Speed, s.Gear, s.EngineSpeed, s.Gear == simulator.GearFor(s.Speed))
	// Output: 44 km/h in third at 2202 rpm, gear consistent: true
}
