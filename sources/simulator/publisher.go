package simulator

import "context"

// Publisher sends one vehicle message. topic is the resolved topic (an MQTT topic or a Kafka
// topic) and key the VIN. Publish returns once the message is handed over as far as the
// transport promises (an MQTT PUBACK at QoS 1; the producer's queue for Kafka). It is called
// from several goroutines, but never concurrently for one VIN, so per-vehicle order holds.
type Publisher interface {
	Publish(ctx context.Context, topic, key string, payload []byte) error
}

// CommandSource is a Publisher that can also deliver commands to the vehicles: MQTTPublisher.
// The simulator subscribes to its shadow topic filter and calls handle for every message on it;
// handle must not block.
type CommandSource interface {
	SubscribeCommands(ctx context.Context, filter string, handle func(topic string, payload []byte)) error
}

// PublisherFunc adapts a function to Publisher.
type PublisherFunc func(ctx context.Context, topic, key string, payload []byte) error

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, topic, key string, payload []byte) error {
	return f(ctx, topic, key, payload)
}
