package codecs

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestRaw(t *testing.T) {
	var c Raw
	for _, tc := range []struct {
		in   any
		want []byte
	}{
		{[]byte(`{"a":1}`), []byte(`{"a":1}`)},
		{"\x00not json{", []byte("\x00not json{")},
		{[]byte{}, []byte{}},
		{nil, nil},
	} {
		got, err := c.Encode(tc.in)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("Encode(%#v) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		dec, err := c.Decode(got)
		if err != nil || !bytes.Equal(dec.([]byte), tc.want) {
			t.Errorf("Decode(%q) = %q, %v", got, dec, err)
		}
	}
	if _, err := c.Encode(42); err == nil {
		t.Error("Encode(42) succeeded, want an error")
	}
	// Decode never fails, whatever arrives: the callback dead-letters it.
	for _, b := range [][]byte{nil, {0xff, 0xfe}, bytes.Repeat([]byte("x"), MaxMessageBytes+1)} {
		if got, err := c.Decode(b); err != nil || !bytes.Equal(got.([]byte), b) {
			t.Errorf("Decode(%d bytes) = %v", len(b), err)
		}
	}
}

// roundTrip encodes v with JSON[T] as a value and as a pointer, decodes it and compares.
func roundTrip[T any](t *testing.T, v T) {
	t.Helper()
	c := JSON[T]{}
	byValue, err := c.Encode(v)
	if err != nil {
		t.Fatalf("Encode(%T): %v", v, err)
	}
	byPointer, err := c.Encode(&v)
	if err != nil {
		t.Fatalf("Encode(*%T): %v", v, err)
	}
	if !bytes.Equal(byValue, byPointer) {
		t.Errorf("%T encodes differently by value and by pointer:\n%s\n%s", v, byValue, byPointer)
	}
	if !json.Valid(byValue) {
		t.Fatalf("%T encodes as invalid JSON: %s", v, byValue)
	}
	dec, err := c.Decode(byValue)
	if err != nil {
		t.Fatalf("Decode(%T): %v", v, err)
	}
	got, ok := dec.(*T)
	if !ok {
		t.Fatalf("Decode returned %T, want *%T", dec, v)
	}
	if !reflect.DeepEqual(*got, v) {
		t.Errorf("%T round trip:\ngot  %+v\nwant %+v\nwire %s", v, *got, v, byValue)
	}
	// The wrong type and broken bytes are errors, never panics.
	if _, err := c.Encode(struct{ X int }{}); err == nil {
		t.Errorf("JSON[%T].Encode(other type) succeeded", v)
	}
	if _, err := c.Decode([]byte(`{"broken`)); err == nil {
		t.Errorf("JSON[%T].Decode(broken) succeeded", v)
	} else if se := (*json.SyntaxError)(nil); !errors.As(err, &se) {
		t.Errorf("JSON[%T].Decode(broken) = %v, want a wrapped *json.SyntaxError", v, err)
	}
}

func TestJSONCodecRoundTrip(t *testing.T) {
	at := utc(2021, 3, 6, 8, 13, 5, 112_000_000)
	end := utc(2021, 3, 6, 8, 30, 0, 123456789)
	speed, lat, lon := 64.2, 38.938734, -77.269385
	trip := TripAggregate{
		VIN: "5JO226H6QR3J3T7TI", TripID: "trip-1", Time: at, StartTime: utc(2021, 3, 6, 7, 40, 2, 454_000_000), EndTime: &end,
		VehicleSpeedMean: 64.1, EngineSpeedMean: 3077.5, TorqueAtTransmissionMean: 210.7, OilTempMean: 237.4,
		AcceleratorPedalPositionMean: 28.8, BrakeMean: 4.2, HighSpeedDuration: 12, HighAccelerationEvents: 3,
		HighBrakingEvents: 1, IdleDuration: 75323, IgnitionStatus: "run", BrakePedalStatus: true,
		TransmissionGearPosition: "fifth", Odometer: 35.27, FuelLevel: 97.7, FuelConsumedSinceRestart: 0.91,
		Latitude: lat, Longitude: lon,
	}
	anomaly := Anomaly{
		ID: "a1", VIN: trip.VIN, TripID: "trip-1", Rule: "oil_temp_high", Signal: SignalOilTemp, State: AnomalyOpen,
		Severity: "warning", Value: 261.2, Threshold: 250, Message: "oil temperature 261.2 °F above 250", StartedAt: at, Time: end,
	}

	t.Run("TripState", func(t *testing.T) {
		roundTrip(t, TripState{VIN: trip.VIN, TripID: "trip-1", StartTime: trip.StartTime, EndTime: &end, UpdatedAt: at,
			Latitude: lat, Longitude: lon, Latest: trip, Trips: 3})
		roundTrip(t, TripState{VIN: trip.VIN, TripID: "trip-1", StartTime: trip.StartTime, UpdatedAt: at, Latest: TripAggregate{VIN: trip.VIN, Time: at, StartTime: at}})
	})
	t.Run("TripAggregate", func(t *testing.T) { roundTrip(t, trip) })
	t.Run("VehicleState", func(t *testing.T) {
		roundTrip(t, VehicleState{
			VIN: trip.VIN, TripID: "trip-1", UpdatedAt: at, Messages: 42,
			Signals: map[string]SignalState{
				SignalVehicleSpeed:             {Value: Number(64.2), Time: at},
				SignalTransmissionGearPosition: {Value: String("fifth"), Time: at},
				SignalBrakePedalStatus:         {Value: Bool(true), Time: at},
				SignalLocation:                 {Value: Location(lat, lon), Time: end},
			},
			Stats:         map[string]RollingStat{SignalVehicleSpeed: {N: 100, Mean: 63.9, Var: 4.41}},
			OpenAnomalies: map[string]Anomaly{"oil_temp_high": anomaly},
		})
		roundTrip(t, VehicleState{VIN: trip.VIN, UpdatedAt: at, Signals: map[string]SignalState{}})
	})
	t.Run("SignalState", func(t *testing.T) { roundTrip(t, SignalState{Value: Location(lat, lon), Time: at}) })
	t.Run("Anomaly", func(t *testing.T) {
		roundTrip(t, anomaly)
		cleared := anomaly
		cleared.State, cleared.Message = AnomalyCleared, ""
		roundTrip(t, cleared)
	})
	t.Run("DTCEvent", func(t *testing.T) {
		roundTrip(t, DTCEvent{ID: "e1", VIN: trip.VIN, TripID: "trip-1", Code: "P0217", System: SystemPowertrain, Generic: true,
			Severity: "critical", Description: "Engine Coolant Over Temperature Condition", StopWorthy: true,
			CommandID: CommandID(trip.VIN, "trip-1", "P0217", CommandEngineStop), Repeat: true, Time: at,
			Speed: &speed, Latitude: &lat, Longitude: &lon})
		roundTrip(t, DTCEvent{ID: "e2", VIN: trip.VIN, Code: "B1000", System: SystemBody, Severity: "info", Time: at})
	})
	t.Run("DTCState", func(t *testing.T) {
		roundTrip(t, DTCState{VIN: trip.VIN, TripID: "trip-1",
			Active:   map[string]ActiveDTC{"P0217": {Code: "P0217", TripID: "trip-1", FirstSeen: at, LastSeen: end, Count: 2}},
			Commands: map[string]IssuedCommand{"c1": {IssuedAt: at, Partition: 7, Offset: 1234567}}})
		roundTrip(t, DTCState{VIN: trip.VIN, Active: map[string]ActiveDTC{}})
	})
	t.Run("Command", func(t *testing.T) {
		roundTrip(t, Command{ID: CommandID(trip.VIN, "trip-1", "P0217", CommandEngineStop), VIN: trip.VIN,
			Action: CommandEngineStop, Reason: "dtc", Code: "P0217", TripID: "trip-1", IssuedAt: at})
	})
	t.Run("Measurement", func(t *testing.T) {
		for _, v := range []Value{Number(64.2), String("fifth"), Bool(false), Location(lat, lon)} {
			roundTrip(t, Measurement{VIN: trip.VIN, TripID: "trip-1", Name: "x", Value: v, Time: at,
				Dimensions: map[string]string{"trip_id": "trip-1", "ignition_status": "run"}})
		}
		roundTrip(t, Measurement{VIN: trip.VIN, Name: SignalVehicleSpeed, Value: Number(0), Time: at})
	})
	t.Run("DeadLetter", func(t *testing.T) {
		roundTrip(t, DeadLetter{Topic: "telemetry", Partition: 3, Offset: 99, Key: trip.VIN,
			Value: []byte("\x00\xffnot json{"), Reason: ReasonInvalidJSON, Detail: "invalid character", Stage: "vehicle-state", Time: at})
	})
	t.Run("Signal", func(t *testing.T) {
		roundTrip(t, Signal{VIN: trip.VIN, TripID: "trip-1", Name: SignalLocation, Value: Location(lat, lon), Time: at})
	})
	t.Run("DTC", func(t *testing.T) { roundTrip(t, DTC{VIN: trip.VIN, TripID: "trip-1", Code: "P0404", Time: at}) })
}

func TestJSONCodecDecodedSignalsSurviveTheTable(t *testing.T) {
	// What the decoders produce from the fixtures is what the tables store: it must come back
	// unchanged through the table codec.
	sigs, err := DecodeTelemetry(fixture(t, "v3-vehicle-tick.json"))
	if err != nil {
		t.Fatal(err)
	}
	st := VehicleState{VIN: sigs[0].VIN, TripID: sigs[0].TripID, UpdatedAt: sigs[0].Time, Signals: map[string]SignalState{}}
	for _, s := range sigs {
		st.Signals[s.Name] = SignalState{Value: s.Value, Time: s.Time}
	}
	roundTrip(t, st)
}

func TestCommandID(t *testing.T) {
	a := CommandID("VIN1", "trip", "P0217", CommandEngineStop)
	if a != CommandID("VIN1", "trip", "P0217", CommandEngineStop) || len(a) != 32 {
		t.Errorf("CommandID is not a stable 32-character id: %q", a)
	}
	// The parts are separated, so shifting text between them changes the id.
	if a == CommandID("VIN1t", "rip", "P0217", CommandEngineStop) || a == CommandID("VIN1", "trip", "P0218", CommandEngineStop) {
		t.Error("different commands share an id")
	}
}

func TestTripStateEnded(t *testing.T) {
	var nilState *TripState
	end := utc(2021, 3, 6, 8, 30, 0, 0)
	if nilState.Ended() || (&TripState{}).Ended() || !(&TripState{EndTime: &end}).Ended() {
		t.Error("Ended is wrong")
	}
}
