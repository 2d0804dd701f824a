// Package target renders a command for its vehicle: the MQTT topic (by default the AWS IoT
// classic shadow topic $aws/things/{vin}/shadow/update), the JSON payload (by default
// {"state":{"desired":{"engine":"stop"}},"clientToken":"<command id>"}) and the thing name of
// a shadow update, all from text/template templates checked at start-up.
//
// Both backends of the command sink (sinks/shadow/mqtt and sinks/shadow/iot) render through a
// Renderer, so the same command produces the same message whichever way it travels. Every
// rendering error is permanent (sinks.Permanent): a command that cannot be rendered now never
// can, and goes to dead-letters.
package target
