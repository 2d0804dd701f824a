package codecs_test

import (
	"errors"
	"fmt"

	"github.com/fleetstream/fleetstream/codecs"
)

func ExampleDecodeTelemetry() {
	// A v2 single-signal message: "speed" is an alias of vehicle_speed, and the space-format
	// timestamp is UTC.
	signals, err := codecs.DecodeTelemetry([]byte(`{"name":"speed","value":47.4,"vin":"1NXBR32E84Z995078",` +
		`"trip_id":"799fc110-fee2-43b2-a6ed-a504fa77931a","timestamp":"2018-02-15 08:20:18.000000000"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range signals {
		fmt.Println(s.VIN, s.Name, s.Value, s.Time)
	}

	// A v3 tick carries many signals; they come out with canonical names, ordered by name.
	signals, _ = codecs.DecodeTelemetry([]byte(`{"timestamp":1777890067250,"VIN":"WDD2QF7SK5N7D0KR3",` +
		`"vehicleSpeed":72.18,"gearLeverPosition":"drive","location":{"latitude":52.520008,"longitude":13.404954}}`))
	for _, s := range signals {
		fmt.Printf("%s %s=%v\n", s.Time.Format("15:04:05.000"), s.Name, s.Value)
	}

	// What cannot be decoded is a *DecodeError whose Reason labels the dead letter.
	_, err = codecs.DecodeTelemetry([]byte(`{"name":"vehicle_speed","value":"fast","vin":"1NXBR32E84Z995078","timestamp":0}`))
	var de *codecs.DecodeError
	if errors.As(err, &de) {
		fmt.Println(de.Reason)
	}
	// Output:
	// 1NXBR32E84Z995078 vehicle_speed 47.4 2018-02-15 08:20:18 +0000 UTC
	// 10:21:07.250 gear_lever_position=drive
	// 10:21:07.250 location=52.520008,13.404954
	// 10:21:07.250 vehicle_speed=72.18
	// wrong_type
}

func ExampleParseTime() {
	for _, raw := range []string{
		`"2021-03-06 08:13:05.112000000"`, // vehicles' format: UTC, no zone
		`"2021-03-06T09:13:05.112+01:00"`, // RFC 3339, any fraction and zone
		`1615018385112`,                   // epoch milliseconds as a number
		`"1615018385112"`,                 // and as a string
		`"06/03/2021 08:13"`,              // anything else is rejected
	} {
		t, err := codecs.ParseTime([]byte(raw))
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(codecs.FormatTime(t))
	}
	// Output:
	// 2021-03-06 08:13:05.112000000
	// 2021-03-06 08:13:05.112000000
	// 2021-03-06 08:13:05.112000000
	// 2021-03-06 08:13:05.112000000
	// error: timestamp is not 'YYYY-MM-DD HH:mm:ss.fffffffff', RFC 3339 or epoch milliseconds
}
