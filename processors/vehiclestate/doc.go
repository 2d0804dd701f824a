// Package vehiclestate is the vehicle-state processor group: it reads the telemetry topic,
// keeps per VIN the last value and event time of every signal, the current trip, rolling
// statistics of numeric signals and the open anomalies (group table vehicle-state-table), and
// emits:
//
//   - every signal to the timeseries topic as a codecs.Measurement, enriched with the trip it
//     belongs to (dimension trip_id, and trip_start when the joined trip-state table knows the
//     trip); a location becomes two measurements, latitude and longitude;
//   - a codecs.Anomaly to the anomalies topic when a rule's anomaly opens and when it clears,
//     never in between. The anomaly id is derived from the VIN, the rule and the time the
//     anomaly started, so the open and the clear share it and a replay reproduces it.
//
// Signals are applied by event time: a reading older than the stored one of the same signal
// still goes to timeseries but changes neither state nor rules; a reading with the same time
// is a duplicate and changes nothing, except that an anomaly this very reading opened is emitted
// again (goka may have written the table but lost the emit before a crash; the anomalies sink
// deduplicates by id). Messages that do not decode, or whose VIN differs from their Kafka key,
// go to dead-letters.
package vehiclestate
