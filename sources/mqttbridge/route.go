package mqttbridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/fleetstream/fleetstream/codecs"
)

// Reasons a message is dead-lettered by the bridge, beside the codecs ones (missing_vin,
// invalid_json, too_large).
const (
	// ReasonUnknownTopic: no route matches the MQTT topic.
	ReasonUnknownTopic codecs.Reason = "unknown_topic"
	// ReasonRejected: Kafka refused the record for good (too large for the broker, unknown
	// topic, not authorized).
	ReasonRejected codecs.Reason = "kafka_rejected"
)

// validFilter checks an MQTT topic filter: levels split by /, + alone in a level, # alone in the
// last level.
func validFilter(f string) error {
	if f == "" {
		return errors.New("empty topic filter")
	}
	if len(f) > 65535 {
		return errors.New("topic filter longer than 65535 bytes")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return errors.New("# must be the whole last level, as in connectedcar/#")
		}
		if strings.Contains(l, "+") && l != "+" {
			return errors.New("+ must be a whole level, as in connectedcar/+/+")
		}
	}
	return nil
}

// match reports whether topic matches filter, and whether the topic's last level is matched
// by a wildcard (so it is a value, such as the VIN, rather than a fixed name). Topics starting
// with $ are not matched by a leading wildcard (MQTT 4.7.2).
func match(filter, topic string) (ok, lastIsWild bool) {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false, false
	}
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		if f == "#" {
			return true, len(tl) > i
		}
		if i >= len(tl) {
			return false, false
		}
		if f != "+" && f != tl[i] {
			return false, false
		}
		if i == len(tl)-1 && i == len(fl)-1 {
			return true, f == "+"
		}
	}
	return false, false
}

// vinFromPayload reads vin (v2 shapes) or VIN (v3 tick) from a JSON object.
func vinFromPayload(b []byte) (string, *codecs.DecodeError) {
	var w struct {
		Lower *string `json:"vin"`
		Upper *string `json:"VIN"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return "", &codecs.DecodeError{Reason: codecs.ReasonInvalidJSON, Detail: "no VIN in the topic, and the payload is not a JSON object: " + truncate(err.Error(), 120)}
	}
	for _, v := range []*string{w.Lower, w.Upper} {
		if v != nil && codecs.ValidVIN(*v) {
			return *v, nil
		}
	}
	return "", &codecs.DecodeError{Reason: codecs.ReasonMissingVIN, Detail: "no VIN in the topic's last level nor a valid vin/VIN in the payload"}
}

// destination is where one MQTT message goes.
type destination struct {
	topic string // Kafka topic; the dead-letter topic when reason is set
	key   string // the VIN ("" when unknown)
	// reason and detail are set when the message is dead-lettered.
	reason codecs.Reason
	detail string
}

// router maps MQTT messages to Kafka topics and keys.
type router struct {
	routes     []Route
	deadLetter string
	maxPayload int
}

func (r router) route(topic string, payload []byte) destination {
	if len(payload) > r.maxPayload {
		return r.dead(codecs.ReasonTooLarge, fmt.Sprintf("%d bytes, MaxPayloadBytes %d; value truncated", len(payload), r.maxPayload))
	}
	for _, rt := range r.routes {
		ok, lastIsWild := match(rt.Filter, topic)
		if !ok {
			continue
		}
		if lastIsWild {
			if vin := topic[strings.LastIndexByte(topic, '/')+1:]; codecs.ValidVIN(vin) {
				return destination{topic: rt.Topic, key: vin}
			}
		}
		vin, derr := vinFromPayload(payload)
		if derr != nil {
			return r.dead(derr.Reason, derr.Detail)
		}
		return destination{topic: rt.Topic, key: vin}
	}
	return r.dead(ReasonUnknownTopic, "no route matches the MQTT topic")
}

func (r router) dead(reason codecs.Reason, detail string) destination {
	return destination{topic: r.deadLetter, reason: reason, detail: detail}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
