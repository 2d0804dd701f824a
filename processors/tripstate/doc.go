// Package tripstate is the trip-state processor group: it reads the trip aggregates vehicles
// send on the trips topic and keeps, per VIN, the newest aggregate by event time in the group
// table trip-state-table, which vehicle-state joins.
//
// Aggregates may arrive out of order and more than once. An aggregate older than the stored one
// is ignored; one with the same event time changes nothing, so redelivery and replay are
// harmless. A newer aggregate of another trip starts a new trip and counts it in
// codecs.TripState.Trips; the last aggregate of a trip records its end time. Messages that do
// not decode, or whose VIN differs from their Kafka key, go to dead-letters.
package tripstate
