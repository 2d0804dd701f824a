// Package codecs holds the wire types of every fleetstream topic and their goka codecs.
//
// Vehicle input (telemetry, trips, diagnostics) is decoded tolerantly: the goka edges for those
// topics carry raw bytes (see Raw) and the processors call DecodeTelemetry, DecodeTrip and
// DecodeDTC inside their callbacks. A message that cannot be decoded yields a *DecodeError, which
// the processor turns into a DeadLetter instead of failing, because goka stops a whole processor
// on a codec error.
//
// Internal types (TripState, VehicleState, Anomaly, DTCEvent, Command, Measurement, DeadLetter)
// are JSON on the wire: readable with kcat, and fast enough (see BenchmarkDecode*).
package codecs
