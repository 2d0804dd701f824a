package rules_test

import (
	"fmt"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors/rules"
)

func ExampleSet_Evaluate() {
	set, err := rules.Parse([]byte(`
thresholds:
  - {name: overspeed, signal: vehicle_speed, op: above, threshold: 180, hysteresis: 5}
`))
	if err != nil {
		panic(err)
	}
	state := &codecs.VehicleState{OpenAnomalies: map[string]codecs.Anomaly{}}
	for _, speed := range []float64{170, 185, 178, 174} {
		for _, t := range set.Evaluate(state, codecs.SignalVehicleSpeed, speed) {
			fmt.Println(t.Rule, t.State, t.Message)
			if t.State == codecs.AnomalyOpen {
				state.OpenAnomalies[t.Key] = codecs.Anomaly{Rule: t.Rule}
			} else {
				delete(state.OpenAnomalies, t.Key)
			}
		}
	}
	// Output:
	// overspeed open vehicle_speed 185 above 180
	// overspeed cleared vehicle_speed 174 back within 180
}
