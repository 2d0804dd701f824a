package awsfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Timestream service limits the fake enforces, as documented for Timestream for LiveAnalytics.
const (
	MaxRecordsPerRequest = 100
	MaxRecordBytes       = 2048
	MaxMeasuresPerRecord = 256
	FutureIngestion      = 15 * time.Minute
)

const (
	targetPrefix = "Timestream_20181101."
	errorPrefix  = "com.amazonaws.timestream.v20181101#"
	contentType  = "application/x-amz-json-1.0"
)

// Timestream is a local Timestream Write endpoint. Its zero value is not usable; call
// NewTimestream. All methods are safe for concurrent use.
type Timestream struct {
	srv *httptest.Server

	mu       sync.Mutex
	dbs      map[string]*fakeDatabase
	requests []Request
	calls    map[string]int
	faults   map[string][]Fault
	hook     func(op string, call int) *Fault
	now      func() time.Time
	address  string
}

type fakeDatabase struct {
	name    string
	created time.Time
	tables  map[string]*fakeTable
}

type fakeTable struct {
	name             string
	created          time.Time
	memoryHours      int64
	magneticDays     int64
	magneticWrites   bool
	records          map[string]*StoredRecord
	measureTypes     map[string]string
	ingestedMemory   int
	ingestedMagnetic int
	metered          Metering
}

// Metering is what a table's writes would be billed: Timestream meters a record as 8 bytes of
// time plus its dimension names and values, measure name, measure names and values (8 bytes
// for DOUBLE/BIGINT/TIMESTAMP, 1 for BOOLEAN, the UTF-8 length for VARCHAR), charges repeated
// dimensions of one request once, and bills each request in whole 1 KiB units.
type Metering struct {
	Requests   int
	Records    int
	Bytes      int64
	WriteUnits int64
}

// TableOptions are a table's retention settings.
type TableOptions struct {
	MemoryStoreRetentionHours  int64 // default 6, as the service
	MagneticStoreRetentionDays int64 // default 73000, as the service
	MagneticStoreWrites        bool
}

// Fault makes one call of an operation fail.
type Fault struct {
	// Type is the error's short name ("ThrottlingException", "InternalServerException",
	// "ValidationException", "ResourceNotFoundException", "AccessDeniedException",
	// "RejectedRecordsException"). Empty with a Status sends a bare status with no error body.
	Type    string
	Message string
	// Status is the HTTP status; 0 picks the service's (500 for InternalServerException,
	// 400 otherwise).
	Status int
	// Delay holds the answer back (a client with a shorter timeout sees a timeout). The fake
	// stops waiting when the client goes away.
	Delay time.Duration
	// Apply performs the operation before the fault is answered: the write is stored but the
	// client sees an error (a lost response).
	Apply bool
	// Reject lists WriteRecords record indexes to reject with Reason (Type
	// RejectedRecordsException is implied); the request's other records are written.
	Reject []int
	Reason string
}

// Request is one call the fake received.
type Request struct {
	Op     string
	Header http.Header
	Body   []byte
	// Write is the decoded body of a WriteRecords call.
	Write *WriteRecordsInput
}

// WriteRecordsInput is the wire shape of a WriteRecords request.
type WriteRecordsInput struct {
	DatabaseName     string
	TableName        string
	CommonAttributes *Record
	Records          []Record
}

// Record is the wire shape of a Timestream record.
type Record struct {
	Dimensions       []Dimension    `json:",omitempty"`
	MeasureName      *string        `json:",omitempty"`
	MeasureValue     *string        `json:",omitempty"`
	MeasureValueType string         `json:",omitempty"`
	MeasureValues    []MeasureValue `json:",omitempty"`
	Time             *string        `json:",omitempty"`
	TimeUnit         string         `json:",omitempty"`
	Version          *int64         `json:",omitempty"`
}

// Dimension is the wire shape of a dimension.
type Dimension struct {
	Name               string
	Value              string
	DimensionValueType string `json:",omitempty"`
}

// MeasureValue is the wire shape of one measure of a MULTI record.
type MeasureValue struct {
	Name  string
	Type  string
	Value string
}

// StoredRecord is a record as the table holds it: common attributes merged in, time in
// nanoseconds since the epoch.
type StoredRecord struct {
	Dimensions  map[string]string
	MeasureName string
	Time        time.Time
	// Measures maps measure name to its type and value; a scalar record has one measure named
	// after the record's MeasureName.
	Measures map[string]Measure
	Version  int64
	// Writes counts the writes that stored or upserted this record (1 = written once).
	Writes int
	// Bytes is the record's metered size: 8 for the time, plus dimension names and values,
	// measure name, measure names and values (8 bytes for DOUBLE/BIGINT/TIMESTAMP, 1 for
	// BOOLEAN, the UTF-8 length for VARCHAR).
	Bytes int
}

// Measure is one stored measure value.
type Measure struct {
	Type  string
	Value string
}

// NewTimestream starts a fake on a loopback port.
func NewTimestream() *Timestream {
	f := &Timestream{
		dbs:    map[string]*fakeDatabase{},
		calls:  map[string]int{},
		faults: map[string][]Fault{},
		now:    time.Now,
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	return f
}

// URL is the endpoint's base URL (http://127.0.0.1:port).
func (f *Timestream) URL() string { return f.srv.URL }

// Close stops the server.
func (f *Timestream) Close() { f.srv.Close() }

// SetNow sets the clock used for the memory-store retention and future-ingestion checks.
func (f *Timestream) SetNow(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// SetEndpointAddress sets the address DescribeEndpoints answers (default: the fake's own
// host:port).
func (f *Timestream) SetEndpointAddress(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.address = addr
}

// CreateDatabase adds a database, as CreateDatabase would.
func (f *Timestream) CreateDatabase(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dbs[name] == nil {
		f.dbs[name] = &fakeDatabase{name: name, created: f.now(), tables: map[string]*fakeTable{}}
	}
}

// CreateTable adds a table (and its database), as CreateTable would.
func (f *Timestream) CreateTable(db, table string, o TableOptions) {
	f.CreateDatabase(db)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dbs[db].tables[table] = f.newTable(table, o)
}

func (f *Timestream) newTable(name string, o TableOptions) *fakeTable {
	if o.MemoryStoreRetentionHours == 0 {
		o.MemoryStoreRetentionHours = 6
	}
	if o.MagneticStoreRetentionDays == 0 {
		o.MagneticStoreRetentionDays = 73000
	}
	return &fakeTable{
		name: name, created: f.now(),
		memoryHours: o.MemoryStoreRetentionHours, magneticDays: o.MagneticStoreRetentionDays,
		magneticWrites: o.MagneticStoreWrites,
		records:        map[string]*StoredRecord{}, measureTypes: map[string]string{},
	}
}

// HasTable reports whether the table exists.
func (f *Timestream) HasTable(db, table string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.dbs[db]
	return d != nil && d.tables[table] != nil
}

// Table returns a table's retention settings; ok is false when it does not exist.
func (f *Timestream) Table(db, table string) (o TableOptions, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.dbs[db]
	if d == nil || d.tables[table] == nil {
		return TableOptions{}, false
	}
	t := d.tables[table]
	return TableOptions{MemoryStoreRetentionHours: t.memoryHours, MagneticStoreRetentionDays: t.magneticDays, MagneticStoreWrites: t.magneticWrites}, true
}

// DeleteTable drops a table, so writes to it answer ResourceNotFoundException.
func (f *Timestream) DeleteTable(db, table string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.dbs[db]; d != nil {
		delete(d.tables, table)
	}
}

// Fail queues faults for the next calls of op ("WriteRecords", "DescribeTable", …), one each.
func (f *Timestream) Fail(op string, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[op] = append(f.faults[op], faults...)
}

// SetHook installs a function asked before every call (after queued faults); call counts from
// 1 per operation. A nil result lets the call through.
func (f *Timestream) SetHook(hook func(op string, call int) *Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hook = hook
}

// Calls reports how many calls of op the fake received, failed ones included.
func (f *Timestream) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Requests returns the calls of op received so far, in order ("" for all).
func (f *Timestream) Requests(op string) []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Request
	for _, r := range f.requests {
		if op == "" || r.Op == op {
			out = append(out, r)
		}
	}
	return out
}

// Records returns a table's records sorted by time, then dimensions, then measure name.
func (f *Timestream) Records(db, table string) []StoredRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.dbs[db]
	if d == nil || d.tables[table] == nil {
		return nil
	}
	keys := make([]string, 0, len(d.tables[table].records))
	for k := range d.tables[table].records {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]StoredRecord, 0, len(keys))
	for _, k := range keys {
		out = append(out, d.tables[table].records[k].clone())
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Metered reports the billing metering of the WriteRecords requests a table accepted records
// from (rejected records not counted).
func (f *Timestream) Metered(db, table string) Metering {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.dbs[db]; d != nil && d.tables[table] != nil {
		return d.tables[table].metered
	}
	return Metering{}
}

// Ingested reports how many records writes put in the memory and the magnetic store
// (upserts count again).
func (f *Timestream) Ingested(db, table string) (memory, magnetic int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d := f.dbs[db]; d != nil && d.tables[table] != nil {
		return d.tables[table].ingestedMemory, d.tables[table].ingestedMagnetic
	}
	return 0, 0
}

func (r *StoredRecord) clone() StoredRecord {
	c := *r
	c.Dimensions = make(map[string]string, len(r.Dimensions))
	for k, v := range r.Dimensions {
		c.Dimensions[k] = v
	}
	c.Measures = make(map[string]Measure, len(r.Measures))
	for k, v := range r.Measures {
		c.Measures[k] = v
	}
	return c
}

// apiError is an answer in the JSON 1.0 error shape.
type apiError struct {
	status   int
	typ      string
	message  string
	rejected []rejectedRecord
}

type rejectedRecord struct {
	RecordIndex     int
	Reason          string
	ExistingVersion *int64 `json:",omitempty"`
}

func errorf(typ, format string, args ...any) *apiError {
	status := http.StatusBadRequest
	if typ == "InternalServerException" {
		status = http.StatusInternalServerError
	}
	return &apiError{status: status, typ: typ, message: fmt.Sprintf(format, args...)}
}

func (f *Timestream) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	if r.Method != http.MethodPost || !ok {
		writeError(w, errorf("UnknownOperationException", "unknown target %q", target))
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != contentType {
		writeError(w, errorf("ValidationException", "content type %q, want %s", ct, contentType))
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=") {
		writeError(w, &apiError{status: http.StatusForbidden, typ: "AccessDeniedException", message: "request is not signed with SigV4"})
		return
	}

	req := Request{Op: op, Header: r.Header.Clone(), Body: body}
	if op == "WriteRecords" {
		var in WriteRecordsInput
		if err := json.Unmarshal(body, &in); err == nil {
			req.Write = &in
		}
	}

	f.mu.Lock()
	f.calls[op]++
	call := f.calls[op]
	f.requests = append(f.requests, req)
	var fault *Fault
	if q := f.faults[op]; len(q) > 0 {
		fault = &q[0]
		f.faults[op] = q[1:]
	} else if f.hook != nil {
		fault = f.hook(op, call)
	}
	f.mu.Unlock()

	if fault != nil && len(fault.Reject) > 0 && op == "WriteRecords" {
		f.answer(w, r, op, body, fault)
		return
	}
	if fault != nil {
		if fault.Apply {
			f.dispatch(op, body, nil)
		}
		if fault.Delay > 0 {
			select {
			case <-time.After(fault.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if fault.Type == "" && fault.Status != 0 {
			w.WriteHeader(fault.Status)
			return
		}
		e := errorf(fault.Type, "%s", fault.Message)
		if fault.Status != 0 {
			e.status = fault.Status
		}
		if e.message == "" {
			e.message = "injected " + fault.Type
		}
		writeError(w, e)
		return
	}
	f.answer(w, r, op, body, nil)
}

func (f *Timestream) answer(w http.ResponseWriter, _ *http.Request, op string, body []byte, fault *Fault) {
	out, apiErr := f.dispatch(op, body, fault)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-RequestId", "fake-"+strconv.Itoa(len(body)))
	_ = json.NewEncoder(w).Encode(out)
}

func writeError(w http.ResponseWriter, e *apiError) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-RequestId", "fake-error")
	w.WriteHeader(e.status)
	m := map[string]any{"__type": errorPrefix + e.typ, "Message": e.message}
	if e.typ == "RejectedRecordsException" {
		m["RejectedRecords"] = e.rejected
	}
	_ = json.NewEncoder(w).Encode(m)
}

func (f *Timestream) dispatch(op string, body []byte, fault *Fault) (any, *apiError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch op {
	case "DescribeEndpoints":
		addr := f.address
		if addr == "" {
			addr = strings.TrimPrefix(f.srv.URL, "http://")
		}
		return map[string]any{"Endpoints": []map[string]any{{
			"Address":              addr,
			"CachePeriodInMinutes": 1440,
		}}}, nil
	case "CreateDatabase":
		var in struct{ DatabaseName string }
		if err := json.Unmarshal(body, &in); err != nil || in.DatabaseName == "" {
			return nil, errorf("ValidationException", "DatabaseName is required")
		}
		if f.dbs[in.DatabaseName] != nil {
			return nil, errorf("ConflictException", "database %s already exists", in.DatabaseName)
		}
		d := &fakeDatabase{name: in.DatabaseName, created: f.now(), tables: map[string]*fakeTable{}}
		f.dbs[in.DatabaseName] = d
		return map[string]any{"Database": d.describe()}, nil
	case "DescribeDatabase":
		var in struct{ DatabaseName string }
		_ = json.Unmarshal(body, &in)
		d := f.dbs[in.DatabaseName]
		if d == nil {
			return nil, errorf("ResourceNotFoundException", "The database %s does not exist.", in.DatabaseName)
		}
		return map[string]any{"Database": d.describe()}, nil
	case "CreateTable":
		var in struct {
			DatabaseName, TableName string
			RetentionProperties     *struct {
				MemoryStoreRetentionPeriodInHours  int64
				MagneticStoreRetentionPeriodInDays int64
			}
			MagneticStoreWriteProperties *struct{ EnableMagneticStoreWrites bool }
		}
		if err := json.Unmarshal(body, &in); err != nil || in.TableName == "" {
			return nil, errorf("ValidationException", "TableName is required")
		}
		d := f.dbs[in.DatabaseName]
		if d == nil {
			return nil, errorf("ResourceNotFoundException", "The database %s does not exist.", in.DatabaseName)
		}
		if d.tables[in.TableName] != nil {
			return nil, errorf("ConflictException", "table %s already exists", in.TableName)
		}
		var o TableOptions
		if rp := in.RetentionProperties; rp != nil {
			if rp.MemoryStoreRetentionPeriodInHours < 1 || rp.MemoryStoreRetentionPeriodInHours > 8766 ||
				rp.MagneticStoreRetentionPeriodInDays < 1 || rp.MagneticStoreRetentionPeriodInDays > 73000 {
				return nil, errorf("ValidationException", "retention out of range")
			}
			o.MemoryStoreRetentionHours, o.MagneticStoreRetentionDays = rp.MemoryStoreRetentionPeriodInHours, rp.MagneticStoreRetentionPeriodInDays
		}
		if mp := in.MagneticStoreWriteProperties; mp != nil {
			o.MagneticStoreWrites = mp.EnableMagneticStoreWrites
		}
		t := f.newTable(in.TableName, o)
		d.tables[in.TableName] = t
		return map[string]any{"Table": t.describe(d.name)}, nil
	case "DescribeTable":
		var in struct{ DatabaseName, TableName string }
		_ = json.Unmarshal(body, &in)
		d := f.dbs[in.DatabaseName]
		if d == nil {
			return nil, errorf("ResourceNotFoundException", "The database %s does not exist.", in.DatabaseName)
		}
		t := d.tables[in.TableName]
		if t == nil {
			return nil, errorf("ResourceNotFoundException", "The table %s does not exist.", in.TableName)
		}
		return map[string]any{"Table": t.describe(d.name)}, nil
	case "WriteRecords":
		return f.writeRecords(body, fault)
	}
	return nil, errorf("UnknownOperationException", "operation %s is not supported by the fake", op)
}

func (d *fakeDatabase) describe() map[string]any {
	return map[string]any{
		"Arn":          "arn:aws:timestream:fake:000000000000:database/" + d.name,
		"DatabaseName": d.name,
		"TableCount":   len(d.tables),
		"CreationTime": float64(d.created.UnixMilli()) / 1000,
	}
}

func (t *fakeTable) describe(db string) map[string]any {
	return map[string]any{
		"Arn":          "arn:aws:timestream:fake:000000000000:database/" + db + "/table/" + t.name,
		"DatabaseName": db,
		"TableName":    t.name,
		"TableStatus":  "ACTIVE",
		"CreationTime": float64(t.created.UnixMilli()) / 1000,
		"RetentionProperties": map[string]any{
			"MemoryStoreRetentionPeriodInHours":  t.memoryHours,
			"MagneticStoreRetentionPeriodInDays": t.magneticDays,
		},
		"MagneticStoreWriteProperties": map[string]any{"EnableMagneticStoreWrites": t.magneticWrites},
	}
}

func (f *Timestream) writeRecords(body []byte, fault *Fault) (any, *apiError) {
	var in WriteRecordsInput
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&in); err != nil {
		return nil, errorf("ValidationException", "malformed request: %v", err)
	}
	if in.DatabaseName == "" || in.TableName == "" {
		return nil, errorf("ValidationException", "DatabaseName and TableName are required")
	}
	d := f.dbs[in.DatabaseName]
	if d == nil {
		return nil, errorf("ResourceNotFoundException", "The database %s does not exist.", in.DatabaseName)
	}
	t := d.tables[in.TableName]
	if t == nil {
		return nil, errorf("ResourceNotFoundException", "The table %s does not exist.", in.TableName)
	}
	if n := len(in.Records); n == 0 || n > MaxRecordsPerRequest {
		return nil, errorf("ValidationException", "a request holds 1 to %d records, got %d", MaxRecordsPerRequest, n)
	}
	forced := map[int]bool{}
	if fault != nil {
		for _, i := range fault.Reject {
			forced[i] = true
		}
	}
	merged := make([]StoredRecord, len(in.Records))
	for i, rec := range in.Records {
		s, err := mergeRecord(in.CommonAttributes, rec)
		if err != nil {
			return nil, errorf("ValidationException", "record %d: %v", i, err)
		}
		merged[i] = s
	}
	var rejected []rejectedRecord
	now := f.now()
	memory, magnetic := 0, 0
	var bytes int64
	accepted := 0
	seenDims := map[string]bool{}
	meter := func(s StoredRecord) {
		accepted++
		bytes += int64(s.Bytes)
		for n, v := range s.Dimensions {
			if seenDims[n+"\x00"+v] {
				bytes -= int64(len(n) + len(v))
			}
			seenDims[n+"\x00"+v] = true
		}
	}
	defer func() {
		if accepted > 0 {
			t.metered.Requests++
			t.metered.Records += accepted
			t.metered.Bytes += bytes
			t.metered.WriteUnits += (bytes + 1023) / 1024
		}
	}()
	for i, s := range merged {
		if forced[i] {
			reason := fault.Reason
			if reason == "" {
				reason = "injected rejection"
			}
			rejected = append(rejected, rejectedRecord{RecordIndex: i, Reason: reason})
			continue
		}
		if reason := t.check(s, now); reason != "" {
			rejected = append(rejected, rejectedRecord{RecordIndex: i, Reason: reason})
			continue
		}
		key := recordKey(s)
		old := t.records[key]
		if old != nil && s.Version <= old.Version && !(s.Version == old.Version && sameData(old, &s)) {
			v := old.Version
			rejected = append(rejected, rejectedRecord{
				RecordIndex:     i,
				Reason:          "A record with the same dimensions, timestamp and measure name exists with a higher or equal version and different measure values.",
				ExistingVersion: &v,
			})
			continue
		}
		for name, m := range s.Measures {
			if _, ok := t.measureTypes[name]; !ok {
				t.measureTypes[name] = m.Type
			}
		}
		meter(s)
		if old != nil && s.Version == old.Version {
			continue // the same record again: accepted, nothing changes
		}
		s.Writes = 1
		if old != nil {
			s.Writes = old.Writes + 1
		}
		c := s.clone()
		t.records[key] = &c
		if s.Time.Before(now.Add(-time.Duration(t.memoryHours) * time.Hour)) {
			magnetic++
		} else {
			memory++
		}
	}
	t.ingestedMemory += memory
	t.ingestedMagnetic += magnetic
	if len(rejected) > 0 {
		return nil, &apiError{status: http.StatusBadRequest, typ: "RejectedRecordsException",
			message: "One or more records have been rejected. See RejectedRecords for details.", rejected: rejected}
	}
	return map[string]any{"RecordsIngested": map[string]int{"Total": memory + magnetic, "MemoryStore": memory, "MagneticStore": magnetic}}, nil
}

// check returns why the table rejects a record, or "".
func (t *fakeTable) check(s StoredRecord, now time.Time) string {
	if s.Bytes > MaxRecordBytes {
		return fmt.Sprintf("Record size %d bytes exceeds the %d byte limit.", s.Bytes, MaxRecordBytes)
	}
	if len(s.Measures) > MaxMeasuresPerRecord {
		return fmt.Sprintf("Record has %d measures; the limit is %d.", len(s.Measures), MaxMeasuresPerRecord)
	}
	if s.Time.After(now.Add(FutureIngestion)) {
		return "The record timestamp is more than 15 minutes in the future."
	}
	lo := now.Add(-time.Duration(t.memoryHours) * time.Hour)
	if s.Time.Before(lo) {
		if !t.magneticWrites {
			return fmt.Sprintf("The record timestamp is outside the time range [%s, %s) of the data ingestion window.",
				lo.UTC().Format(time.RFC3339), now.Add(FutureIngestion).UTC().Format(time.RFC3339))
		}
		if s.Time.Before(now.Add(-time.Duration(t.magneticDays) * 24 * time.Hour)) {
			return "The record timestamp is older than the magnetic store retention."
		}
	}
	for name, m := range s.Measures {
		if typ, ok := t.measureTypes[name]; ok && typ != m.Type {
			return fmt.Sprintf("Measure %s has type %s in this table; got %s.", name, typ, m.Type)
		}
	}
	return ""
}

var measureTypes = map[string]bool{"DOUBLE": true, "BIGINT": true, "VARCHAR": true, "BOOLEAN": true, "TIMESTAMP": true}

// mergeRecord applies the common attributes to a record and validates the result.
func mergeRecord(common *Record, rec Record) (StoredRecord, error) {
	var c Record
	if common != nil {
		c = *common
	}
	pick := func(a, b *string) *string {
		if a != nil {
			return a
		}
		return b
	}
	pickS := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	name := pick(rec.MeasureName, c.MeasureName)
	value := pick(rec.MeasureValue, c.MeasureValue)
	typ := pickS(rec.MeasureValueType, c.MeasureValueType)
	tm := pick(rec.Time, c.Time)
	unit := pickS(rec.TimeUnit, c.TimeUnit)
	version := rec.Version
	if version == nil {
		version = c.Version
	}
	values := rec.MeasureValues
	if values == nil {
		values = c.MeasureValues
	}
	s := StoredRecord{Dimensions: map[string]string{}, Measures: map[string]Measure{}, Version: 1}
	for _, d := range append(append([]Dimension(nil), c.Dimensions...), rec.Dimensions...) {
		if d.Name == "" || d.Value == "" {
			return s, fmt.Errorf("dimension names and values must not be empty")
		}
		if _, dup := s.Dimensions[d.Name]; dup {
			return s, fmt.Errorf("dimension %s given twice (record and common attributes overlap)", d.Name)
		}
		s.Dimensions[d.Name] = d.Value
		s.Bytes += len(d.Name) + len(d.Value)
	}
	if name == nil || *name == "" {
		return s, fmt.Errorf("MeasureName is required")
	}
	s.MeasureName = *name
	s.Bytes += 8 + len(*name)
	if version != nil {
		if *version < 1 {
			return s, fmt.Errorf("Version must be 1 or greater")
		}
		s.Version = *version
	}
	if tm == nil {
		return s, fmt.Errorf("Time is required")
	}
	n, err := strconv.ParseInt(*tm, 10, 64)
	if err != nil {
		return s, fmt.Errorf("Time %q is not an integer", *tm)
	}
	switch unit {
	case "", "MILLISECONDS":
		s.Time = time.UnixMilli(n).UTC()
	case "SECONDS":
		s.Time = time.Unix(n, 0).UTC()
	case "MICROSECONDS":
		s.Time = time.UnixMicro(n).UTC()
	case "NANOSECONDS":
		s.Time = time.Unix(0, n).UTC()
	default:
		return s, fmt.Errorf("TimeUnit %q is not valid", unit)
	}
	switch {
	case typ == "MULTI":
		if value != nil || len(values) == 0 {
			return s, fmt.Errorf("a MULTI record has MeasureValues and no MeasureValue")
		}
		for _, mv := range values {
			if err := checkValue(mv.Type, mv.Value); err != nil {
				return s, fmt.Errorf("measure %s: %w", mv.Name, err)
			}
			if mv.Name == "" {
				return s, fmt.Errorf("measure names must not be empty")
			}
			if _, dup := s.Measures[mv.Name]; dup {
				return s, fmt.Errorf("measure %s given twice", mv.Name)
			}
			if _, clash := s.Dimensions[mv.Name]; clash {
				return s, fmt.Errorf("measure %s has a dimension's name", mv.Name)
			}
			s.Measures[mv.Name] = Measure{Type: mv.Type, Value: mv.Value}
			s.Bytes += len(mv.Name) + valueBytes(mv.Type, mv.Value)
		}
	default:
		if typ == "" {
			typ = "DOUBLE"
		}
		if value == nil || len(values) > 0 {
			return s, fmt.Errorf("a %s record has a MeasureValue and no MeasureValues", typ)
		}
		if err := checkValue(typ, *value); err != nil {
			return s, err
		}
		s.Measures[*name] = Measure{Type: typ, Value: *value}
		s.Bytes += valueBytes(typ, *value)
	}
	return s, nil
}

func checkValue(typ, v string) error {
	if !measureTypes[typ] {
		return fmt.Errorf("type %q is not a measure type", typ)
	}
	if v == "" || len(v) > 2048 {
		return fmt.Errorf("value must hold 1 to 2048 bytes")
	}
	switch typ {
	case "DOUBLE":
		if f, err := strconv.ParseFloat(v, 64); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%q is not a finite DOUBLE", v)
		}
	case "BIGINT", "TIMESTAMP":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("%q is not a %s", v, typ)
		}
	case "BOOLEAN":
		if _, err := strconv.ParseBool(v); err != nil {
			return fmt.Errorf("%q is not a BOOLEAN", v)
		}
	}
	return nil
}

func valueBytes(typ, v string) int {
	switch typ {
	case "BOOLEAN":
		return 1
	case "VARCHAR":
		return len(v)
	}
	return 8
}

func recordKey(s StoredRecord) string {
	names := make([]string, 0, len(s.Dimensions))
	for n := range s.Dimensions {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(s.Dimensions[n])
		b.WriteByte(0)
	}
	b.WriteString(s.MeasureName)
	b.WriteByte(0)
	b.WriteString(strconv.FormatInt(s.Time.UnixNano(), 10))
	return b.String()
}

func sameData(a, b *StoredRecord) bool {
	if len(a.Measures) != len(b.Measures) {
		return false
	}
	for k, v := range a.Measures {
		if b.Measures[k] != v {
			return false
		}
	}
	return true
}
