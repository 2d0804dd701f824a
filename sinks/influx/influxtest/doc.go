// Package influxtest is an InfluxDB stand-in for tests: an HTTP server speaking the v2 and v1
// write APIs over a line-protocol parser that follows InfluxDB's escaping rules, keeping points
// the way InfluxDB does (a point of the same series and time updates the stored one), and
// letting tests inject throttling (429/503 with Retry-After), server errors, hangs, refused
// points and field type conflicts.
package influxtest
