// Package iot is the AWS IoT data plane backend of the command sink: it delivers each command
// over HTTPS with the AWS SDK for Go v2 (service/iotdataplane), either as a Publish with QoS 1
// to the rendered topic (by default the classic shadow's $aws/things/{vin}/shadow/update, which
// the shadow service applies) or as an UpdateThingShadow call on the rendered thing.
//
// Credentials and region come from the standard SDK chain; the endpoint from Config.Endpoint or
// the standard AWS_ENDPOINT_URL_IOT_DATA_PLANE, so a local endpoint can stand in for the
// service. Calls are limited by a token bucket (100 per second by default, AWS IoT Core's
// per-connection publish limit). The SDK's own retries are off: throttling (429), 5xx and
// network errors come back retryable for the command sink to retry with backoff, the other
// 4xx as sinks.Permanent.
package iot
