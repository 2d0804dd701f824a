// Package files is the "files" sink backend, the default time-series destination of
// `fleetstream dev`: records written as JSON Lines under a directory, one line per record,
// easy to load with pandas:
//
//	Dir/timeseries/2024-05-01T08-0001.jsonl   measurements (codecs.Measurement), one per line
//	Dir/events/2024-05-01T08-0001.jsonl       anomalies ("event":"anomaly"), trouble-code events
//	                                          ("event":"dtc") and records of any other topic
//	Dir/.files-sink-state.json                highest offset written per topic and partition
//
// Every line is the decoded record, normalised (UTC times, compact JSON), with the topic,
// partition, offset and key it came from. Files rotate at each UTC hour and before they would
// pass Config.MaxFileBytes. A batch is written whole lines at a time and fsynced (unless
// Config.NoSyncPerBatch); a write that fails is cut back, and a line left unfinished by a crash
// is removed at the next start, so files never hold partial lines.
//
// Redelivery after a crash or rebalance would duplicate lines, so the backend remembers the
// highest offset written per topic and partition (the state file, and on start the newest file
// of each kind) and skips records at or below it. A deliberate replay (consumer offsets reset)
// is skipped for the same reason: remove the state file, or write to a new directory, or set
// Config.KeepDuplicates. Records that cannot be decoded are refused for good and end up on the
// dead-letter topic; I/O errors (a full disk) are retried.
package files
