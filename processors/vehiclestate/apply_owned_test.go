package vehiclestate

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors/rules"
)

// TestApplyOwnedIsApply: folding into the decoded state itself gives what Apply gives,
// message after message, through anomalies opening and clearing, duplicates and readings out
// of order.
func TestApplyOwnedIsApply(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	codec := codecs.JSON[codecs.VehicleState]{}
	names := []string{codecs.SignalVehicleSpeed, codecs.SignalEngineSpeed, codecs.SignalOilTemp, codecs.SignalFuelLevel, codecs.SignalIgnitionStatus, codecs.SignalLocation}
	for run := 0; run < 50; run++ {
		var stored []byte // the table value, as goka keeps it
		var prev *codecs.VehicleState
		for msg := 0; msg < 200; msg++ {
			var sigs []codecs.Signal
			for range 1 + r.IntN(3) {
				name := names[r.IntN(len(names))]
				v := codecs.Number(r.Float64() * 250)
				switch name {
				case codecs.SignalIgnitionStatus:
					v = codecs.String([]string{"run", "off"}[r.IntN(2)])
				case codecs.SignalLocation:
					v = codecs.Location(r.Float64(), r.Float64())
				case codecs.SignalFuelLevel:
					v = codecs.Number(r.Float64() * 10)
				}
				at := time.Duration(msg-r.IntN(3)) * time.Second // some duplicates, some out of order
				sigs = append(sigs, sig(name, v, at))
			}
			want := Apply(prev, sigs, nil, rules.Default())
			var owned *codecs.VehicleState
			if stored != nil {
				d, err := codec.Decode(stored)
				if err != nil {
					t.Fatal(err)
				}
				owned = d.(*codecs.VehicleState)
			}
			got := applyOwned(owned, sigs, nil, rules.Default())
			if got.Changed != want.Changed || !reflect.DeepEqual(got.Measurements, want.Measurements) || !reflect.DeepEqual(got.Anomalies, want.Anomalies) {
				t.Fatalf("run %d message %d: applyOwned %+v, Apply %+v", run, msg, got, want)
			}
			wb, _ := codec.Encode(want.State)
			gb, _ := codec.Encode(got.State)
			if want.State != nil && !bytes.Equal(wb, gb) {
				t.Fatalf("run %d message %d: state\n%s\nwant\n%s", run, msg, gb, wb)
			}
			if want.Changed {
				stored, prev = wb, want.State
			}
		}
	}
}
