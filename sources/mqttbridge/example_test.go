package mqttbridge_test

import (
	"fmt"

	"github.com/fleetstream/fleetstream/sources/mqttbridge"
)

// Routes come from --route flags written as filter=topic; the first matching route wins.
func ExampleParseRoute() {
	r, err := mqttbridge.ParseRoute("fleet/+/status=vehicle-status")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s → %s\n", r.Filter, r.Topic)
	_, err = mqttbridge.ParseRoute("fleet/#/status=x")
	fmt.Println(err)
	// Output:
	// fleet/+/status → vehicle-status
	// mqttbridge: route fleet/#/status=x: # must be the whole last level, as in connectedcar/#
}
