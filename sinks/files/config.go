package files

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of Config's zero fields.
const (
	DefaultMaxFileBytes    = 64 << 20
	DefaultTimeseriesTopic = "timeseries"
	DefaultAnomaliesTopic  = "anomalies"
	DefaultDTCEventsTopic  = "dtc-events"
)

// Config configures the files backend.
type Config struct {
	// Dir is the output directory: Dir/timeseries/ holds the measurements, Dir/events/ the
	// anomalies, trouble-code events and records of any other topic. Created if missing.
	Dir string
	// MaxFileBytes rotates a file before a line would take it past this size (default 64 MiB).
	// Files also rotate at every UTC hour. A single line longer than this gets a file of its own.
	MaxFileBytes int64
	// TimeseriesTopic, AnomaliesTopic and DTCEventsTopic name the topics whose records are
	// decoded as codecs.Measurement, codecs.Anomaly and codecs.DTCEvent (defaults: timeseries,
	// anomalies, dtc-events). Records of other topics must be JSON; they are written to
	// events/ as they are, under "value".
	TimeseriesTopic string
	AnomaliesTopic  string
	DTCEventsTopic  string
	// NoSyncPerBatch skips the fsync after each batch: faster, but an operating-system crash may
	// lose the last batches although their offsets were committed. Close always syncs.
	NoSyncPerBatch bool
	// KeepDuplicates turns off the deduplication of redelivered records (see the package doc);
	// set it to write every record a replay delivers again.
	KeepDuplicates bool
	// Now is the clock of hourly rotation (default time.Now); tests set it.
	Now func() time.Time
	// Logger receives the backend's log; nil discards it.
	Logger *slog.Logger
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.MaxFileBytes == 0 {
		c.MaxFileBytes = DefaultMaxFileBytes
	}
	if c.TimeseriesTopic == "" {
		c.TimeseriesTopic = DefaultTimeseriesTopic
	}
	if c.AnomaliesTopic == "" {
		c.AnomaliesTopic = DefaultAnomaliesTopic
	}
	if c.DTCEventsTopic == "" {
		c.DTCEventsTopic = DefaultDTCEventsTopic
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first field that cannot work and how to fix it.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("files: Dir is empty: set the output directory (fleetstream dev: --data-dir)")
	}
	if c.MaxFileBytes < 0 {
		return fmt.Errorf("files: MaxFileBytes is %d: use a positive size, or 0 for %d (64 MiB)", c.MaxFileBytes, DefaultMaxFileBytes)
	}
	if c.MaxFileBytes > 0 && c.MaxFileBytes < 1024 {
		return fmt.Errorf("files: MaxFileBytes %d is below 1 KiB: every line would get a file of its own; use at least 1024", c.MaxFileBytes)
	}
	d := c.WithDefaults()
	if d.TimeseriesTopic == d.AnomaliesTopic || d.TimeseriesTopic == d.DTCEventsTopic || d.AnomaliesTopic == d.DTCEventsTopic {
		return fmt.Errorf("files: TimeseriesTopic %q, AnomaliesTopic %q and DTCEventsTopic %q must differ", d.TimeseriesTopic, d.AnomaliesTopic, d.DTCEventsTopic)
	}
	return nil
}
