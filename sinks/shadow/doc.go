// Package shadow is the command sink: the goka processor group command-sink, which reads
// codecs.Command records from the commands topic and publishes each STOP command to its
// vehicle, exactly once per command id, through a backend — an MQTT broker (package
// sinks/shadow/mqtt; AWS IoT Core on 8883 with client certificates, Mosquitto, the dev broker)
// or the AWS IoT data plane HTTPS API (package sinks/shadow/iot). Package sinks/shadow/target
// renders the message: by default an update of the AWS IoT classic shadow,
// $aws/things/{vin}/shadow/update with {"state":{"desired":{"engine":"stop"}},"clientToken":"<id>"}.
//
// # Exactly once per command id
//
// A command id already published is not published again after a redelivery or a replay. The
// group keeps a table, command-sink-table, holding per VIN the ids of the newest commands
// delivered (Config.Remember, 64 by default) and when. The callback skips a command whose id is
// there (result duplicate); otherwise it publishes the command, waits for the acknowledgement
// (PUBACK, or the HTTP response) and records the id in the same goka callback, so the table
// write and the input offset commit together. Command ids are deterministic
// (codecs.CommandID), so the dtc-monitor re-emitting a command, Kafka redelivering it and a
// replay of the commands topic all carry the same id.
//
// One window is left: a worker that dies after the broker acknowledged a command and before
// goka wrote the table leaves the offset uncommitted, and the next worker publishes the command
// again. The payload carries the id as clientToken so the vehicle can tell. Nothing is lost in
// the other direction: a command whose delivery the worker did not finish before stopping
// (shutdown, rebalance) is left uncommitted and delivered by the next owner of the partition.
//
// # Failures
//
// Nothing a vehicle or producer sends stops the processor: the input edge uses the tolerant
// codecs.Raw codec and a record that does not decode as a command, lacks an id or a VIN, or sits
// under another VIN's key becomes a codecs.DeadLetter on dead-letters. Retryable failures
// (broker unreachable, no PUBACK in time, throttling, 5xx) are retried with exponential backoff
// and jitter until they succeed or the processor stops; commands of a partition are published
// in order, so a vehicle's later command waits behind its earlier one. Permanent failures (a
// command the target refuses to render, a 4xx from the data plane) go to dead-letters with the
// reason and are not recorded as delivered.
//
// # Wiring
//
// New builds the backend from a BackendConfig, registers the Metrics on a
// prometheus.Registerer, and returns a Sink whose Run connects the backend and runs the group
// with a topology.Builder under a topology.Supervisor. Define returns the bare group graph for
// goka's tester or another runner.
package shadow
