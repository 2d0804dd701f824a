// Package simulator drives a fleet of simulated connected cars and publishes what they send,
// in the shapes of the AWS IoT Device Simulator's automotive module (shared/payloads): v2
// telemetry with one message per signal, or v3 with one camelCase object per tick; trip
// aggregates every 90 s and at the end of a trip; and OBD-II trouble codes, each at most once
// per trip.
//
// The physics is a pure step function, Step(state, dt, rng): speed, gear, engine speed and
// torque agree, fuel falls with distance, the odometer only rises, the position follows the
// bearing by the distance driven and oil warms toward operating temperature. A driver model
// picks road segments (city, arterial, highway), stops at junctions and now and then drives
// aggressively, which is what the trip aggregates' event counters count.
//
// A Simulator publishes through a Publisher: MQTTPublisher (paho, QoS 1, topics
// connectedcar/{telemetry,trip,dtc}/<VIN>) or KafkaPublisher (sarama async producer straight to
// the telemetry, trips and diagnostics topics, keyed by VIN) for load generation. In paced mode
// each vehicle ticks every Interval; with a Rate the fleet runs as fast as a token bucket of
// Rate messages per second allows.
//
// Over MQTT the vehicles obey AWS IoT shadow commands on $aws/things/<VIN>/shadow/update: on
// {"state":{"desired":{"engine":"stop"}}} a vehicle brakes to a standstill over the next ticks,
// switches off, ends its trip (the last aggregate carries end_time), reports
// {"state":{"reported":{"engine":"stopped","ignition_status":"off"}}} on the same topic and
// then sends nothing until {"state":{"desired":{"engine":"start"}}}.
//
//	pub, err := simulator.DialMQTT(ctx, simulator.MQTTConfig{Broker: "tcp://127.0.0.1:1883"})
//	…
//	sim, err := simulator.New(simulator.DefaultConfig(), pub)
//	…
//	err = sim.Run(ctx)
package simulator
