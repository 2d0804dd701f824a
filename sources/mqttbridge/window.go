package mqttbridge

import (
	"sync"
	"time"

	"github.com/IBM/sarama"
	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/fleetstream/fleetstream/codecs"
)

// pending is one MQTT message between its arrival and its acknowledgement to the broker.
type pending struct {
	msg      paho.Message
	received time.Time
	dest     destination
	key      []byte
	value    []byte
	attempts int
	done     bool // Kafka acknowledged it
}

// record builds a fresh producer message for one attempt (sarama keeps per-attempt state in the
// message, so a returned one is not sent again).
func (p *pending) record() *sarama.ProducerMessage {
	var key sarama.Encoder
	if len(p.key) > 0 {
		key = sarama.ByteEncoder(p.key)
	}
	return &sarama.ProducerMessage{
		Topic:    p.dest.topic,
		Key:      key,
		Value:    sarama.ByteEncoder(p.value),
		Headers:  []sarama.RecordHeader{{Key: []byte(headerMQTTTopic), Value: []byte(p.msg.Topic())}},
		Metadata: p,
	}
}

// headerMQTTTopic is the record header carrying the MQTT topic a record came from.
const headerMQTTTopic = "mqtt_topic"

// stage names the bridge in dead letters.
const stage = "mqttbridge"

// deadLetter turns p into a dead letter of the original bytes (at most maxValue of them).
func (p *pending) deadLetter(deadLetterTopic string, reason codecs.Reason, detail string, maxValue int) error {
	payload := p.msg.Payload()
	if len(payload) > maxValue {
		payload = payload[:maxValue]
	}
	p.dest = destination{topic: deadLetterTopic, key: p.dest.key, reason: reason, detail: detail}
	b, err := encodeDeadLetter(codecs.DeadLetter{
		Topic:     p.msg.Topic(),
		Partition: -1,
		Offset:    -1,
		Key:       p.dest.key,
		Value:     payload,
		Reason:    reason,
		Detail:    detail,
		Stage:     stage,
		Time:      p.received.UTC(),
	})
	if err != nil {
		return err
	}
	p.value = b
	p.key = []byte(p.dest.key)
	if len(p.key) == 0 {
		p.key = []byte(p.msg.Topic()) // spreads dead letters by source topic
	}
	return nil
}

// ackWindow holds the messages in flight in arrival order and releases them in that order once
// Kafka has acknowledged them: MQTT 3.1.1 (4.6) wants PUBACKs in the order the PUBLISHes came,
// and a broker that redelivers after a crash then resends a suffix, never a hole.
type ackWindow struct {
	mu    sync.Mutex
	queue []*pending
}

func (w *ackWindow) push(p *pending) {
	w.mu.Lock()
	w.queue = append(w.queue, p)
	w.mu.Unlock()
}

// complete marks p acknowledged by Kafka and returns the messages now ready for their MQTT
// acknowledgement, oldest first.
func (w *ackWindow) complete(p *pending) []*pending {
	w.mu.Lock()
	defer w.mu.Unlock()
	p.done = true
	n := 0
	for n < len(w.queue) && w.queue[n].done {
		n++
	}
	if n == 0 {
		return nil
	}
	ready := make([]*pending, n)
	copy(ready, w.queue[:n])
	rest := copy(w.queue, w.queue[n:])
	clear(w.queue[rest:])
	w.queue = w.queue[:rest]
	return ready
}

// remove takes out p, which was never handed to the producer.
func (w *ackWindow) remove(p *pending) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, q := range w.queue {
		if q == p {
			w.queue = append(w.queue[:i], w.queue[i+1:]...)
			return
		}
	}
}

func (w *ackWindow) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.queue)
}
