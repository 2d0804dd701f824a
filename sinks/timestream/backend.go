package timestream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/timestreamwrite"
	"github.com/aws/aws-sdk-go-v2/service/timestreamwrite/types"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
)

// Errors callers branch on. Both come back from WriteBatch as whole-batch errors that
// sinks.Retryable reports as retryable: the records are not at fault, so they must not be
// dead-lettered; delivery stalls (and readiness should say so) until the table is back or the
// role is fixed.
var (
	// ErrTableNotFound: the database or a table is gone (deleted after Connect).
	ErrTableNotFound = errors.New("timestream: database or table not found")
	// ErrAccessDenied: the role lacks a permission (see README, "IAM").
	ErrAccessDenied = errors.New("timestream: access denied")
)

// ErrTooOld marks records older than the memory store retention of a table without magnetic
// store writes: they are not sent, and fail permanently.
var ErrTooOld = errors.New("older than memory store retention")

// RejectedError is Timestream's rejection of one record (RejectedRecordsException). It comes
// wrapped with sinks.Permanent for each input the record carried.
type RejectedError struct {
	Table  string
	Reason string
	// Version is the version sent; ExistingVersion is the one Timestream holds, when the
	// rejection is a version conflict.
	Version         int64
	ExistingVersion *int64
}

func (e *RejectedError) Error() string {
	if e.ExistingVersion != nil {
		return fmt.Sprintf("timestream: %s rejected record version %d (existing version %d): %s", e.Table, e.Version, *e.ExistingVersion, e.Reason)
	}
	return fmt.Sprintf("timestream: %s rejected record: %s", e.Table, e.Reason)
}

// Backend writes the timeseries, anomalies and dtc-events topics to Timestream for
// LiveAnalytics. It implements sinks.Backend. Use New; WriteBatch may be called from several
// goroutines, but the batches of one partition must come in order (as the delivery core sends
// them) for bucket merging to see them in order.
type Backend struct {
	cfg   Config
	conv  *converter
	cache *mergeCache
	opts  options
	log   *slog.Logger

	mu     sync.RWMutex
	client *timestreamwrite.Client
	tables map[string]tableInfo

	stats counters
}

type tableInfo struct {
	memoryRetention time.Duration
	magneticWrites  bool
}

type options struct {
	awsConfig     *aws.Config
	loadOptions   []func(*config.LoadOptions) error
	clientOptions []func(*timestreamwrite.Options)
	now           func() time.Time
	log           *slog.Logger
	cacheBuckets  int
}

// Option adjusts how a Backend reaches AWS; a deployment needs none of them.
type Option func(*options)

// WithAWSConfig uses cfg instead of loading the default AWS configuration chain.
func WithAWSConfig(cfg aws.Config) Option { return func(o *options) { o.awsConfig = &cfg } }

// WithLoadOptions passes options to config.LoadDefaultConfig (a region, credentials, a profile).
func WithLoadOptions(fns ...func(*config.LoadOptions) error) Option {
	return func(o *options) { o.loadOptions = append(o.loadOptions, fns...) }
}

// WithClientOptions adjusts the timestreamwrite client: BaseEndpoint, EndpointDiscovery,
// Retryer, HTTPClient.
func WithClientOptions(fns ...func(*timestreamwrite.Options)) Option {
	return func(o *options) { o.clientOptions = append(o.clientOptions, fns...) }
}

// WithClock sets the clock the memory-retention and future checks use.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithLogger logs table settings found or created at Connect.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// New validates cfg (after applying defaults) and returns a Backend; it reaches AWS only at
// Connect.
func New(cfg Config, opts ...Option) (*Backend, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{now: time.Now, log: slog.New(slog.DiscardHandler), cacheBuckets: defaultCacheBuckets}
	for _, fn := range opts {
		fn(&o)
	}
	return &Backend{
		cfg:   cfg,
		conv:  newConverter(cfg),
		cache: newMergeCache(cfg.MergeWindow.Milliseconds(), o.cacheBuckets),
		opts:  o,
		log:   o.log,
	}, nil
}

// Name implements sinks.Backend.
func (b *Backend) Name() string { return "timestream" }

// Config returns the configuration in use, defaults applied.
func (b *Backend) Config() Config { return b.cfg }

// Connect loads the AWS configuration, checks that the database and both tables exist (or
// creates them with CreateIfMissing) and reads each table's memory retention and magnetic
// store writes setting.
func (b *Backend) Connect(ctx context.Context) error {
	client, err := b.newClient(ctx)
	if err != nil {
		return err
	}
	if err := b.ensureDatabase(ctx, client); err != nil {
		return err
	}
	tables := map[string]tableInfo{}
	for _, t := range []struct{ name, flag string }{{b.cfg.Table, FlagTable}, {b.cfg.EventsTable, FlagEventsTable}} {
		info, err := b.ensureTable(ctx, client, t.name, t.flag)
		if err != nil {
			return err
		}
		tables[t.name] = info
	}
	b.mu.Lock()
	b.client, b.tables = client, tables
	b.mu.Unlock()
	return nil
}

func (b *Backend) newClient(ctx context.Context) (*timestreamwrite.Client, error) {
	var awsCfg aws.Config
	if b.opts.awsConfig != nil {
		awsCfg = *b.opts.awsConfig
	} else {
		var err error
		awsCfg, err = config.LoadDefaultConfig(ctx, b.opts.loadOptions...)
		if err != nil {
			return nil, fmt.Errorf("timestream: loading AWS configuration: %w", err)
		}
	}
	client := timestreamwrite.NewFromConfig(awsCfg, b.opts.clientOptions...)
	if client.Options().Region == "" {
		return nil, errors.New("timestream: no AWS region: set AWS_REGION (or a region in the AWS profile)")
	}
	return client, nil
}

func (b *Backend) ensureDatabase(ctx context.Context, client *timestreamwrite.Client) error {
	db := aws.String(b.cfg.Database)
	_, err := client.DescribeDatabase(ctx, &timestreamwrite.DescribeDatabaseInput{DatabaseName: db})
	var nf *types.ResourceNotFoundException
	switch {
	case err == nil:
		return nil
	case errors.As(err, &nf) && b.cfg.CreateIfMissing:
		_, err = client.CreateDatabase(ctx, &timestreamwrite.CreateDatabaseInput{DatabaseName: db})
		var conflict *types.ConflictException
		if err != nil && !errors.As(err, &conflict) {
			return fmt.Errorf("timestream: creating database %q: %w", b.cfg.Database, connectErr(err, "CreateDatabase"))
		}
		b.log.Info("timestream: created database", "database", b.cfg.Database)
		return nil
	case errors.As(err, &nf):
		return fmt.Errorf("timestream: database %q does not exist: check --%s, or pass --%s to create it", b.cfg.Database, FlagDatabase, FlagCreateIfMissing)
	}
	return fmt.Errorf("timestream: checking database %q: %w", b.cfg.Database, connectErr(err, "DescribeDatabase"))
}

func (b *Backend) ensureTable(ctx context.Context, client *timestreamwrite.Client, table, flag string) (tableInfo, error) {
	out, err := client.DescribeTable(ctx, &timestreamwrite.DescribeTableInput{DatabaseName: aws.String(b.cfg.Database), TableName: aws.String(table)})
	var nf *types.ResourceNotFoundException
	switch {
	case err == nil:
		return b.tableInfo(table, out.Table)
	case errors.As(err, &nf) && b.cfg.CreateIfMissing:
		created, err := client.CreateTable(ctx, &timestreamwrite.CreateTableInput{
			DatabaseName: aws.String(b.cfg.Database),
			TableName:    aws.String(table),
			RetentionProperties: &types.RetentionProperties{
				MemoryStoreRetentionPeriodInHours:  aws.Int64(int64(b.cfg.MemoryRetention / time.Hour)),
				MagneticStoreRetentionPeriodInDays: aws.Int64(int64(b.cfg.MagneticRetention / (24 * time.Hour))),
			},
			MagneticStoreWriteProperties: &types.MagneticStoreWriteProperties{EnableMagneticStoreWrites: aws.Bool(b.cfg.MagneticStoreWrites)},
		})
		var conflict *types.ConflictException
		if errors.As(err, &conflict) {
			return b.ensureTable(ctx, client, table, flag) // created meanwhile by another worker
		}
		if err != nil {
			return tableInfo{}, fmt.Errorf("timestream: creating table %q.%q: %w", b.cfg.Database, table, connectErr(err, "CreateTable"))
		}
		b.log.Info("timestream: created table", "database", b.cfg.Database, "table", table,
			"memory_retention", b.cfg.MemoryRetention, "magnetic_store_writes", b.cfg.MagneticStoreWrites)
		return b.tableInfo(table, created.Table)
	case errors.As(err, &nf):
		return tableInfo{}, fmt.Errorf("timestream: table %q does not exist in database %q: check --%s, or pass --%s to create it", table, b.cfg.Database, flag, FlagCreateIfMissing)
	}
	return tableInfo{}, fmt.Errorf("timestream: checking table %q.%q: %w", b.cfg.Database, table, connectErr(err, "DescribeTable"))
}

func (b *Backend) tableInfo(name string, t *types.Table) (tableInfo, error) {
	info := tableInfo{memoryRetention: b.cfg.MemoryRetention, magneticWrites: b.cfg.MagneticStoreWrites}
	if t == nil {
		return info, nil
	}
	if t.TableStatus == types.TableStatusDeleting {
		return info, fmt.Errorf("timestream: table %q.%q is being deleted", b.cfg.Database, name)
	}
	if rp := t.RetentionProperties; rp != nil && rp.MemoryStoreRetentionPeriodInHours != nil {
		info.memoryRetention = time.Duration(*rp.MemoryStoreRetentionPeriodInHours) * time.Hour
	}
	if mp := t.MagneticStoreWriteProperties; mp != nil && mp.EnableMagneticStoreWrites != nil {
		info.magneticWrites = *mp.EnableMagneticStoreWrites
	}
	b.log.Info("timestream: table", "database", b.cfg.Database, "table", name,
		"memory_retention", info.memoryRetention, "magnetic_store_writes", info.magneticWrites)
	return info, nil
}

// connectErr names the permission an AccessDeniedException lacks.
func connectErr(err error, action string) error {
	var denied *types.AccessDeniedException
	if errors.As(err, &denied) {
		return fmt.Errorf("%w: the role needs timestream:%s and timestream:DescribeEndpoints: %w", ErrAccessDenied, action, err)
	}
	return err
}

// Close implements sinks.Backend. The backend holds no records between calls, so there is
// nothing to flush.
func (b *Backend) Close(context.Context) error { return nil }

// WriteBatch implements sinks.Backend: it merges measurements into multi-measure records,
// writes them and the events in requests of at most MaxRecordsPerRequest records, and reports
// per input which failed. See README ("Failure behaviour").
func (b *Backend) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	b.mu.RLock()
	client, tables := b.client, b.tables
	b.mu.RUnlock()
	if client == nil {
		return errors.New("timestream: WriteBatch before Connect")
	}
	failed := map[int]error{}
	fail := func(inputs []int, err error) {
		for _, i := range inputs {
			if prev, ok := failed[i]; !ok || (sinks.Retryable(prev) && !sinks.Retryable(err)) {
				failed[i] = err
			}
		}
	}
	recs := b.plan(batch, fail)

	now := b.opts.now()
	byTable := map[string][]*tsRecord{}
	for _, r := range recs {
		info := tables[r.table]
		t := time.UnixMilli(r.timeMs)
		switch {
		case !info.magneticWrites && t.Before(now.Add(-info.memoryRetention)):
			b.stats.tooOld.Add(1)
			fail(r.inputs, sinks.Permanent(fmt.Errorf("%w (%dh); enable magnetic store writes", ErrTooOld, int64(info.memoryRetention/time.Hour))))
		case t.After(now.Add(FutureIngestion)):
			fail(r.inputs, sinks.Permanent(fmt.Errorf("timestream: record time %s is more than %s ahead of now; Timestream rejects it", t.UTC().Format(time.RFC3339), FutureIngestion)))
		default:
			byTable[r.table] = append(byTable[r.table], r)
		}
	}

	for _, table := range []string{b.cfg.Table, b.cfg.EventsTable} {
		rs := byTable[table]
		sort.Slice(rs, func(i, j int) bool { return rs[i].identity() < rs[j].identity() })
		for start := 0; start < len(rs); start += b.cfg.MaxRecordsPerRequest {
			chunk := rs[start:min(start+b.cfg.MaxRecordsPerRequest, len(rs))]
			written, err := b.send(ctx, client, table, chunk, fail)
			for _, r := range written {
				if r.entries != nil {
					b.cache.remember(r.series, r.timeMs, r.entries)
				}
			}
			if err != nil {
				return err
			}
		}
	}
	if len(failed) == 0 {
		return nil
	}
	be := &sinks.BatchError{Failed: make([]sinks.RecordError, 0, len(failed))}
	for i, err := range failed {
		be.Failed = append(be.Failed, sinks.RecordError{Index: i, Err: err})
	}
	sort.Slice(be.Failed, func(i, j int) bool { return be.Failed[i].Index < be.Failed[j].Index })
	return be
}

// plan decodes a batch into the records to write, merging measurements by series and bucket
// (with what the merge cache remembers) and events by record identity.
func (b *Backend) plan(batch []sinks.Record, fail func([]int, error)) []*tsRecord {
	dimNames := b.conv.dimNames()
	buckets := map[string]*bucket{}
	var order []*bucket
	events := map[string]*tsRecord{}
	var recs []*tsRecord
	for i, r := range batch {
		if len(r.Value) == 0 {
			fail([]int{i}, sinks.Permanent(fmt.Errorf("timestream: %w", invalid(codecs.ReasonInvalidJSON, "empty record value"))))
			continue
		}
		var rec *tsRecord
		var err error
		switch r.Topic {
		case b.cfg.TimeseriesTopic:
			var m codecs.Measurement
			if err := json.Unmarshal(r.Value, &m); err != nil {
				fail([]int{i}, sinks.Permanent(fmt.Errorf("timestream: %w", invalid(codecs.ReasonInvalidJSON, "measurement: %v", err))))
				continue
			}
			e, err := b.conv.entryOf(&m, r.Offset, dimNames)
			if err != nil {
				fail([]int{i}, sinks.Permanent(fmt.Errorf("timestream: %w", err)))
				continue
			}
			dims, series := b.conv.seriesOf(&m)
			start := b.conv.bucketStart(m.Time)
			key := series + strconv.FormatInt(start, 10)
			bk := buckets[key]
			if bk == nil {
				bk = newBucket(series, dims, start)
				buckets[key] = bk
				order = append(order, bk)
			}
			bk.add(e)
			bk.inputs[e.signal] = append(bk.inputs[e.signal], i)
			continue
		case b.cfg.AnomaliesTopic:
			var a codecs.Anomaly
			if err = json.Unmarshal(r.Value, &a); err != nil {
				err = invalid(codecs.ReasonInvalidJSON, "%v", err)
			} else {
				rec, err = b.conv.anomalyRecord(&a)
			}
		case b.cfg.DTCEventsTopic:
			var d codecs.DTCEvent
			if err = json.Unmarshal(r.Value, &d); err != nil {
				err = invalid(codecs.ReasonInvalidJSON, "%v", err)
			} else {
				rec, err = b.conv.dtcRecord(&d)
			}
		default:
			err = invalid(codecs.ReasonUnknownShape, "topic %q is not one this backend writes (%s, %s, %s)", r.Topic, b.cfg.TimeseriesTopic, b.cfg.AnomaliesTopic, b.cfg.DTCEventsTopic)
		}
		if err != nil {
			fail([]int{i}, sinks.Permanent(fmt.Errorf("timestream: %s: %w", r.Topic, err)))
			continue
		}
		rec.inputs = []int{i}
		id := rec.identity()
		if prev := events[id]; prev != nil {
			// Two events with one identity: the higher version (the later on a tie) is written
			// and both inputs share its outcome.
			if rec.version >= prev.version {
				rec.inputs = append(prev.inputs, i)
				*prev = *rec
			} else {
				prev.inputs = append(prev.inputs, i)
			}
			continue
		}
		events[id] = rec
		recs = append(recs, rec)
	}
	for _, bk := range order {
		b.cache.merge(bk)
		parts, tooWide := b.conv.bucketRecords(bk)
		for _, e := range tooWide {
			fail(bk.inputs[e.signal], sinks.Permanent(fmt.Errorf("timestream: %w", invalid(codecs.ReasonTooLarge, "signal %s needs %d bytes, more than a %d byte record holds", e.signal, e.bytes(), MaxRecordBytes))))
		}
		recs = append(recs, parts...)
	}
	return recs
}

// send writes one request and returns the records Timestream holds afterwards (written, or
// already there in the same or a newer version). Failures of single records go to fail; the
// error is for what stops the whole batch.
func (b *Backend) send(ctx context.Context, client *timestreamwrite.Client, table string, recs []*tsRecord, fail func([]int, error)) ([]*tsRecord, error) {
	rctx, cancel := context.WithTimeout(ctx, b.cfg.RequestTimeout)
	_, err := client.WriteRecords(rctx, b.input(table, recs))
	cancel()
	b.stats.requests.Add(1)
	if err == nil {
		b.stats.written(recs)
		return recs, nil
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("timestream: WriteRecords to %s: %w", table, ctx.Err())
	}
	var (
		rejected   *types.RejectedRecordsException
		validation *types.ValidationException
		notFound   *types.ResourceNotFoundException
		denied     *types.AccessDeniedException
	)
	switch {
	case errors.As(err, &rejected):
		bad := map[int]bool{}
		var held []*tsRecord
		for _, rr := range rejected.RejectedRecords {
			i := int(rr.RecordIndex)
			if i < 0 || i >= len(recs) || bad[i] {
				continue
			}
			bad[i] = true
			r := recs[i]
			if ev := rr.ExistingVersion; ev != nil && (*ev == r.version || *ev > r.version && !b.cfg.DeadLetterSuperseded) {
				// Timestream holds this record in the same version (the same content, as the
				// version is derived from it) or a newer one: nothing to write.
				b.stats.superseded.Add(1)
				held = append(held, r)
				continue
			}
			b.stats.rejected.Add(1)
			fail(r.inputs, sinks.Permanent(&RejectedError{Table: table, Reason: aws.ToString(rr.Reason), Version: r.version, ExistingVersion: rr.ExistingVersion}))
		}
		var ok []*tsRecord
		for i, r := range recs {
			if !bad[i] {
				ok = append(ok, r)
			}
		}
		b.stats.written(ok)
		return append(ok, held...), nil
	case errors.As(err, &validation) && len(recs) > 1:
		// One bad record fails the whole request: halve it until the bad one stands alone.
		half := len(recs) / 2
		w1, err := b.send(ctx, client, table, recs[:half], fail)
		if err != nil {
			return w1, err
		}
		w2, err := b.send(ctx, client, table, recs[half:], fail)
		return append(w1, w2...), err
	case errors.As(err, &validation):
		b.stats.rejected.Add(1)
		fail(recs[0].inputs, sinks.Permanent(fmt.Errorf("timestream: %s: %w", table, err)))
		return nil, nil
	case errors.As(err, &notFound):
		return nil, fmt.Errorf("%w: writing to %q.%q: %v (was it deleted? check --%s and --%s/--%s)", ErrTableNotFound, b.cfg.Database, table, err, FlagDatabase, FlagTable, FlagEventsTable)
	case errors.As(err, &denied):
		return nil, fmt.Errorf("%w: the role needs timestream:WriteRecords and timestream:DescribeEndpoints on %q.%q: %v", ErrAccessDenied, b.cfg.Database, table, err)
	}
	// Throttling, 5xx, timeouts, connection errors: the SDK has retried already; the delivery
	// core retries these records later. A write that timed out may have been applied: the
	// retry sends the same versions, which Timestream accepts.
	b.stats.retryable.Add(1)
	fail(allInputs(recs), fmt.Errorf("timestream: WriteRecords to %s: %w", table, err))
	return nil, nil
}

func allInputs(recs []*tsRecord) []int {
	var in []int
	for _, r := range recs {
		in = append(in, r.inputs...)
	}
	return in
}

// input builds a WriteRecords request, moving what all records share into CommonAttributes.
func (b *Backend) input(table string, recs []*tsRecord) *timestreamwrite.WriteRecordsInput {
	common := &types.Record{TimeUnit: types.TimeUnitMilliseconds, MeasureValueType: types.MeasureValueTypeMulti}
	sameName, sameVersion := true, true
	shared := map[dim]int{}
	for _, r := range recs {
		sameName = sameName && r.measureName == recs[0].measureName
		sameVersion = sameVersion && r.version == recs[0].version
		for _, d := range r.dims {
			shared[d]++
		}
	}
	if sameName {
		common.MeasureName = aws.String(recs[0].measureName)
	}
	if sameVersion {
		common.Version = aws.Int64(recs[0].version)
	}
	isCommon := map[string]bool{}
	for _, d := range recs[0].dims {
		if shared[d] == len(recs) {
			common.Dimensions = append(common.Dimensions, types.Dimension{Name: aws.String(d.name), Value: aws.String(d.value)})
			isCommon[d.name] = true
		}
	}
	out := make([]types.Record, len(recs))
	for i, r := range recs {
		rec := types.Record{Time: aws.String(strconv.FormatInt(r.timeMs, 10))}
		for _, d := range r.dims {
			if !isCommon[d.name] {
				rec.Dimensions = append(rec.Dimensions, types.Dimension{Name: aws.String(d.name), Value: aws.String(d.value)})
			}
		}
		if !sameName {
			rec.MeasureName = aws.String(r.measureName)
		}
		if !sameVersion {
			rec.Version = aws.Int64(r.version)
		}
		rec.MeasureValues = make([]types.MeasureValue, len(r.measures))
		for j, m := range r.measures {
			rec.MeasureValues[j] = types.MeasureValue{Name: aws.String(m.name), Type: types.MeasureValueType(m.typ), Value: aws.String(m.value)}
		}
		out[i] = rec
	}
	return &timestreamwrite.WriteRecordsInput{
		DatabaseName:     aws.String(b.cfg.Database),
		TableName:        aws.String(table),
		CommonAttributes: common,
		Records:          out,
	}
}

// Stats are running totals of a Backend's work.
type Stats struct {
	// Requests counts WriteRecords calls (the SDK's own retries not included).
	Requests int64
	// Records and Measures count records and measure values Timestream accepted.
	Records  int64
	Measures int64
	// Superseded counts records Timestream already held in the same or a newer version.
	Superseded int64
	// Rejected counts records Timestream refused (their inputs failed permanently).
	Rejected int64
	// TooOld counts records not sent for being older than the memory store retention.
	TooOld int64
	// Retryable counts requests that failed as a whole with a retryable error.
	Retryable int64
	// MergedBuckets is how many buckets the merge cache holds.
	MergedBuckets int
}

type counters struct {
	requests, records, measures, superseded, rejected, tooOld, retryable atomic.Int64
}

func (c *counters) written(recs []*tsRecord) {
	c.records.Add(int64(len(recs)))
	for _, r := range recs {
		c.measures.Add(int64(len(r.measures)))
	}
}

// Stats returns the running totals.
func (b *Backend) Stats() Stats {
	return Stats{
		Requests: b.stats.requests.Load(), Records: b.stats.records.Load(), Measures: b.stats.measures.Load(),
		Superseded: b.stats.superseded.Load(), Rejected: b.stats.rejected.Load(), TooOld: b.stats.tooOld.Load(),
		Retryable: b.stats.retryable.Load(), MergedBuckets: b.cache.len(),
	}
}

var _ sinks.Backend = (*Backend)(nil)
