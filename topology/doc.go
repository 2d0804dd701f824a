// Package topology is the framework part of fleetstream: it knows Kafka and goka but nothing
// about vehicles. It holds the Kafka client configuration (one partitioner for every producer,
// processor and view), the topic catalog and its provisioning, the builders that turn a goka
// group graph into a running processor or view with that configuration, and the supervisor that
// keeps a processor running and reports readiness.
//
// Processors hand their group graphs to a Builder; nothing here reaches for global state, and
// every goka builder gets its own sarama configuration (goka mutates what it is given).
package topology
