package fleet

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/files"
	"github.com/fleetstream/fleetstream/sinks/influx"
	"github.com/fleetstream/fleetstream/sinks/shadow"
	"github.com/fleetstream/fleetstream/sinks/timestream"
	"github.com/fleetstream/fleetstream/topology"
)

// The time-series backends.
const (
	BackendFiles      = "files"
	BackendTimestream = "timestream"
	BackendInflux     = "influx"
)

// SinkConfig chooses and configures the backends of the sink groups. The time-series backend
// is Timestream when a database is named, InfluxDB (Timestream for InfluxDB) when a URL is
// given, otherwise local files under the data dir.
type SinkConfig struct {
	// Timestream is used when Timestream.Database is set (--timestream-database).
	Timestream timestream.Config
	// Influx is used when Influx.URL is set (--influx-url).
	Influx influx.Config
	// FilesDir overrides where the files backend writes (default <data-dir>/timeseries).
	FilesDir string
	// Delivery tunes batching, retries and draining of the timeseries sink.
	Delivery sinks.Config
	// Commands configures the command sink's backend (mqtt or iot) and rendering.
	Commands shadow.BackendConfig
}

// DefaultSinkConfig writes time series to files and publishes commands over MQTT with the AWS
// IoT classic shadow rendering.
func DefaultSinkConfig() SinkConfig {
	return SinkConfig{Timestream: timestream.DefaultConfig(), Commands: shadow.DefaultBackendConfig()}
}

// TimeseriesBackend names the backend the timeseries sink writes to.
func (s SinkConfig) TimeseriesBackend() string {
	switch {
	case s.Timestream.Database != "":
		return BackendTimestream
	case s.Influx.URL != "":
		return BackendInflux
	}
	return BackendFiles
}

// Validate checks the backends of the sink groups c runs.
func (s SinkConfig) Validate(c Config) error {
	var errs []error
	if c.runs(GroupTimeseriesSink) {
		if s.Timestream.Database != "" && s.Influx.URL != "" {
			errs = append(errs, errors.New("timeseries sink: both --timestream-database and --influx-url are set: choose one backend"))
		}
		switch s.TimeseriesBackend() {
		case BackendInflux:
			if err := s.Influx.Validate(); err != nil {
				errs = append(errs, fmt.Errorf("timeseries sink: %w", err))
			}
		case BackendTimestream:
			if err := s.Timestream.WithDefaults().Validate(); err != nil {
				errs = append(errs, fmt.Errorf("timeseries sink: %w", err))
			}
		case BackendFiles:
			if s.FilesDir == "" && c.DataDir == "" {
				errs = append(errs, errors.New("timeseries sink: no destination: set --timestream-database for Amazon Timestream, or --data-dir for local JSON Lines files"))
			}
		}
	}
	if c.runs(GroupCommandSink) {
		if err := s.Commands.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("command sink: %w", err))
		}
	}
	return errors.Join(errs...)
}

// forDev points the command sink at the embedded MQTT broker unless another backend was chosen.
func (s SinkConfig) forDev(mqttAddr string) SinkConfig {
	if s.Commands.Kind == "" || s.Commands.Kind == shadow.BackendMQTT {
		s.Commands.MQTT.Brokers = []string{"tcp://" + mqttAddr}
	}
	return s
}

func (w *Worker) timeseriesBackend() (sinks.Backend, error) {
	t := w.cfg.Topics
	sc := w.cfg.Sinks
	if sc.TimeseriesBackend() == BackendInflux {
		ic := sc.Influx
		ic.TimeseriesTopic, ic.AnomaliesTopic, ic.DTCEventsTopic = t.Timeseries, t.Anomalies, t.DTCEvents
		ic.Logger = w.log.With("backend", BackendInflux)
		return influx.New(ic)
	}
	if sc.TimeseriesBackend() == BackendTimestream {
		tc := sc.Timestream
		tc.TimeseriesTopic, tc.AnomaliesTopic, tc.DTCEventsTopic = t.Timeseries, t.Anomalies, t.DTCEvents
		return timestream.New(tc, timestream.WithLogger(w.log.With("backend", BackendTimestream)))
	}
	dir := sc.FilesDir
	if dir == "" {
		dir = filepath.Join(w.cfg.DataDir, "timeseries")
	}
	return files.New(files.Config{Dir: dir, TimeseriesTopic: t.Timeseries, AnomaliesTopic: t.Anomalies, DTCEventsTopic: t.DTCEvents, Logger: w.log.With("backend", BackendFiles)})
}

func (w *Worker) addSinks() error {
	if w.cfg.runs(GroupTimeseriesSink) {
		dc := w.cfg.Sinks.Delivery
		dc.Group = GroupTimeseriesSink
		dc.Topics = []string{w.cfg.Topics.Timeseries, w.cfg.Topics.Anomalies, w.cfg.Topics.DTCEvents}
		dc.Kafka = w.cfg.Kafka
		dc.DeadLetterTopic = w.cfg.Topics.DeadLetters
		dc.Logger = w.log.With("group", GroupTimeseriesSink)
		dc.Registerer = w.registry
		// A sink worker closes its backend when it stops, so each (re)start builds both.
		build := func() (topology.Runner, error) {
			backend, err := w.timeseriesBackend()
			if err != nil {
				return nil, err
			}
			return sinks.NewWorker(dc, backend)
		}
		w.supervise(GroupTimeseriesSink, build)
	}
	if w.cfg.runs(GroupCommandSink) {
		cfg := shadow.DefaultConfig()
		cfg.Commands = goStream(w.cfg.Topics.Commands)
		cfg.DeadLetters = goStream(w.cfg.Topics.DeadLetters)
		cfg.Logger = w.log.With("group", GroupCommandSink)
		cfg.OnRestart = func(name string, _ error) { w.restarts.WithLabelValues(name).Inc() }
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
