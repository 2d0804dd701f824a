// Package dtcmonitor is the dtc-monitor processor group: it reads the diagnostic trouble codes
// vehicles send on the diagnostics topic, joins vehicle-state-table for the vehicle's last speed
// and position, and keeps per VIN the codes active in the current trip and the commands issued
// (group table dtc-monitor-table, a codecs.DTCState).
//
// The first occurrence of a code in a trip emits a codecs.DTCEvent on dtc-events: the code
// classified (system, generic or manufacturer-specific), its severity and description from the
// bundled OBD-II table, and where the vehicle was. A repeat of the code in the same trip only
// updates its count. A stop-worthy code (Config.StopCodes) also emits one
// codecs.Command{Action: engine_stop} on commands, whose id (codecs.CommandID of VIN, trip, code
// and action) is the same however often it is computed. A new trip id resets the active codes.
//
// Delivery is at-least-once and goka writes the table and the emits asynchronously, committing
// the input offset after both. If the process dies after the table write landed but before the
// command was sent, the redelivered record finds the command already issued. So each issued
// command remembers the partition and offset of the record that issued it (codecs.IssuedCommand),
// and when that same record comes again the command is emitted again with the same id; the
// command sink drops ids it already delivered. A different record with the same code in the
// same trip issues nothing. Likewise a reading identical to a code's first occurrence (same
// code and event time) emits its event again with the same id.
package dtcmonitor
