package fleet

import (
	"context"
	"fmt"

	"github.com/fleetstream/fleetstream/sinks/shadow"
)

// SinkConfig chooses and configures the backends of the sink groups.
type SinkConfig struct {
	// Commands configures the command sink's backend (mqtt or iot) and rendering.
	Commands shadow.BackendConfig
}

// DefaultSinkConfig publishes commands over MQTT with the AWS IoT classic shadow rendering.
func DefaultSinkConfig() SinkConfig {
	return SinkConfig{Commands: shadow.DefaultBackendConfig()}
}

// Validate checks the backends of the sink groups c runs.
func (s SinkConfig) Validate(c Config) error {
	if c.runs(GroupCommandSink) {
		if err := s.Commands.Validate(); err != nil {
			return fmt.Errorf("command sink: %w", err)
		}
	}
	return nil
}

// forDev points the command sink at the embedded MQTT broker unless it was configured.
func (s SinkConfig) forDev(dataDir, mqttAddr string) SinkConfig {
	if s.Commands.Kind == "" || s.Commands.Kind == shadow.BackendMQTT {
		s.Commands.MQTT.Brokers = []string{"tcp://" + mqttAddr}
	}
	return s
}

func (w *Worker) addSinks() error {
	if w.cfg.runs(GroupCommandSink) {
		cfg := shadow.DefaultConfig()
		cfg.Commands = goStream(w.cfg.Topics.Commands)
		cfg.DeadLetters = goStream(w.cfg.Topics.DeadLetters)
		cfg.Logger = w.log.With("group", GroupCommandSink)
		sink, err := shadow.New(context.Background(), cfg, w.cfg.Sinks.Commands, w.registry)
		if err != nil {
			return fmt.Errorf("command sink: %w", err)
		}
		w.extra = append(w.extra, namedRunner{
			name:  GroupCommandSink,
			run:   func(ctx context.Context) error { return sink.Run(ctx, w.builder) },
			ready: sink.Ready,
		})
	}
	return nil
}
