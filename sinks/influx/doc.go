// Package influx is the "influx" sink backend: InfluxDB line protocol over HTTP, for Amazon
// Timestream for InfluxDB, InfluxDB 2.x and Cloud (the v2 API: POST /api/v2/write with an API
// token) and InfluxDB 1.x (the v1 API: POST /write with optional basic auth). Bodies are
// gzipped.
//
// Records become points by topic:
//
//	telemetry   tags vin, trip_id and the measurement's dimensions; one field per signal
//	            (float, string or boolean; a location is <name>_latitude and <name>_longitude).
//	            The signals of one vehicle at one instant (same tags and time) share a line.
//	anomalies   tags vin, rule, signal, severity, state, trip_id; fields id, value, threshold,
//	            message, started_at (ns)
//	dtc_events  tags vin, code, system, severity, trip_id; fields id, generic, stop_worthy,
//	            repeat, description, command_id, speed, latitude, longitude
//
// Every point is stamped with the record's event time in nanoseconds. InfluxDB keeps one point
// per series (measurement and tag set) and timestamp and overwrites its fields on a second
// write, so a redelivered or replayed record rewrites its own point: that is this backend's
// idempotency, and why it may resend lines freely.
//
// Failures: 429 and 503 are retried after Retry-After (sinks.RetryAfter); other 5xx, timeouts
// and network errors are retried; a 400 refusing some lines (malformed, a field type conflict,
// a partial write) has the lines it names dead-lettered and the rest sent again; when the
// message names no line, the request is halved until the refused line is alone, and a merged
// line is retried record by record, so only the offending record is dead-lettered. 401, 403 and
// 404 (bucket, org or database not found) are permanent, and Connect reports them at start-up
// with the fix. Names line protocol cannot carry (a tag value ending in a backslash, a line
// break in a tag) are refused before sending.
package influx
