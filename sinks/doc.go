// Package sinks is the delivery core of fleetstream's sinks and the contract of their backends.
//
// A Backend writes batches of records to one destination (InfluxDB, Timestream, files, an MQTT
// broker) and says which records failed and whether they may be retried (BatchError, Permanent,
// Retryable, WithRetryAfter). Everything else is the Worker's: it is a sarama consumer group over
// the sink's topics that batches each partition's records (Config.MaxRecords, MaxBytes,
// Linger), delivers batches of up to MaxInFlight partitions at once and those of one partition
// in order, retries retryable failures with exponential backoff and full jitter until they
// succeed (never dropping a record; RetryAfter is honoured), produces the records refused for
// good to the dead-letter topic as codecs.DeadLetter envelopes (synchronously, acks=all, with
// the original bytes), and only then commits.
//
//	w, err := sinks.NewWorker(sinks.Config{
//		Group:           "timeseries-sink",
//		Topics:          []string{"timeseries", "anomalies", "dtc-events"},
//		Kafka:           kafka,
//		DeadLetterTopic: "dead-letters",
//		Logger:          log,
//		Registerer:      reg,
//	}, backend)
//	if err != nil { … }
//	return w.Run(ctx) // Ready() is nil once the group session is established
//
// # Delivery guarantees
//
// Commits are manual: an offset is committed only when every record before it in its partition
// is written or dead-lettered, so delivery is at least once and nothing is lost. When a
// partition is revoked (a rebalance) or ctx is cancelled, the worker stops fetching, delivers
// what it fetched within DrainTimeout, commits, and lets go; what is not delivered by then stays
// uncommitted and is delivered again by the partition's next owner. A record may therefore reach
// a destination twice, which is why every backend writes idempotently (InfluxDB points upsert
// on series and timestamp, Timestream record versions, offset-deduplicated files). If the
// dead-letter topic cannot be written, the batch is not committed and dead-lettering is retried.
//
// # Metrics
//
//	fleetstream_sink_batches_total{sink,backend,result}  WriteBatch calls: ok, partial, failed
//	fleetstream_sink_records_total{sink,backend,result}  records written or dead_lettered
//	fleetstream_sink_retries_total{sink,backend}         attempts after a retryable failure
//	fleetstream_sink_write_seconds{sink,backend}         WriteBatch duration
//	fleetstream_sink_inflight_batches{sink}              batches being delivered
//	fleetstream_dead_letters_total{group,reason}         dead letters, group = the sink's Group
//
// The last family is shared with the processor groups; see Config.DeadLetters.
package sinks
