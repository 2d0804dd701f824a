// Package timestream is the Amazon Timestream for LiveAnalytics backend of the timeseries sink:
// a sinks.Backend that writes the timeseries topic's measurements as multi-measure records and
// the anomalies and dtc-events topics to an events table, through the AWS SDK's
// timestreamwrite client.
//
// Measurements of one VIN (and trip, and configured extra dimensions) that fall in one time
// bucket (Config.Bucket, 1 s by default) become one record at the bucket's start, named
// "signals", with one measure per signal (the newest reading of each). Every record carries a
// Version derived from its content, so redelivery and replay write the same records with the
// same versions and Timestream neither duplicates nor rejects them, while a bucket that gains
// readings gets a higher version and is upserted. WriteBatch reports per input which records
// failed and whether a retry can help (see sinks.BatchError).
//
// EstimateCost computes, without any I/O, the requests, records and billed write units of a
// stream of measurements against the naive one-record-per-measurement approach.
//
// The AWS SDK is imported here and nowhere else in fleetstream. The client comes from the
// standard AWS configuration chain; AWS_ENDPOINT_URL_TIMESTREAM_WRITE points it at another
// endpoint, such as the fake in internal/awsfake. README.md lists the flags, the IAM
// permissions, the failure behaviour and the cost model.
package timestream
