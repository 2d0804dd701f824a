package influx

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
)

// Backend writes records to InfluxDB as line protocol over HTTP. It is a sinks.Backend and
// safe for concurrent use.
type Backend struct {
	cfg      Config
	log      *slog.Logger
	writeURL string
}

var _ sinks.Backend = (*Backend)(nil)

// New validates cfg and returns a backend; Connect checks the server.
func New(cfg Config) (*Backend, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	base := strings.TrimRight(cfg.URL, "/")
	q := url.Values{"precision": {"ns"}}
	var writeURL string
	if cfg.API == APIv1 {
		q.Set("db", cfg.Database)
		if cfg.RetentionPolicy != "" {
			q.Set("rp", cfg.RetentionPolicy)
		}
		writeURL = base + "/write?" + q.Encode()
	} else {
		q.Set("org", cfg.Org)
		q.Set("bucket", cfg.Bucket)
		writeURL = base + "/api/v2/write?" + q.Encode()
	}
	return &Backend{cfg: cfg, log: cfg.Logger.With("backend", "influx"), writeURL: writeURL}, nil
}

// Name is "influx".
func (b *Backend) Name() string { return "influx" }

// Connect checks that the server answers (/health for v2, /ping for v1) and that the bucket or
// database exists and the credentials may write to it, with a write of zero lines. A wrong
// token, org, bucket or database fails here with a message that says which.
func (b *Backend) Connect(ctx context.Context) error {
	base := strings.TrimRight(b.cfg.URL, "/")
	probe := base + "/health"
	if b.cfg.API == APIv1 {
		probe = base + "/ping"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, probe, nil)
	if err != nil {
		return sinks.Permanent(fmt.Errorf("influx: %w", err))
	}
	resp, err := b.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("influx: %s is not reachable: %w", b.cfg.URL, err)
	}
	msg, _ := readMessage(resp)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("influx: %s answered %s: %s", probe, resp.Status, msg)
	}

	// A zero-line write: 204 (v1) or 400 "writing requires points" (v2) once the bucket was
	// found and the token allowed to write; 401, 403 or 404 otherwise.
	req, err = http.NewRequestWithContext(ctx, http.MethodPost, b.writeURL, http.NoBody)
	if err != nil {
		return sinks.Permanent(fmt.Errorf("influx: %w", err))
	}
	b.authorize(req)
	resp, err = b.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("influx: %s is not reachable: %w", b.cfg.URL, err)
	}
	msg, _ = readMessage(resp)
	switch {
	case resp.StatusCode/100 == 2:
		return nil
	case resp.StatusCode == http.StatusBadRequest && strings.Contains(msg, "requires points"):
		return nil
	case resp.StatusCode == http.StatusUnauthorized:
		return sinks.Permanent(fmt.Errorf("influx: unauthorized (%s): %s", msg, b.credentialsHint()))
	case resp.StatusCode == http.StatusForbidden:
		return sinks.Permanent(fmt.Errorf("influx: forbidden (%s): %s", msg, b.credentialsHint()))
	case resp.StatusCode == http.StatusNotFound || notFound(msg):
		return sinks.Permanent(fmt.Errorf("influx: %s: %s", msg, b.targetHint()))
	}
	return fmt.Errorf("influx: checking %s: %s: %s", b.target(), resp.Status, msg)
}

func (b *Backend) target() string {
	if b.cfg.API == APIv1 {
		return fmt.Sprintf("database %q", b.cfg.Database)
	}
	return fmt.Sprintf("bucket %q of org %q", b.cfg.Bucket, b.cfg.Org)
}

func (b *Backend) credentialsHint() string {
	if b.cfg.API == APIv1 {
		return fmt.Sprintf("check Username and Password: they need write access to database %q", b.cfg.Database)
	}
	return fmt.Sprintf("check Token: it needs write access to bucket %q of org %q", b.cfg.Bucket, b.cfg.Org)
}

func (b *Backend) targetHint() string {
	if b.cfg.API == APIv1 {
		return fmt.Sprintf("create database %q (CREATE DATABASE), or fix Database/RetentionPolicy", b.cfg.Database)
	}
	return fmt.Sprintf("create bucket %q in org %q (influx bucket create), or fix Org/Bucket", b.cfg.Bucket, b.cfg.Org)
}

// Close releases idle connections.
func (b *Backend) Close(context.Context) error {
	b.cfg.HTTPClient.CloseIdleConnections()
	return nil
}

// WriteBatch writes the batch as lines, MaxLinesPerRequest at a time. Records that cannot be
// decoded or written, and those whose line InfluxDB refuses, are refused for good; when
// InfluxDB is throttling (429, 503, with Retry-After) or failing (5xx, network), the records
// not yet written fail retryably. Rewriting a record is harmless: its point is overwritten.
func (b *Backend) WriteBatch(ctx context.Context, batch []sinks.Record) error {
	lines, own, failed := b.lines(batch)
	res := &writeResult{failed: map[int]error{}, own: own}
	for start := 0; start < len(lines) && res.stop == nil; start += b.cfg.MaxLinesPerRequest {
		b.writeLines(ctx, lines[start:min(start+b.cfg.MaxLinesPerRequest, len(lines))], res)
	}
	if res.stop != nil { // the lines not attempted fail like the request that stopped the batch
		for _, l := range lines {
			for _, r := range l.records {
				if _, done := res.failed[r]; !done && !res.written[r] {
					res.failed[r] = res.stop
				}
			}
		}
	}
	if res.stop != nil && len(failed) == 0 && len(res.written) == 0 {
		whole := true
		for _, err := range res.failed {
			whole = whole && err == res.stop
		}
		if whole {
			return res.stop // nothing written, for one reason: a failure of the whole batch
		}
	}
	for r, err := range res.failed {
		failed = append(failed, sinks.RecordError{Index: r, Err: err})
	}
	if len(failed) == 0 {
		return nil
	}
	slices.SortFunc(failed, func(a, b sinks.RecordError) int { return a.Index - b.Index })
	return &sinks.BatchError{Failed: failed}
}

// writeResult collects the outcome of a batch's requests.
type writeResult struct {
	own     map[int]*point
	failed  map[int]error // by record
	written map[int]bool
	// stop is the failure of a whole request after which no more requests are sent: the
	// records not written fail with it.
	stop error
}

// writeLines sends lines in one request and sorts out a refusal: the lines InfluxDB names are
// refused (a merged line is first retried record by record) and the others sent again; when it
// names none, the request is halved until the bad lines are alone.
func (b *Backend) writeLines(ctx context.Context, lines []*line, res *writeResult) {
	if len(lines) == 0 || res.stop != nil {
		return
	}
	body := make([]byte, 0, 128*len(lines))
	for i, l := range lines {
		if i > 0 {
			body = append(body, '\n')
		}
		body = l.p.appendLine(body)
	}
	err := b.post(ctx, body)
	if err == nil {
		if res.written == nil {
			res.written = map[int]bool{}
		}
		for _, l := range lines {
			for _, r := range l.records {
				res.written[r] = true
			}
		}
		return
	}
	var rej *rejectedError
	if !errors.As(err, &rej) {
		res.stop = err // throttled, failing, unreachable or unauthorized: send no more
		return
	}
	bad := rej.badLines(lines, bytes.Count(body, []byte{'\n'}) == len(lines)-1)
	if len(bad) == 0 && len(lines) > 1 {
		mid := len(lines) / 2
		b.writeLines(ctx, lines[:mid], res)
		b.writeLines(ctx, lines[mid:], res)
		return
	}
	if len(bad) == 0 {
		bad = map[int]bool{0: true}
	}
	var again []*line
	for i, l := range lines {
		switch {
		case !bad[i]:
			again = append(again, l)
		case len(l.records) > 1:
			again = append(again, l.split(res.own)...)
		default:
			res.failed[l.records[0]] = sinks.Permanent(&codecs.DecodeError{Reason: ReasonUnwritable, Detail: rej.Error()})
		}
	}
	b.writeLines(ctx, again, res)
}

// post sends one request body and classifies the answer.
func (b *Backend) post(ctx context.Context, body []byte) error {
	var payload io.Reader = bytes.NewReader(body)
	if !b.cfg.NoGzip {
		var zb bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&zb, gzip.BestSpeed)
		_, _ = zw.Write(body)
		_ = zw.Close()
		payload = &zb
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.writeURL, payload)
	if err != nil {
		return sinks.Permanent(fmt.Errorf("influx: %w", err))
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	if !b.cfg.NoGzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	b.authorize(req)
	resp, err := b.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("influx: write: %w", err) // network errors and timeouts: retryable
	}
	msg, line := readMessage(resp)
	return b.classify(resp, msg, line)
}

func (b *Backend) authorize(req *http.Request) {
	if b.cfg.API == APIv1 {
		if b.cfg.Username != "" {
			req.SetBasicAuth(b.cfg.Username, b.cfg.Password)
		}
		return
	}
	req.Header.Set("Authorization", "Token "+b.cfg.Token)
}

// classify sorts a write's answer: 2xx written; 429 and 503 retryable after Retry-After; other
// 5xx retryable; 400 (and 413, 422) a refusal of lines; 401, 403, 404 and other 4xx permanent.
func (b *Backend) classify(resp *http.Response, msg string, line int) error {
	code := resp.StatusCode
	switch {
	case code/100 == 2:
		return nil
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		err := fmt.Errorf("influx: %s: %s", resp.Status, msg)
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return sinks.WithRetryAfter(err, d)
		}
		return err
	case code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge || code == http.StatusUnprocessableEntity:
		return &rejectedError{status: resp.Status, msg: msg, line: line}
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return sinks.Permanent(fmt.Errorf("influx: %s (%s): %s", resp.Status, msg, b.credentialsHint()))
	case code == http.StatusNotFound || notFound(msg):
		return sinks.Permanent(fmt.Errorf("influx: %s (%s): %s", resp.Status, msg, b.targetHint()))
	case code/100 == 5 && (strings.Contains(msg, "partial write") || strings.Contains(msg, "field type conflict")):
		// Some 2.x versions answer a type conflict with 500; it is a refusal of lines.
		return &rejectedError{status: resp.Status, msg: msg}
	case code/100 == 5:
		return fmt.Errorf("influx: %s: %s", resp.Status, msg)
	}
	return sinks.Permanent(fmt.Errorf("influx: %s: %s", resp.Status, msg))
}

func notFound(msg string) bool {
	return strings.Contains(msg, "not found") && (strings.Contains(msg, "bucket") || strings.Contains(msg, "database") ||
		strings.Contains(msg, "retention policy") || strings.Contains(msg, "organization"))
}

// readMessage reads the error message of a response: the "message" (v2) or "error" (v1) of a
// JSON body, else the body's text; and the "line" a v2/v3 server may add (0 if none).
func readMessage(resp *http.Response) (string, int) {
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	var e struct {
		Message string `json:"message"`
		Error   string `json:"error"`
		Line    int    `json:"line"`
	}
	if json.Unmarshal(raw, &e) == nil && (e.Message != "" || e.Error != "") {
		if e.Message != "" {
			return e.Message, e.Line
		}
		return e.Error, e.Line
	}
	return strings.TrimSpace(string(raw)), 0
}

// rejectedError is InfluxDB refusing some lines of a request (400): malformed, a field type
// conflict, a partial write.
type rejectedError struct {
	status, msg string
	line        int // the "line" of a v2/v3 JSON error, 0 if none
}

func (e *rejectedError) Error() string { return fmt.Sprintf("influx: %s: %s", e.status, e.msg) }

// lineNumber finds "line 3" (InfluxDB 2.x, 3.x) in a message.
var lineNumber = regexp.MustCompile(`\bline (\d+)\b`)

// badLines finds the lines a refusal names, by index in lines: by line number (v2: "line 3",
// or the JSON "line"), unless a string field's line break makes line numbers ambiguous
// (numbered is false), or by the text InfluxDB quotes (v1: "unable to parse '<line>'").
func (e *rejectedError) badLines(lines []*line, numbered bool) map[int]bool {
	bad := map[int]bool{}
	add := func(n int) {
		if n >= 1 && n <= len(lines) {
			bad[n-1] = true
		}
	}
	if numbered {
		add(e.line)
		for _, m := range lineNumber.FindAllStringSubmatch(e.msg, -1) {
			n, _ := strconv.Atoi(m[1])
			add(n)
		}
	}
	if strings.Contains(e.msg, "unable to parse '") {
		var buf []byte
		for i, l := range lines {
			buf = append(append(buf[:0], "unable to parse '"...), l.p.appendLine(nil)...)
			buf = append(buf, '\'')
			if strings.Contains(e.msg, string(buf)) {
				bad[i] = true
			}
		}
	}
	return bad
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
