package influx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// The two write APIs.
const (
	// APIv2 is POST /api/v2/write?org=&bucket=&precision=ns with "Authorization: Token …":
	// InfluxDB 2.x, InfluxDB Cloud and Amazon Timestream for InfluxDB.
	APIv2 = "v2"
	// APIv1 is POST /write?db=&rp=&precision=ns with optional basic auth: InfluxDB 1.x (and the
	// 1.x compatibility API of 2.x).
	APIv1 = "v1"
)

// Defaults of Config's zero fields.
const (
	DefaultTimeout              = 30 * time.Second
	DefaultMaxLinesPerRequest   = 5000
	DefaultTimeseriesTopic      = "timeseries"
	DefaultAnomaliesTopic       = "anomalies"
	DefaultDTCEventsTopic       = "dtc-events"
	DefaultTelemetryMeasurement = "telemetry"
	DefaultAnomalyMeasurement   = "anomalies"
	DefaultDTCMeasurement       = "dtc_events"
)

// Config configures the InfluxDB backend.
type Config struct {
	// URL of the server, e.g. https://<id>-<account>.timestream-influxdb.<region>.on.aws:8086
	// or http://127.0.0.1:8086.
	URL string
	// API is APIv2 (default) or APIv1.
	API string

	// Org, Bucket and Token address a v2 bucket.
	Org    string
	Bucket string
	Token  string

	// Database, RetentionPolicy (empty: the database's default), Username and Password address
	// a v1 database.
	Database        string
	RetentionPolicy string
	Username        string
	Password        string

	// Timeout bounds one HTTP request (default 30s); the delivery core's write deadline also
	// applies.
	Timeout time.Duration
	// NoGzip sends request bodies uncompressed (by default they are gzipped).
	NoGzip bool
	// MaxLinesPerRequest splits larger batches into several requests (default 5000, InfluxDB's
	// recommended batch size).
	MaxLinesPerRequest int

	// TimeseriesTopic, AnomaliesTopic and DTCEventsTopic say how each topic's records decode
	// (codecs.Measurement, codecs.Anomaly, codecs.DTCEvent); records of other topics are
	// refused. Defaults: timeseries, anomalies, dtc-events.
	TimeseriesTopic string
	AnomaliesTopic  string
	DTCEventsTopic  string
	// TelemetryMeasurement, AnomalyMeasurement and DTCMeasurement name the measurements
	// written (defaults: telemetry, anomalies, dtc_events).
	TelemetryMeasurement string
	AnomalyMeasurement   string
	DTCMeasurement       string

	// HTTPClient sends the requests (default: a client with Timeout).
	HTTPClient *http.Client
	// Logger receives the backend's log; nil discards it.
	Logger *slog.Logger
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	set := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	set(&c.API, APIv2)
	set(&c.TimeseriesTopic, DefaultTimeseriesTopic)
	set(&c.AnomaliesTopic, DefaultAnomaliesTopic)
	set(&c.DTCEventsTopic, DefaultDTCEventsTopic)
	set(&c.TelemetryMeasurement, DefaultTelemetryMeasurement)
	set(&c.AnomalyMeasurement, DefaultAnomalyMeasurement)
	set(&c.DTCMeasurement, DefaultDTCMeasurement)
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxLinesPerRequest == 0 {
		c.MaxLinesPerRequest = DefaultMaxLinesPerRequest
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.Timeout}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports the first field that cannot work and how to fix it.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("influx: URL is empty: set the server's URL, e.g. http://127.0.0.1:8086")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("influx: URL %q is not an http(s) URL with a host: write it as https://host:8086", c.URL)
	}
	switch c.API {
	case "", APIv2:
		if c.Org == "" {
			return errors.New("influx: Org is empty: set the organization (v2 API), or API=v1 with Database")
		}
		if c.Bucket == "" {
			return errors.New("influx: Bucket is empty: set the bucket to write to (v2 API)")
		}
		if c.Token == "" {
			return errors.New("influx: Token is empty: set an API token with write access to the bucket (v2 API)")
		}
	case APIv1:
		if c.Database == "" {
			return errors.New("influx: Database is empty: set the database to write to (v1 API)")
		}
		if c.Password != "" && c.Username == "" {
			return errors.New("influx: Password is set without Username: set both, or neither")
		}
	default:
		return fmt.Errorf("influx: API %q is unknown: use %q (InfluxDB 2.x, Timestream for InfluxDB) or %q (InfluxDB 1.x)", c.API, APIv2, APIv1)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("influx: Timeout %s is negative: use a positive duration, or 0 for %s", c.Timeout, DefaultTimeout)
	}
	if c.MaxLinesPerRequest < 0 {
		return fmt.Errorf("influx: MaxLinesPerRequest %d is negative: use a positive number, or 0 for %d", c.MaxLinesPerRequest, DefaultMaxLinesPerRequest)
	}
	d := c.WithDefaults()
	if d.TimeseriesTopic == d.AnomaliesTopic || d.TimeseriesTopic == d.DTCEventsTopic || d.AnomaliesTopic == d.DTCEventsTopic {
		return fmt.Errorf("influx: TimeseriesTopic %q, AnomaliesTopic %q and DTCEventsTopic %q must differ", d.TimeseriesTopic, d.AnomaliesTopic, d.DTCEventsTopic)
	}
	for _, m := range []struct{ field, name string }{
		{"TelemetryMeasurement", d.TelemetryMeasurement}, {"AnomalyMeasurement", d.AnomalyMeasurement}, {"DTCMeasurement", d.DTCMeasurement},
	} {
		if err := checkName("measurement", m.name); err != nil {
			return fmt.Errorf("influx: %s: %w", m.field, err)
		}
	}
	return nil
}
