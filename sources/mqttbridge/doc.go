// Package mqttbridge moves vehicle messages from an MQTT broker to Kafka without losing any
// the broker accepted.
//
// The bridge subscribes at QoS 1 in a persistent session (CleanSession false, a fixed client
// id), maps each MQTT topic to a Kafka topic by the first matching Route
// (connectedcar/telemetry/# → telemetry, connectedcar/trip/# → trips, connectedcar/dtc/# →
// diagnostics by default), keys the record by VIN (the topic's last level when a wildcard
// matched it, else the payload's vin or VIN field) and produces with acks=all and the
// deployment's partitioner (topology.Kafka). It acknowledges a message to the broker only after
// Kafka acknowledged its record, and in the order the messages arrived, so after a crash or a
// restart the broker delivers again exactly what Kafka may not have: delivery is at least once.
//
// Backpressure: at most MaxInFlight messages are unacknowledged. paho runs the handler on its
// reading goroutine (OrderMatters true), and the handler waits for a free slot, so when Kafka
// falls behind the bridge stops reading from the socket and the broker holds the rest; nothing
// is buffered without bound.
//
// What cannot be bridged (no route, no VIN, not JSON where the VIN must come from the payload,
// larger than MaxPayloadBytes, or refused by Kafka for good) goes to the dead-letters topic as a
// codecs.DeadLetter with the MQTT topic, offset -1, the original bytes and the reason.
//
//	b, err := mqttbridge.New(mqttbridge.DefaultConfig())
//	…
//	err = b.Run(ctx) // Ready() reports the connection and subscription
package mqttbridge
