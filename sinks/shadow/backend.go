package shadow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow/iot"
	"github.com/fleetstream/fleetstream/sinks/shadow/mqtt"
	"github.com/fleetstream/fleetstream/sinks/shadow/target"
)

// The backends the command sink publishes through.
const (
	BackendMQTT = mqtt.Name // an MQTT broker (AWS IoT Core on 8883, Mosquitto, the dev broker)
	BackendIoT  = iot.Name  // the AWS IoT data plane HTTPS API
)

// BackendConfig chooses and configures the backend, and how commands are rendered.
type BackendConfig struct {
	// Kind is mqtt (default) or iot.
	Kind string
	// Target renders a command's topic, payload and thing name.
	Target target.Config
	MQTT   mqtt.Config
	IoT    iot.Config
}

// DefaultBackendConfig publishes over MQTT to the dev broker with the AWS IoT classic shadow
// rendering.
func DefaultBackendConfig() BackendConfig {
	return BackendConfig{
		Kind:   BackendMQTT,
		Target: target.DefaultConfig(),
		MQTT:   mqtt.DefaultConfig(),
		IoT:    iot.DefaultConfig(),
	}
}

// Validate checks the kind, the templates (by rendering a sample command) and the chosen
// backend's configuration.
func (c BackendConfig) Validate() error {
	var errs []error
	switch c.Kind {
	case "", BackendMQTT:
		errs = append(errs, c.MQTT.Validate())
	case BackendIoT:
		errs = append(errs, c.IoT.Validate())
	default:
		errs = append(errs, fmt.Errorf("shadow: backend %q is unknown: use %s or %s", c.Kind, BackendMQTT, BackendIoT))
	}
	errs = append(errs, c.Target.Validate())
	return errors.Join(errs...)
}

// NewBackend builds the backend c names. It does not connect: call Connect.
func NewBackend(ctx context.Context, c BackendConfig, logger *slog.Logger) (sinks.Backend, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	render, err := target.New(c.Target)
	if err != nil {
		return nil, err
	}
	if c.Kind == BackendIoT {
		return iot.New(ctx, c.IoT, render, iot.WithLogger(logger))
	}
	return mqtt.New(c.MQTT, render, mqtt.WithLogger(logger))
}
