package target_test

import (
	"fmt"

	"github.com/fleetstream/fleetstream/sinks/shadow/target"
)

func ExampleRenderer_Render() {
	r, err := target.New(target.DefaultConfig())
	if err != nil {
		panic(err)
	}
	m, err := r.Render(target.SampleCommand())
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Topic)
	fmt.Println(string(m.Payload))
	// Output:
	// $aws/things/1FTEW1EP5JKD00001/shadow/update
	// {"state":{"desired":{"engine":"stop"}},"clientToken":"d6959449b43846d179573cda60844963"}
}
