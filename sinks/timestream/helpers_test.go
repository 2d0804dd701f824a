package timestream

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/internal/awsfake"
	"github.com/fleetstream/fleetstream/sinks"
)

const testDB = "fleet"

// awsEnv points the standard AWS configuration chain at the fake, with static credentials and
// a region, and nothing from the machine's own AWS files.
func awsEnv(t *testing.T, endpoint string) {
	t.Helper()
	none := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_TIMESTREAM_WRITE": endpoint,
		"AWS_REGION":                        "eu-west-1",
		"AWS_ACCESS_KEY_ID":                 "AKIDFLEETSTREAMTEST",
		"AWS_SECRET_ACCESS_KEY":             "test-secret",
		"AWS_SESSION_TOKEN":                 "",
		"AWS_PROFILE":                       "",
		"AWS_CONFIG_FILE":                   none,
		"AWS_SHARED_CREDENTIALS_FILE":       none,
		"AWS_EC2_METADATA_DISABLED":         "true",
		"AWS_ENABLE_ENDPOINT_DISCOVERY":     "",
		"AWS_ENDPOINT_URL":                  "",
	} {
		t.Setenv(k, v)
	}
}

// fastRetries keeps the SDK's standard retryer but without waiting between attempts.
func fastRetries(attempts int) Option {
	return WithLoadOptions(config.WithRetryer(func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.RateLimiter = ratelimit.None
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	}))
}

type harness struct {
	t    *testing.T
	fake *awsfake.Timestream
	b    *Backend
	cfg  Config
	opts []Option
	off  int64
}

// newHarness starts a fake with both tables (24h memory retention, no magnetic writes) and a
// connected Backend on it.
func newHarness(t *testing.T, cfg Config, opts ...Option) *harness {
	t.Helper()
	fake := awsfake.NewTimestream()
	t.Cleanup(fake.Close)
	awsEnv(t, fake.URL())
	if cfg.Database == "" {
		cfg.Database = testDB
	}
	cfg = cfg.WithDefaults()
	fake.CreateTable(cfg.Database, cfg.Table, awsfake.TableOptions{MemoryStoreRetentionHours: 24})
	fake.CreateTable(cfg.Database, cfg.EventsTable, awsfake.TableOptions{MemoryStoreRetentionHours: 24})
	h := &harness{t: t, fake: fake, cfg: cfg, opts: append([]Option{fastRetries(3)}, opts...)}
	h.b = h.backend()
	return h
}

// backend returns a new connected Backend on the harness's fake (an empty merge cache, as
// after a restart).
func (h *harness) backend() *Backend {
	h.t.Helper()
	b, err := New(h.cfg, h.opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := b.Connect(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	return b
}

func (h *harness) measurement(m codecs.Measurement) sinks.Record {
	v, err := json.Marshal(m)
	if err != nil {
		h.t.Fatal(err)
	}
	h.off++
	return sinks.Record{Topic: "timeseries", Partition: 0, Offset: h.off, Key: []byte(m.VIN), Value: v, Timestamp: m.Time}
}

func (h *harness) event(topic string, v any) sinks.Record {
	b, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	h.off++
	return sinks.Record{Topic: topic, Offset: h.off, Value: b}
}

func (h *harness) records(table string) []awsfake.StoredRecord {
	return h.fake.Records(h.cfg.Database, table)
}

// write calls WriteBatch and fails the test on any error.
func (h *harness) write(b *Backend, batch []sinks.Record) {
	h.t.Helper()
	if err := b.WriteBatch(context.Background(), batch); err != nil {
		h.t.Fatalf("WriteBatch: %v", err)
	}
}

// failures returns a WriteBatch error's per-record errors by index; a nil error gives none and
// any other error fails the test.
func failures(t *testing.T, err error) map[int]error {
	t.Helper()
	out := map[int]error{}
	if err == nil {
		return out
	}
	var be *sinks.BatchError
	if !errors.As(err, &be) {
		t.Fatalf("want *sinks.BatchError, got %T: %v", err, err)
	}
	for _, f := range be.Failed {
		out[f.Index] = f.Err
	}
	return out
}

// base is a time inside the fake's memory store window, on a whole second.
func base() time.Time { return time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Minute) }

func num(f float64) codecs.Value { return codecs.Number(f) }

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}
