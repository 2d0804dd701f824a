package dtcmonitor

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lovoo/goka/tester"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors"
	"github.com/fleetstream/fleetstream/processors/internal/processortest"
	"github.com/fleetstream/fleetstream/processors/vehiclestate"
)

// TestProcessor drives the group under goka's tester: the fixture, a stop code, repeats, a
// simulated redelivery of the record that issued a command, a new trip, and poison messages.
func TestProcessor(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := DefaultConfig()
	cfg.Metrics = processors.NewMetrics(reg)
	tt := tester.New(t)
	processortest.Start(t, tt, Define(cfg))
	events, commands, deads := tt.NewQueueTracker("dtc-events"), tt.NewQueueTracker("commands"), tt.NewQueueTracker("dead-letters")
	input := tt.NewQueueTracker("diagnostics")

	tt.SetTableValue(vehiclestate.Table, vin, &codecs.VehicleState{VIN: vin, TripID: trip1, Signals: map[string]codecs.SignalState{
		codecs.SignalVehicleSpeed: {Value: codecs.Number(72.5)},
		codecs.SignalLocation:     {Value: codecs.Location(38.938734, -77.269385)},
	}})

	base := processortest.Payload(t, "dtc.json")
	code := func(value any, ts string, kv ...any) []byte {
		return processortest.Set(t, base, append([]any{"value", value, "timestamp", ts}, kv...)...)
	}
	stop := code("P0217", "2021-03-06 08:15:00")
	stopID := codecs.CommandID(vin, trip1, "P0217", codecs.CommandEngineStop)

	steps := []struct {
		name       string
		key        string
		value      []byte
		redeliver  string // command id whose issuing record this step redelivers
		event      string // code of the event emitted, "" for none
		command    string // id of the command emitted, "" for none
		deadLetter codecs.Reason
	}{
		{name: "fixture P0404", key: vin, value: base, event: "P0404"},
		{name: "stop code", key: vin, value: stop, event: "P0217", command: stopID},
		{name: "repeat of the stop code", key: vin, value: code("P0217", "2021-03-06 08:16:00")},
		{name: "issuing record redelivered", key: vin, value: stop, redeliver: stopID, event: "P0217", command: stopID},
		{name: "lower-case stop code", key: vin, value: code("p0524", "2021-03-06 08:17:00"), event: "P0524",
			command: codecs.CommandID(vin, trip1, "P0524", codecs.CommandEngineStop)},
		{name: "garbage", key: vin, value: []byte(`{"name":"dtc",`), deadLetter: codecs.ReasonInvalidJSON},
		{name: "no vin", key: vin, value: processortest.Modify(t, base, func(m map[string]any) { delete(m, "vin") }), deadLetter: codecs.ReasonMissingVIN},
		{name: "wrong value type", key: vin, value: code(217, "2021-03-06 08:18:00"), deadLetter: codecs.ReasonWrongType},
		{name: "not a code", key: vin, value: code("X0217", "2021-03-06 08:18:00"), deadLetter: codecs.ReasonBadCode},
		{name: "key mismatch", key: "OTHERVIN000000000", value: code("P0300", "2021-03-06 08:18:00"), deadLetter: codecs.ReasonKeyMismatch},
		{name: "new trip", key: vin, value: code("P0217", "2021-03-06 09:00:00", "trip_id", trip2), event: "P0217",
			command: codecs.CommandID(vin, trip2, "P0217", codecs.CommandEngineStop)},
	}

	for _, step := range steps {
		offset := input.Hwm()
		if step.redeliver != "" {
			// goka's tester numbers offsets itself, so redelivery is simulated the other way round:
			// the table is made to say that the next record issued the command, as it would after
			// a crash between the table write and the emit, and the same bytes come again.
			s := tt.TableValue(Table, vin).(*codecs.DTCState)
			issued := s.Commands[step.redeliver]
			issued.Offset = offset
			s.Commands[step.redeliver] = issued
			tt.SetTableValue(Table, vin, s)
		}
		tt.Consume("diagnostics", step.key, step.value)

		evs := processortest.Drain(events)
		switch {
		case step.event == "" && len(evs) != 0:
			t.Errorf("%s: unexpected events %+v", step.name, evs)
		case step.event != "":
			if len(evs) != 1 {
				t.Fatalf("%s: %d events, want 1", step.name, len(evs))
			}
			e := evs[0].(*codecs.DTCEvent)
			if e.Code != step.event || e.VIN != vin || e.Description == "" || e.System != codecs.SystemPowertrain ||
				e.Speed == nil || *e.Speed != 72.5 || e.Latitude == nil || *e.Latitude != 38.938734 || e.CommandID != step.command {
				t.Errorf("%s: event %+v", step.name, e)
			}
		}
		cmds := processortest.Drain(commands)
		switch {
		case step.command == "" && len(cmds) != 0:
			t.Errorf("%s: unexpected commands %+v", step.name, cmds)
		case step.command != "":
			if len(cmds) != 1 || cmds[0].(*codecs.Command).ID != step.command || cmds[0].(*codecs.Command).Action != codecs.CommandEngineStop {
				t.Errorf("%s: commands %+v, want one with id %s", step.name, cmds, step.command)
			}
		}
		letters := processortest.Drain(deads)
		if step.deadLetter == "" {
			if len(letters) != 0 {
				t.Errorf("%s: unexpected dead letter %+v", step.name, letters[0])
			}
			continue
		}
		if len(letters) != 1 {
			t.Fatalf("%s: %d dead letters, want 1", step.name, len(letters))
		}
		dl := letters[0].(*codecs.DeadLetter)
		if dl.Reason != step.deadLetter || dl.Stage != string(Group) || dl.Topic != "diagnostics" || dl.Key != step.key ||
			dl.Offset != offset || !bytes.Equal(dl.Value, step.value) {
			t.Errorf("%s: dead letter %+v, want reason %s at offset %d with the original bytes", step.name, dl, step.deadLetter, offset)
		}
	}

	s := tt.TableValue(Table, vin).(*codecs.DTCState)
	if s.TripID != trip2 || len(s.Active) != 1 || s.Active["P0217"].Count != 1 || len(s.Commands) != 3 {
		t.Errorf("final state %+v", s)
	}
	for _, m := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"fleetstream_commands_issued_total", map[string]string{"result": "issued"}, 4},
		{"fleetstream_commands_issued_total", map[string]string{"result": "duplicate"}, 1},
		{"fleetstream_dtc_events_total", map[string]string{"severity": "critical"}, 4},
		{"fleetstream_dtc_events_total", map[string]string{"severity": "warning"}, 1},
		{"fleetstream_dead_letters_total", map[string]string{"group": "dtc-monitor", "reason": "bad_dtc_code"}, 1},
		{"fleetstream_event_time_lag_seconds", map[string]string{"group": "dtc-monitor"}, 6},
	} {
		if got := processortest.MetricValue(t, reg, m.name, m.labels); got != m.want {
			t.Errorf("%s%v = %v, want %v", m.name, m.labels, got, m.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	cfg := DefaultConfig()
	cfg.Commands = ""
	cfg.StopCodes = append(cfg.StopCodes, "p0217")
	cfg.Severities["P0420"] = "low"
	cfg.Severities["XYZ"] = "info"
	cfg.DefaultSeverity = ""
	err := cfg.Validate()
	for _, w := range []string{"Commands is empty", `StopCodes[4]: "p0217"`, `Severities["P0420"]: "low"`, `Severities["XYZ"]`, "DefaultSeverity"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate = %v, want it to name %q", err, w)
		}
	}
}
