package timestream

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Defaults of Config.
const (
	DefaultTable                = "telemetry"
	DefaultEventsTable          = "events"
	DefaultMeasureName          = "signals"
	DefaultBucket               = time.Second
	DefaultMemoryRetention      = 24 * time.Hour
	DefaultMagneticRetention    = 365 * 24 * time.Hour
	DefaultMaxRecordsPerRequest = 100
	DefaultRequestTimeout       = 20 * time.Second
	DefaultMergeWindow          = 10 * time.Second
	DefaultTimeseriesTopic      = "timeseries"
	DefaultAnomaliesTopic       = "anomalies"
	DefaultDTCEventsTopic       = "dtc-events"
)

// Timestream for LiveAnalytics limits this backend works within.
const (
	// MaxRecordsPerRequest is the most records one WriteRecords call may carry.
	MaxRecordsPerRequest = 100
	// MaxRecordBytes is the largest record, measured as Timestream meters it (see README).
	MaxRecordBytes = 2048
	// MaxMeasuresPerRecord is the most measures of one multi-measure record.
	MaxMeasuresPerRecord = 256
	// FutureIngestion is how far ahead of the service's clock a record's time may be.
	FutureIngestion = 15 * time.Minute
)

// Flag names, for error messages and AddFlags.
const (
	FlagDatabase          = "timestream-database"
	FlagTable             = "timestream-table"
	FlagEventsTable       = "timestream-events-table"
	FlagBucket            = "timestream-bucket"
	FlagExtraDimensions   = "timestream-dimensions"
	FlagMemoryRetention   = "timestream-memory-retention"
	FlagMagneticRetention = "timestream-magnetic-retention"
	FlagMagneticWrites    = "timestream-magnetic-writes"
	FlagCreateIfMissing   = "timestream-create"
)

// Config is what a deployment sets. The zero value plus Database is valid once defaults are
// applied: New calls WithDefaults and Validate.
type Config struct {
	// Database is the Timestream database (--timestream-database). Required.
	Database string
	// Table receives the timeseries measurements (--timestream-table, default "telemetry").
	Table string
	// EventsTable receives anomalies and DTC events (--timestream-events-table, default "events").
	EventsTable string
	// MeasureName names the multi-measure records of Table (default "signals"); a bucket too
	// wide for one 2 KB record continues in "signals_2", "signals_3", ….
	MeasureName string
	// Bucket is the width of the time buckets measurements are merged in (default 1s): one
	// record per VIN, trip and extra dimensions per bucket, at the bucket's start.
	Bucket time.Duration
	// ExtraDimensions names keys of Measurement.Dimensions written as Timestream dimensions
	// besides vin and trip_id (--timestream-dimensions).
	ExtraDimensions []string
	// BigintMeasures names numeric signals written as BIGINT instead of DOUBLE; their values
	// must be integral. Empty by default: see README ("Measure types").
	BigintMeasures []string
	// MemoryRetention and MagneticRetention are the retention of tables CreateIfMissing
	// creates (default 24h and 365 days). For an existing table the table's own settings,
	// read at Connect, are used.
	MemoryRetention   time.Duration
	MagneticRetention time.Duration
	// MagneticStoreWrites enables magnetic store writes on tables CreateIfMissing creates. For
	// an existing table, Connect reads the table's EnableMagneticStoreWrites instead. Without
	// it, records older than the memory store retention are not sent: they fail permanently.
	MagneticStoreWrites bool
	// CreateIfMissing creates the database and tables at Connect (--timestream-create).
	CreateIfMissing bool
	// MaxRecordsPerRequest caps the records of one WriteRecords call (1 to 100, default 100).
	MaxRecordsPerRequest int
	// RequestTimeout bounds one WriteRecords call, SDK retries included (default 20s).
	RequestTimeout time.Duration
	// MergeWindow is how far back (in event time, per series) written buckets are remembered,
	// so a bucket whose measurements arrive in several batches is rewritten as their union
	// instead of being replaced by the later part (default 10s; 0 turns merging off).
	MergeWindow time.Duration
	// DeadLetterSuperseded fails, as permanent, records that Timestream rejects because it
	// holds a higher version of them. By default such records count as written (see README,
	// "Versions").
	DeadLetterSuperseded bool
	// Topic names of the three inputs (defaults timeseries, anomalies, dtc-events).
	TimeseriesTopic string
	AnomaliesTopic  string
	DTCEventsTopic  string
}

// WithDefaults returns c with every unset field set to its default.
func (c Config) WithDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Table, DefaultTable)
	def(&c.EventsTable, DefaultEventsTable)
	def(&c.MeasureName, DefaultMeasureName)
	def(&c.TimeseriesTopic, DefaultTimeseriesTopic)
	def(&c.AnomaliesTopic, DefaultAnomaliesTopic)
	def(&c.DTCEventsTopic, DefaultDTCEventsTopic)
	if c.Bucket == 0 {
		c.Bucket = DefaultBucket
	}
	if c.MemoryRetention == 0 {
		c.MemoryRetention = DefaultMemoryRetention
	}
	if c.MagneticRetention == 0 {
		c.MagneticRetention = DefaultMagneticRetention
	}
	if c.MaxRecordsPerRequest == 0 {
		c.MaxRecordsPerRequest = DefaultMaxRecordsPerRequest
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	return c
}

// Validate reports the first setting that cannot work, naming the field, its flag and the fix.
// Call it on a Config with defaults applied.
func (c Config) Validate() error {
	if c.Database == "" {
		return fmt.Errorf("timestream: Database is empty: set --%s to the Timestream database name", FlagDatabase)
	}
	for _, n := range []struct{ field, flag, value string }{
		{"Database", FlagDatabase, c.Database},
		{"Table", FlagTable, c.Table},
		{"EventsTable", FlagEventsTable, c.EventsTable},
	} {
		if err := checkResourceName(n.value); err != nil {
			return fmt.Errorf("timestream: %s %q (--%s): %w", n.field, n.value, n.flag, err)
		}
	}
	if c.Table == c.EventsTable {
		return fmt.Errorf("timestream: Table and EventsTable are both %q: measurements and events need their own tables (--%s, --%s)", c.Table, FlagTable, FlagEventsTable)
	}
	if err := checkMeasureName(c.MeasureName, nil); err != nil {
		return fmt.Errorf("timestream: MeasureName %q: %w", c.MeasureName, err)
	}
	if len(c.MeasureName) > 250 {
		return fmt.Errorf("timestream: MeasureName %q is longer than 250 bytes", c.MeasureName)
	}
	if c.Bucket < time.Millisecond || c.Bucket > time.Hour || c.Bucket%time.Millisecond != 0 {
		return fmt.Errorf("timestream: Bucket %s (--%s) must be whole milliseconds from 1ms to 1h", c.Bucket, FlagBucket)
	}
	seen := map[string]bool{dimVIN: true, dimTripID: true}
	for _, d := range c.ExtraDimensions {
		if seen[d] {
			return fmt.Errorf("timestream: ExtraDimensions (--%s) names %q twice or names a built-in dimension (vin, trip_id)", FlagExtraDimensions, d)
		}
		if err := checkDimensionName(d); err != nil {
			return fmt.Errorf("timestream: ExtraDimensions (--%s) %q: %w", FlagExtraDimensions, d, err)
		}
		seen[d] = true
	}
	if c.MemoryRetention%time.Hour != 0 || c.MemoryRetention < time.Hour || c.MemoryRetention > 8766*time.Hour {
		return fmt.Errorf("timestream: MemoryRetention %s (--%s) must be whole hours from 1h to 8766h", c.MemoryRetention, FlagMemoryRetention)
	}
	if c.MagneticRetention%(24*time.Hour) != 0 || c.MagneticRetention < 24*time.Hour || c.MagneticRetention > 73000*24*time.Hour {
		return fmt.Errorf("timestream: MagneticRetention %s (--%s) must be whole days from 24h to 73000 days", c.MagneticRetention, FlagMagneticRetention)
	}
	if c.MaxRecordsPerRequest < 1 || c.MaxRecordsPerRequest > MaxRecordsPerRequest {
		return fmt.Errorf("timestream: MaxRecordsPerRequest %d must be 1 to %d", c.MaxRecordsPerRequest, MaxRecordsPerRequest)
	}
	if c.RequestTimeout <= 0 {
		return fmt.Errorf("timestream: RequestTimeout %s must be positive", c.RequestTimeout)
	}
	if c.MergeWindow < 0 {
		return fmt.Errorf("timestream: MergeWindow %s must not be negative", c.MergeWindow)
	}
	topics := map[string]bool{}
	for _, t := range []string{c.TimeseriesTopic, c.AnomaliesTopic, c.DTCEventsTopic} {
		if t == "" || topics[t] {
			return fmt.Errorf("timestream: TimeseriesTopic, AnomaliesTopic and DTCEventsTopic must be set and differ")
		}
		topics[t] = true
	}
	return nil
}

// AddFlags binds the deployment settings to flags named --timestream-*. Call it on a Config
// holding the defaults to show (DefaultConfig or WithDefaults).
func (c *Config) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Database, FlagDatabase, c.Database, "Timestream database (required for the timestream sink)")
	fs.StringVar(&c.Table, FlagTable, c.Table, "Timestream table for timeseries measurements")
	fs.StringVar(&c.EventsTable, FlagEventsTable, c.EventsTable, "Timestream table for anomalies and DTC events")
	fs.DurationVar(&c.Bucket, FlagBucket, c.Bucket, "merge a VIN's measurements within this time bucket into one multi-measure record")
	fs.StringSliceVar(&c.ExtraDimensions, FlagExtraDimensions, c.ExtraDimensions, "measurement dimensions written as Timestream dimensions besides vin and trip_id")
	fs.DurationVar(&c.MemoryRetention, FlagMemoryRetention, c.MemoryRetention, "memory store retention of tables created with --"+FlagCreateIfMissing)
	fs.DurationVar(&c.MagneticRetention, FlagMagneticRetention, c.MagneticRetention, "magnetic store retention of tables created with --"+FlagCreateIfMissing)
	fs.BoolVar(&c.MagneticStoreWrites, FlagMagneticWrites, c.MagneticStoreWrites, "enable magnetic store writes on tables created with --"+FlagCreateIfMissing)
	fs.BoolVar(&c.CreateIfMissing, FlagCreateIfMissing, c.CreateIfMissing, "create the Timestream database and tables when missing")
}

// DefaultConfig returns a Config with every default set and no Database.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// Timestream naming rules for databases and tables: 3 to 256 bytes of letters, digits, '_',
// '-' and '.'.
func checkResourceName(s string) error {
	if len(s) < 3 || len(s) > 256 {
		return errors.New("must be 3 to 256 characters")
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_' || ch == '-' || ch == '.') {
			return errors.New("may hold only letters, digits, '_', '-' and '.'")
		}
	}
	return nil
}

// reservedNames are column names Timestream uses itself.
var reservedNames = map[string]bool{"time": true, "measure_name": true, "measure_value": true}

func checkDimensionName(s string) error {
	if s == "" || len(s) > 60 {
		return errors.New("must be 1 to 60 bytes")
	}
	return checkColumnName(s)
}

// checkMeasureName checks a measure (or measure attribute) name; dims are the dimension names
// it must not repeat.
func checkMeasureName(s string, dims map[string]bool) error {
	if s == "" || len(s) > 256 {
		return errors.New("must be 1 to 256 bytes")
	}
	if dims[s] {
		return fmt.Errorf("is also a dimension name")
	}
	return checkColumnName(s)
}

func checkColumnName(s string) error {
	low := strings.ToLower(s)
	switch {
	case reservedNames[low]:
		return errors.New("is reserved by Timestream")
	case strings.HasPrefix(low, "ts_"), strings.HasPrefix(low, "measure_value"):
		return errors.New("starts with a prefix Timestream reserves (ts_, measure_value)")
	case strings.ContainsAny(s, ":\"\x00"):
		return errors.New("holds a character Timestream does not allow in names (':', '\"')")
	}
	return nil
}
