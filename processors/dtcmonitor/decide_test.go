package dtcmonitor

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors"
)

const (
	vin   = "MQYK4Z8WGTJDFDA05"
	trip1 = "a4c55e6e-a7eb-4c3e-b0a0-dfcace119e03"
	trip2 = "b5d66f7f-0000-4000-8000-000000000002"
)

var t0 = time.Date(2021, 3, 6, 8, 14, 33, 87e6, time.UTC)

func dtc(code, trip string, at time.Duration) codecs.DTC {
	return codecs.DTC{VIN: vin, TripID: trip, Code: code, Time: t0.Add(at)}
}

// TestDecide runs one vehicle's codes through Decide in order, each step starting from the
// state the previous one left.
func TestDecide(t *testing.T) {
	cfg := DefaultConfig()
	stop1 := codecs.CommandID(vin, trip1, "P0217", codecs.CommandEngineStop)
	stop2 := codecs.CommandID(vin, trip2, "P0217", codecs.CommandEngineStop)

	steps := []struct {
		name    string
		dtc     codecs.DTC
		offset  int64
		event   bool
		command string // id of the command emitted, "" for none
		result  string
		changed bool
		count   int // of the code in the active set after the step (0: not active)
		active  int // codes active
	}{
		{"stop code: event and command", dtc("P0217", trip1, 0), 10, true, stop1, processors.CommandIssued, true, 1, 1},
		{"same record redelivered: both again", dtc("P0217", trip1, 0), 10, true, stop1, processors.CommandIssued, false, 1, 1},
		{"same reading, another record: event again, no command", dtc("P0217", trip1, 0), 11, true, "", processors.CommandDuplicate, false, 1, 1},
		{"repeat in trip: counted, nothing emitted", dtc("P0217", trip1, time.Minute), 12, false, "", processors.CommandDuplicate, true, 2, 1},
		{"repeat redelivered: not counted twice", dtc("P0217", trip1, time.Minute), 12, false, "", processors.CommandDuplicate, false, 2, 1},
		{"other code: event only", dtc("P0404", trip1, 2*time.Minute), 13, true, "", "", true, 1, 2},
		{"older repeat widens first seen", dtc("P0404", trip1, time.Minute), 14, false, "", "", true, 2, 2},
		{"new trip: reset, new command", dtc("P0217", trip2, time.Hour), 15, true, stop2, processors.CommandIssued, true, 1, 1},
		{"late code of the earlier trip: event only", dtc("P0171", trip1, 3*time.Minute), 16, true, "", "", false, 0, 1},
		{"late stop code of the earlier trip: no command", dtc("P0217", trip1, 4*time.Minute), 17, true, "", processors.CommandDuplicate, false, 1, 1},
		{"issuing record of the earlier trip redelivered: command again", dtc("P0217", trip1, 0), 10, true, stop1, processors.CommandIssued, false, 1, 1},
	}

	var state *codecs.DTCState
	for _, step := range steps {
		d := cfg.Decide(state, step.dtc, nil, Source{Partition: 0, Offset: step.offset})
		if (d.Event != nil) != step.event || d.CommandResult != step.result || d.Changed != step.changed {
			t.Errorf("%s: event %v result %q changed %v; want %v %q %v", step.name, d.Event != nil, d.CommandResult, d.Changed, step.event, step.result, step.changed)
		}
		switch {
		case step.command == "" && d.Command != nil:
			t.Errorf("%s: unexpected command %+v", step.name, d.Command)
		case step.command != "" && (d.Command == nil || d.Command.ID != step.command):
			t.Errorf("%s: command %+v, want id %s", step.name, d.Command, step.command)
		}
		if d.Command != nil && (d.Command.Action != codecs.CommandEngineStop || d.Command.VIN != vin || d.Command.Code != "P0217" ||
			d.Command.TripID != step.dtc.TripID || !d.Command.IssuedAt.Equal(step.dtc.Time) ||
			d.Command.Reason != "DTC P0217: Engine Coolant Over Temperature Condition") {
			t.Errorf("%s: command %+v", step.name, d.Command)
		}
		if d.Event != nil && d.Event.ID != EventID(vin, step.dtc.TripID, step.dtc.Code) {
			t.Errorf("%s: event id %s", step.name, d.Event.ID)
		}
		if !d.Changed && state != nil && d.State != state {
			t.Errorf("%s: unchanged decision must return prev", step.name)
		}
		state = d.State
		if got := state.Active[step.dtc.Code].Count; state.TripID == step.dtc.TripID && got != step.count {
			t.Errorf("%s: count %d, want %d", step.name, got, step.count)
		}
		if len(state.Active) != step.active {
			t.Errorf("%s: %d active codes, want %d", step.name, len(state.Active), step.active)
		}
	}
	if state.TripID != trip2 || len(state.Commands) != 2 || state.Commands[stop1].Offset != 10 || state.Commands[stop2].Offset != 15 {
		t.Errorf("final state %+v", state)
	}
}

func TestDecideEvent(t *testing.T) {
	cfg := DefaultConfig()
	vehicle := &codecs.VehicleState{VIN: vin, TripID: trip1, Signals: map[string]codecs.SignalState{
		codecs.SignalVehicleSpeed: {Value: codecs.Number(88.5)},
		codecs.SignalLocation:     {Value: codecs.Location(38.9, -77.2)},
	}}
	tests := []struct {
		name     string
		dtc      codecs.DTC
		vehicle  *codecs.VehicleState
		trip     string
		system   string
		generic  bool
		severity string
		stop     bool
		desc     string
	}{
		{"stop code with vehicle context", dtc("P0217", trip1, 0), vehicle, trip1, "powertrain", true, "critical", true, "Engine Coolant Over Temperature Condition"},
		{"trip from the vehicle when the code has none", dtc("P0524", "", 0), vehicle, trip1, "powertrain", true, "critical", true, "Engine Oil Pressure Too Low"},
		{"emission code is info", dtc("P0420", trip1, 0), nil, trip1, "powertrain", true, "info", false, "Catalyst System Efficiency Below Threshold (Bank 1)"},
		{"manufacturer code", dtc("P1234", trip1, 0), nil, trip1, "powertrain", false, "warning", false, ""},
		{"network code", dtc("U0100", trip1, 0), nil, trip1, "network", true, "warning", false, "Lost Communication With ECM/PCM A"},
		{"chassis code", dtc("C0035", trip1, 0), nil, trip1, "chassis", true, "warning", false, "Left Front Wheel Speed Sensor Circuit"},
		{"body manufacturer code", dtc("B1001", trip1, 0), nil, trip1, "body", false, "warning", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := cfg.Decide(nil, tc.dtc, tc.vehicle, Source{})
			e := d.Event
			if e == nil {
				t.Fatal("no event")
			}
			if e.TripID != tc.trip || e.System != tc.system || e.Generic != tc.generic || e.Severity != tc.severity ||
				e.StopWorthy != tc.stop || e.Description != tc.desc || e.VIN != vin || e.Code != tc.dtc.Code || !e.Time.Equal(t0) {
				t.Errorf("event %+v", e)
			}
			if tc.stop != (e.CommandID != "") || tc.stop != (d.Command != nil) || (d.Command != nil && d.Command.ID != e.CommandID) {
				t.Errorf("stop %v: command id %q, command %+v", tc.stop, e.CommandID, d.Command)
			}
			if tc.vehicle != nil {
				if e.Speed == nil || *e.Speed != 88.5 || e.Latitude == nil || *e.Latitude != 38.9 || *e.Longitude != -77.2 {
					t.Errorf("vehicle context speed %v lat %v lon %v", e.Speed, e.Latitude, e.Longitude)
				}
			} else if e.Speed != nil || e.Latitude != nil {
				t.Error("vehicle context without a vehicle")
			}
		})
	}
}

func TestDecideDoesNotModifyPrev(t *testing.T) {
	cfg := DefaultConfig()
	prev := cfg.Decide(nil, dtc("P0217", trip1, 0), nil, Source{Offset: 1}).State
	before, _ := json.Marshal(prev)
	cfg.Decide(prev, dtc("P0300", trip1, time.Minute), nil, Source{Offset: 2})
	cfg.Decide(prev, dtc("P0300", trip2, time.Hour), nil, Source{Offset: 3})
	if after, _ := json.Marshal(prev); string(before) != string(after) {
		t.Errorf("prev changed:\n%s\n%s", before, after)
	}
}

func TestRememberedCommandsAreBounded(t *testing.T) {
	cfg := DefaultConfig()
	var state *codecs.DTCState
	n := codecs.MaxRememberedCommands + 6
	for i := 0; i < n; i++ {
		trip := fmt.Sprintf("trip-%03d", i)
		d := cfg.Decide(state, dtc("P0300", trip, time.Duration(i)*time.Hour), nil, Source{Offset: int64(i)})
		if d.Command == nil {
			t.Fatalf("trip %d issued no command", i)
		}
		state = d.State
	}
	if len(state.Commands) != codecs.MaxRememberedCommands {
		t.Fatalf("%d commands remembered, want %d", len(state.Commands), codecs.MaxRememberedCommands)
	}
	if _, ok := state.Commands[codecs.CommandID(vin, "trip-000", "P0300", codecs.CommandEngineStop)]; ok {
		t.Error("the oldest command was kept")
	}
	if _, ok := state.Commands[codecs.CommandID(vin, fmt.Sprintf("trip-%03d", n-1), "P0300", codecs.CommandEngineStop)]; !ok {
		t.Error("the newest command was dropped")
	}
}

func TestActiveCodesAreBounded(t *testing.T) {
	cfg := DefaultConfig()
	var state *codecs.DTCState
	for i := 0; i < MaxActiveCodes+5; i++ {
		state = cfg.Decide(state, dtc(fmt.Sprintf("P1%03X", i), trip1, time.Duration(i)*time.Second), nil, Source{Offset: int64(i)}).State
	}
	if len(state.Active) != MaxActiveCodes {
		t.Errorf("%d active codes, want %d", len(state.Active), MaxActiveCodes)
	}
	if _, ok := state.Active["P1000"]; ok {
		t.Error("the least recently seen code was kept")
	}
}

func TestSeverity(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Severities["P0300"] = processors.SeverityWarning
	for code, want := range map[string]string{"P0217": "critical", "P0300": "warning", "P0420": "info", "P0171": "warning"} {
		if got := cfg.Severity(code); got != want {
			t.Errorf("Severity(%s) = %s, want %s", code, got, want)
		}
	}
}
