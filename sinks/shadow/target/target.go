package target

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
)

// The defaults render a STOP command as an update of the vehicle's AWS IoT classic shadow,
// with the command id as clientToken so the vehicle can tell a resend from a new command.
const (
	DefaultTopic   = `$aws/things/{{.VIN}}/shadow/update`
	DefaultPayload = `{"state":{"desired":{"engine":"stop"}},"clientToken":{{json .ID}}}`
	DefaultThing   = `{{.VIN}}`
)

// DefaultActions are the command actions the default payload describes.
var DefaultActions = []string{codecs.CommandEngineStop}

// Limits of what a rendered message may be. AWS IoT Core accepts topics of up to 256 bytes and
// payloads of up to 128 KiB; a shadow's clientToken is at most 64 bytes.
const (
	MaxTopicBytes   = 256
	MaxPayloadBytes = 128 << 10
	MaxIDBytes      = 64
	MaxThingBytes   = 128
)

// Reasons a command is refused before it is published; the command sink dead-letters it with
// the reason.
const (
	ReasonMissingID         codecs.Reason = "missing_command_id"
	ReasonBadVIN            codecs.Reason = "bad_vin"
	ReasonUnsupportedAction codecs.Reason = "unsupported_action"
	ReasonRender            codecs.Reason = "render_failed"
)

// Config says where a command goes and what it says. Topic, Payload and Thing are Go
// text/template templates executed with a codecs.Command: {{.ID}}, {{.VIN}}, {{.Action}},
// {{.Reason}}, {{.Code}}, {{.TripID}}, {{.IssuedAt}}. The function json renders its argument
// as a JSON literal ({{json .ID}} gives "a1b2…" with quotes), which keeps the payload valid
// whatever the field holds.
type Config struct {
	// Topic is the MQTT topic (and the IoT data plane Publish topic).
	Topic string
	// Payload is the message body; it must render valid JSON.
	Payload string
	// Thing is the thing name of an UpdateThingShadow call (iot backend, shadow mode).
	Thing string
	// Actions lists the command actions this target renders. A command with another action is
	// refused (dead-lettered as unsupported_action): the default payload means "stop the
	// engine" whatever the command says, so it must not render anything else.
	Actions []string
}

// DefaultConfig renders engine_stop commands as AWS IoT classic shadow updates.
func DefaultConfig() Config {
	return Config{
		Topic:   DefaultTopic,
		Payload: DefaultPayload,
		Thing:   DefaultThing,
		Actions: append([]string(nil), DefaultActions...),
	}
}

func (c Config) withDefaults() Config {
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Payload == "" {
		c.Payload = DefaultPayload
	}
	if c.Thing == "" {
		c.Thing = DefaultThing
	}
	if len(c.Actions) == 0 {
		c.Actions = append([]string(nil), DefaultActions...)
	}
	return c
}

// Validate parses the templates and renders a sample command with them: the topic must be a
// valid MQTT topic name without wildcards, the payload valid JSON. Empty fields take the
// defaults.
func (c Config) Validate() error {
	_, err := New(c)
	return err
}

// Message is a rendered command.
type Message struct {
	Topic   string
	Thing   string
	Payload []byte
}

// Renderer renders commands with a validated Config. It is safe for concurrent use.
type Renderer struct {
	topic, payload, thing *template.Template
	actions               map[string]bool
}

// SampleCommand is the command Validate renders; every field is set.
func SampleCommand() codecs.Command {
	return codecs.Command{
		ID:       codecs.CommandID("1FTEW1EP5JKD00001", "trip-1", "P0300", codecs.CommandEngineStop),
		VIN:      "1FTEW1EP5JKD00001",
		Action:   codecs.CommandEngineStop,
		Reason:   "dtc P0300: random/multiple cylinder misfire",
		Code:     "P0300",
		TripID:   "trip-1",
		IssuedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

var funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

// New parses and checks the templates of c (empty fields take the defaults). The error names
// the field and what is wrong with it.
func New(c Config) (*Renderer, error) {
	c = c.withDefaults()
	r := &Renderer{actions: map[string]bool{}}
	var err error
	if r.topic, err = parse("Topic", c.Topic); err != nil {
		return nil, err
	}
	if r.payload, err = parse("Payload", c.Payload); err != nil {
		return nil, err
	}
	if r.thing, err = parse("Thing", c.Thing); err != nil {
		return nil, err
	}
	for _, a := range c.Actions {
		if strings.TrimSpace(a) == "" {
			return nil, errors.New("target: Actions has an empty entry: list command actions such as engine_stop")
		}
		r.actions[a] = true
	}
	sample := SampleCommand()
	sample.Action = c.Actions[0]
	if _, err := r.Render(sample); err != nil {
		return nil, fmt.Errorf("target: rendering a sample command: %w (fix the template; fields are those of codecs.Command, e.g. {{.VIN}}, {{json .ID}})", err)
	}
	return r, nil
}

func parse(field, text string) (*template.Template, error) {
	t, err := template.New(field).Funcs(funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("target: %s template %q: %w", field, text, err)
	}
	return t, nil
}

// Render renders cmd. The command is checked first (id, VIN, action); every error is permanent
// (sinks.Permanent): rendering the same command again gives the same result. An error from a
// check wraps a *codecs.DecodeError with the reason.
func (r *Renderer) Render(cmd codecs.Command) (Message, error) {
	if err := r.Check(cmd); err != nil {
		return Message{}, sinks.Permanent(err)
	}
	topic, err := execute(r.topic, cmd)
	if err != nil {
		return Message{}, sinks.Permanent(err)
	}
	if err := ValidTopic(topic); err != nil {
		return Message{}, sinks.Permanent(rejectf(ReasonRender, "Topic renders %q: %v", truncate(topic, 80), err))
	}
	payload, err := execute(r.payload, cmd)
	if err != nil {
		return Message{}, sinks.Permanent(err)
	}
	if len(payload) > MaxPayloadBytes {
		return Message{}, sinks.Permanent(rejectf(ReasonRender, "Payload renders %d bytes, limit %d", len(payload), MaxPayloadBytes))
	}
	if !json.Valid([]byte(payload)) {
		return Message{}, sinks.Permanent(rejectf(ReasonRender, "Payload renders invalid JSON %q; quote fields with {{json .Field}}", truncate(payload, 120)))
	}
	thing, err := execute(r.thing, cmd)
	if err != nil {
		return Message{}, sinks.Permanent(err)
	}
	if !validThing(thing) {
		return Message{}, sinks.Permanent(rejectf(ReasonRender, "Thing renders %q: a thing name is 1-%d of [a-zA-Z0-9:_-]", truncate(thing, 80), MaxThingBytes))
	}
	return Message{Topic: topic, Thing: thing, Payload: []byte(payload)}, nil
}

// Check refuses a command this target must not render: no id, a VIN that is not a thing name
// (it becomes part of a topic), an action not in Config.Actions.
func (r *Renderer) Check(cmd codecs.Command) error {
	if cmd.ID == "" || len(cmd.ID) > MaxIDBytes || !printable(cmd.ID) {
		return rejectf(ReasonMissingID, "command id %q: want 1-%d printable characters", truncate(cmd.ID, 80), MaxIDBytes)
	}
	if !validThing(cmd.VIN) {
		return rejectf(ReasonBadVIN, "vin %q: want 1-%d of [a-zA-Z0-9:_-]", truncate(cmd.VIN, 80), MaxThingBytes)
	}
	if !r.actions[cmd.Action] {
		return rejectf(ReasonUnsupportedAction, "action %q is not one this target renders", truncate(cmd.Action, 40))
	}
	return nil
}

// RenderRecord decodes a record of the commands topic and renders it.
func (r *Renderer) RenderRecord(rec sinks.Record) (codecs.Command, Message, error) {
	cmd, err := DecodeCommand(rec.Value)
	if err != nil {
		return cmd, Message{}, sinks.Permanent(err)
	}
	m, err := r.Render(cmd)
	return cmd, m, err
}

func execute(t *template.Template, cmd codecs.Command) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, cmd); err != nil {
		return "", rejectf(ReasonRender, "%s template: %v", t.Name(), err)
	}
	return b.String(), nil
}

// DecodeCommand decodes a record of the commands topic. Errors are *codecs.DecodeError.
func DecodeCommand(b []byte) (codecs.Command, error) {
	var cmd codecs.Command
	if len(b) > codecs.MaxMessageBytes {
		return cmd, rejectf(codecs.ReasonTooLarge, "%d bytes, limit %d", len(b), codecs.MaxMessageBytes)
	}
	if err := json.Unmarshal(b, &cmd); err != nil {
		return codecs.Command{}, rejectf(codecs.ReasonInvalidJSON, "%v", err)
	}
	if cmd.ID == "" {
		return cmd, rejectf(ReasonMissingID, "command has no id")
	}
	if cmd.VIN == "" {
		return cmd, rejectf(codecs.ReasonMissingVIN, "command %s has no vin", truncate(cmd.ID, 64))
	}
	return cmd, nil
}

// ValidTopic reports why name cannot be published to: empty, wildcards, NUL, not UTF-8, or
// longer than MaxTopicBytes.
func ValidTopic(name string) error {
	switch {
	case name == "":
		return errors.New("empty topic")
	case len(name) > MaxTopicBytes:
		return fmt.Errorf("%d bytes, limit %d", len(name), MaxTopicBytes)
	case !utf8.ValidString(name):
		return errors.New("not UTF-8")
	case strings.ContainsAny(name, "+#\x00"):
		return errors.New("a topic name must not contain +, # or NUL")
	}
	return nil
}

func validThing(s string) bool {
	if s == "" || len(s) > MaxThingBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == ':') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == utf8.RuneError {
			return false
		}
	}
	return true
}

func rejectf(r codecs.Reason, format string, args ...any) *codecs.DecodeError {
	return &codecs.DecodeError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
