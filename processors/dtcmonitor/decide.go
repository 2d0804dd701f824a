package dtcmonitor

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/processors"
)

// MaxActiveCodes bounds the codes kept per trip; beyond it the least recently seen is dropped
// (and would count as a first occurrence again).
const MaxActiveCodes = 128

// Source is the input record being processed: the partition and offset that identify it when it
// is redelivered.
type Source struct {
	Partition int32
	Offset    int64
}

// Decision is what one trouble code does to a vehicle.
type Decision struct {
	// State is the new state; prev, untouched, when Changed is false.
	State   *codecs.DTCState
	Changed bool
	// Event goes to dtc-events; nil for a repeat.
	Event *codecs.DTCEvent
	// Command goes to commands; nil unless a stop-worthy code issued it now or its issuing
	// record is being redelivered.
	Command *codecs.Command
	// CommandResult is processors.CommandIssued when Command is set, CommandDuplicate when a
	// stop-worthy code issued nothing because its command was already issued in this trip, and
	// empty for other codes.
	CommandResult string
}

// Decide folds trouble code d, read from record src, into the vehicle's state (prev, nil for a
// vehicle not seen yet) with vehicle the joined vehicle state (nil when unknown). It does not
// modify prev.
//
// The trip is d's trip id, or the vehicle's current trip when d has none. A code of another
// trip than the stored one starts that trip and resets the active codes, unless it is older
// than every active code: then it is a late code of an earlier trip, which emits its event but
// changes nothing and issues no command (stopping the engine for a trip that is over would be
// wrong), except that the record which issued a command, when redelivered, sends it again.
func (c Config) Decide(prev *codecs.DTCState, d codecs.DTC, vehicle *codecs.VehicleState, src Source) Decision {
	tripID := d.TripID
	if tripID == "" && vehicle != nil {
		tripID = vehicle.TripID
	}
	state := clone(prev, d.VIN)
	if tripID != state.TripID {
		if prev != nil && olderThanTrip(state, d) {
			return c.late(prev, d, tripID, vehicle, src)
		}
		state.TripID = tripID
		state.Active = map[string]codecs.ActiveDTC{}
	}

	dec := Decision{State: state}
	active, seen := state.Active[d.Code]
	// A first occurrence emits the event; so does the very same reading again, in case the
	// event of its first delivery was lost (same id, the sinks deduplicate).
	emitEvent := !seen || d.Time.Equal(active.FirstSeen)
	switch {
	case !seen:
		active = codecs.ActiveDTC{Code: d.Code, TripID: tripID, FirstSeen: d.Time, LastSeen: d.Time, Count: 1}
		dec.Changed = true
	case d.Time.Equal(active.FirstSeen) || d.Time.Equal(active.LastSeen):
		// The same reading again (redelivery or a retrying producer): nothing to count.
	default:
		active.Count++
		if d.Time.After(active.LastSeen) {
			active.LastSeen = d.Time
		}
		if d.Time.Before(active.FirstSeen) {
			active.FirstSeen = d.Time
		}
		dec.Changed = true
	}
	state.Active[d.Code] = active
	if dec.Changed {
		boundActive(state.Active)
	}

	var commandID string // of the event: the command this code issued in this trip, if any
	if c.StopWorthy(d.Code) {
		id := codecs.CommandID(d.VIN, tripID, d.Code, codecs.CommandEngineStop)
		issued, done := state.Commands[id]
		switch {
		case done && issued.Partition == src.Partition && issued.Offset == src.Offset:
			dec.Command = c.command(d, tripID, id, issued.IssuedAt) // redelivered: send again
			dec.CommandResult = processors.CommandIssued
		case done || seen:
			dec.CommandResult = processors.CommandDuplicate
		default:
			issued = codecs.IssuedCommand{IssuedAt: d.Time, Partition: src.Partition, Offset: src.Offset}
			state.Commands[id] = issued
			boundCommands(state.Commands)
			dec.Command = c.command(d, tripID, id, issued.IssuedAt)
			dec.CommandResult = processors.CommandIssued
			dec.Changed = true
		}
		if done || dec.Command != nil {
			commandID = id
		}
	}
	if emitEvent {
		dec.Event = c.event(d, tripID, active.FirstSeen, commandID, vehicle)
	}
	if !dec.Changed {
		dec.State = prev
	}
	return dec
}

// late handles a code of an earlier trip that arrives after a newer trip started: its event is
// emitted, state is untouched and no command is issued, except that the record which issued a
// command, when redelivered, sends it again.
func (c Config) late(prev *codecs.DTCState, d codecs.DTC, tripID string, vehicle *codecs.VehicleState, src Source) Decision {
	dec := Decision{State: prev}
	var commandID string
	if c.StopWorthy(d.Code) {
		id := codecs.CommandID(d.VIN, tripID, d.Code, codecs.CommandEngineStop)
		issued, done := prev.Commands[id]
		switch {
		case done && issued.Partition == src.Partition && issued.Offset == src.Offset:
			dec.Command = c.command(d, tripID, id, issued.IssuedAt)
			dec.CommandResult = processors.CommandIssued
			commandID = id
		case done:
			dec.CommandResult = processors.CommandDuplicate
			commandID = id
		}
	}
	dec.Event = c.event(d, tripID, d.Time, commandID, vehicle)
	return dec
}

// event builds the event of code d in trip tripID, first seen at firstSeen.
func (c Config) event(d codecs.DTC, tripID string, firstSeen time.Time, commandID string, vehicle *codecs.VehicleState) *codecs.DTCEvent {
	system, generic := codecs.ClassifyDTC(d.Code)
	description, _ := codecs.DescribeDTC(d.Code)
	e := &codecs.DTCEvent{
		ID:          EventID(d.VIN, tripID, d.Code),
		VIN:         d.VIN,
		TripID:      tripID,
		Code:        d.Code,
		System:      system,
		Generic:     generic,
		Severity:    c.Severity(d.Code),
		Description: description,
		StopWorthy:  c.StopWorthy(d.Code),
		CommandID:   commandID,
		Time:        firstSeen,
	}
	if vehicle != nil {
		if s, ok := vehicle.Signals[codecs.SignalVehicleSpeed]; ok && s.Value.Kind == codecs.KindNumber {
			speed := s.Value.Num
			e.Speed = &speed
		}
		if s, ok := vehicle.Signals[codecs.SignalLocation]; ok && s.Value.Kind == codecs.KindLocation {
			lat, lon := s.Value.Lat, s.Value.Lon
			e.Latitude, e.Longitude = &lat, &lon
		}
	}
	return e
}

// command builds the engine-stop command for code d.
func (c Config) command(d codecs.DTC, tripID, id string, issuedAt time.Time) *codecs.Command {
	reason := "DTC " + d.Code
	if description, ok := codecs.DescribeDTC(d.Code); ok {
		reason += ": " + description
	}
	return &codecs.Command{
		ID: id, VIN: d.VIN, Action: codecs.CommandEngineStop, Reason: reason,
		Code: d.Code, TripID: tripID, IssuedAt: issuedAt,
	}
}

// EventID derives a DTC event's id from the vehicle, the trip and the code: one event per code
// and trip, the same however often it is computed.
func EventID(vin, tripID, code string) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{vin, tripID, code, "dtc"}, "\x00")))
	return hex.EncodeToString(sum[:16])
}

// olderThanTrip reports whether d is older than every code active in the stored trip.
func olderThanTrip(state *codecs.DTCState, d codecs.DTC) bool {
	if len(state.Active) == 0 {
		return false
	}
	for _, a := range state.Active {
		if !d.Time.Before(a.FirstSeen) {
			return false
		}
	}
	return true
}

// clone copies prev so Decide can change it, or starts the state of a new vehicle.
func clone(prev *codecs.DTCState, vin string) *codecs.DTCState {
	s := &codecs.DTCState{VIN: vin}
	if prev != nil {
		*s = *prev
	}
	s.Active = maps.Clone(s.Active)
	s.Commands = maps.Clone(s.Commands)
	if s.Active == nil {
		s.Active = map[string]codecs.ActiveDTC{}
	}
	if s.Commands == nil {
		s.Commands = map[string]codecs.IssuedCommand{}
	}
	return s
}

// boundCommands keeps the newest codecs.MaxRememberedCommands commands.
func boundCommands(m map[string]codecs.IssuedCommand) {
	for len(m) > codecs.MaxRememberedCommands {
		oldest := ""
		for _, id := range sortedKeys(m) {
			if oldest == "" || m[id].IssuedAt.Before(m[oldest].IssuedAt) {
				oldest = id
			}
		}
		delete(m, oldest)
	}
}

// boundActive keeps the MaxActiveCodes most recently seen codes.
func boundActive(m map[string]codecs.ActiveDTC) {
	for len(m) > MaxActiveCodes {
		oldest := ""
		for _, code := range sortedKeys(m) {
			if oldest == "" || m[code].LastSeen.Before(m[oldest].LastSeen) {
				oldest = code
			}
		}
		delete(m, oldest)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
