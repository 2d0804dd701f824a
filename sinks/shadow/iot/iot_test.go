package iot_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetstream/fleetstream/codecs"
	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow/iot"
	"github.com/fleetstream/fleetstream/sinks/shadow/target"
)

// request is what the fake data plane saw.
type request struct {
	Method, Path, EscapedPath, Query, Auth string
	Body                                   string
}

// reply is one scripted answer; the zero value is 200 with an empty JSON body.
type reply struct {
	status     int
	errorType  string
	retryAfter string
}

// dataPlane speaks the AWS IoT data plane REST protocol: POST /topics/{topic}?qos=1 and
// POST /things/{thingName}/shadow, errors as X-Amzn-ErrorType and a JSON message.
type dataPlane struct {
	mu      sync.Mutex
	reqs    []request
	replies []reply
	// accepted holds the bodies answered 200, in order.
	accepted [][]byte
	// Faults of the conformance suite: throttle the next failNext calls, hang the next
	// hangNext until the client gives up, refuse the things in rejected.
	failNext, hangNext int
	rejected           map[string]bool
}

// thing is the thing a request is for: the topic's second level or the shadow's thing.
func thing(path string) string {
	parts := strings.Split(path, "/")
	switch {
	case len(parts) > 4 && parts[1] == "topics":
		return parts[4] // /topics/$aws/things/{thing}/shadow/update
	case len(parts) > 2 && parts[1] == "things":
		return parts[2]
	}
	return ""
}

func (d *dataPlane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	d.reqs = append(d.reqs, request{
		Method: r.Method, Path: r.URL.Path, EscapedPath: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Auth: r.Header.Get("Authorization"), Body: string(body),
	})
	var rep reply
	hang := false
	switch {
	case d.hangNext > 0:
		d.hangNext--
		hang = true
	case d.failNext > 0:
		d.failNext--
		rep = reply{status: http.StatusTooManyRequests, errorType: "ThrottlingException"}
	case d.rejected[thing(r.URL.Path)]:
		rep = reply{status: http.StatusBadRequest, errorType: "InvalidRequestException"}
	case len(d.replies) > 0:
		rep, d.replies = d.replies[0], d.replies[1:]
	}
	if !hang && (rep.status == 0 || rep.status == http.StatusOK) {
		d.accepted = append(d.accepted, body)
	}
	d.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if rep.status != 0 && rep.status != http.StatusOK {
		w.Header().Set("X-Amzn-ErrorType", rep.errorType)
		if rep.retryAfter != "" {
			w.Header().Set("Retry-After", rep.retryAfter)
		}
		w.WriteHeader(rep.status)
		_, _ = w.Write([]byte(`{"message":"injected ` + rep.errorType + `"}`))
		return
	}
	if strings.HasPrefix(r.URL.Path, "/things/") {
		_, _ = w.Write(body) // UpdateThingShadow answers with the document
		return
	}
	_, _ = w.Write([]byte(`{}`))
}

func (d *dataPlane) script(r ...reply) {
	d.mu.Lock()
	d.replies = append(d.replies, r...)
	d.mu.Unlock()
}

func (d *dataPlane) requests() []request {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]request(nil), d.reqs...)
}

// setup starts the fake data plane and points the standard SDK chain at it through the
// environment: static credentials, a region and AWS_ENDPOINT_URL_IOT_DATA_PLANE.
func setup(t *testing.T, cfg iot.Config) (*iot.Backend, *dataPlane) {
	t.Helper()
	dp := &dataPlane{}
	srv := httptest.NewServer(dp)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_IOT_DATA_PLANE", srv.URL)
	r, err := target.New(target.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b, err := iot.New(ctx, cfg, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	return b, dp
}

func command(vin string) codecs.Command {
	return codecs.Command{
		ID:       codecs.CommandID(vin, "trip", "P0300", codecs.CommandEngineStop),
		VIN:      vin,
		Action:   codecs.CommandEngineStop,
		Reason:   "dtc P0300",
		IssuedAt: time.Now().UTC(),
	}
}

func record(t *testing.T, cmd codecs.Command) sinks.Record {
	t.Helper()
	b, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	return sinks.Record{Topic: "commands", Key: []byte(cmd.VIN), Value: b}
}

func payload(cmd codecs.Command) string {
	return `{"state":{"desired":{"engine":"stop"}},"clientToken":"` + cmd.ID + `"}`
}

func TestPublishSpeaksTheDataPlaneProtocol(t *testing.T) {
	b, dp := setup(t, iot.DefaultConfig())
	c1, c2 := command("VIN00000000000001"), command("VIN00000000000002")
	if err := b.WriteBatch(context.Background(), []sinks.Record{record(t, c1), record(t, c2)}); err != nil {
		t.Fatal(err)
	}
	reqs := dp.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	for i, c := range []codecs.Command{c1, c2} {
		r := reqs[i]
		if r.Method != http.MethodPost {
			t.Errorf("method %s", r.Method)
		}
		if want := "/topics/$aws/things/" + c.VIN + "/shadow/update"; r.Path != want {
			t.Errorf("path %q, want %q", r.Path, want)
		}
		// The topic is one path label: its slashes are escaped, not path separators.
		if want := "/topics/%24aws%2Fthings%2F" + c.VIN + "%2Fshadow%2Fupdate"; r.EscapedPath != want {
			t.Errorf("escaped path %q, want %q", r.EscapedPath, want)
		}
		if r.Query != "qos=1" {
			t.Errorf("query %q, want qos=1", r.Query)
		}
		if r.Body != payload(c) {
			t.Errorf("body %s, want %s", r.Body, payload(c))
		}
		if !strings.HasPrefix(r.Auth, "AWS4-HMAC-SHA256 Credential=AKIDTEST/") || !strings.Contains(r.Auth, "/eu-west-1/iotdata/aws4_request") {
			t.Errorf("authorization %q: want SigV4 for iotdata in eu-west-1", r.Auth)
		}
	}
}

func TestUpdateThingShadow(t *testing.T) {
	cfg := iot.DefaultConfig()
	cfg.Mode = iot.ModeShadow
	b, dp := setup(t, cfg)
	c := command("VIN00000000000003")
	if err := b.WriteBatch(context.Background(), []sinks.Record{record(t, c)}); err != nil {
		t.Fatal(err)
	}
	r := dp.requests()[0]
	if r.Method != http.MethodPost || r.Path != "/things/"+c.VIN+"/shadow" || r.Query != "" || r.Body != payload(c) {
		t.Fatalf("request %+v", r)
	}

	t.Run("named shadow", func(t *testing.T) {
		cfg.ShadowName = "commands"
		b, dp := setup(t, cfg)
		if err := b.WriteBatch(context.Background(), []sinks.Record{record(t, c)}); err != nil {
			t.Fatal(err)
		}
		if r := dp.requests()[0]; r.Path != "/things/"+c.VIN+"/shadow" || r.Query != "name=commands" {
			t.Fatalf("request %+v", r)
		}
	})
}

func TestErrorsAreClassified(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		errorType string
		retryable bool
	}{
		{"throttled", http.StatusTooManyRequests, "ThrottlingException", true},
		{"internal failure", http.StatusInternalServerError, "InternalFailureException", true},
		{"unavailable", http.StatusServiceUnavailable, "ServiceUnavailableException", true},
		{"bad gateway without a type", http.StatusBadGateway, "", true},
		{"forbidden (IAM, fixable)", http.StatusForbidden, "ForbiddenException", true},
		{"invalid request", http.StatusBadRequest, "InvalidRequestException", false},
		{"too large", http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", false},
		{"not found", http.StatusNotFound, "ResourceNotFoundException", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, dp := setup(t, iot.DefaultConfig())
			dp.script(reply{status: tc.status, errorType: tc.errorType})
			err := b.WriteBatch(context.Background(), []sinks.Record{record(t, command("VIN00000000000001"))})
			var be *sinks.BatchError
			if !errors.As(err, &be) || len(be.Failed) != 1 {
				t.Fatalf("WriteBatch = %v, want one failed record", err)
			}
			if got := sinks.Retryable(be.Failed[0].Err); got != tc.retryable {
				t.Fatalf("retryable = %v, want %v (%v)", got, tc.retryable, be.Failed[0].Err)
			}
			if n := len(dp.requests()); n != 1 {
				t.Fatalf("%d requests: the SDK retried by itself; the command sink owns retries", n)
			}
		})
	}
}

// A 429 and a 500 fail the call retryably; the same batch written again goes through, and a
// retryable failure stops the batch there so the order is kept.
func TestInjectedThrottlingThenSuccess(t *testing.T) {
	b, dp := setup(t, iot.DefaultConfig())
	dp.script(reply{status: 429, errorType: "ThrottlingException"}, reply{status: 500, errorType: "InternalFailureException"})
	c1, c2 := command("VIN00000000000001"), command("VIN00000000000002")
	batch := []sinks.Record{record(t, c1), record(t, c2)}
	for attempt := 0; attempt < 2; attempt++ {
		err := b.WriteBatch(context.Background(), batch)
		var be *sinks.BatchError
		if !errors.As(err, &be) || len(be.Failed) != 2 || be.Failed[0].Index != 0 {
			t.Fatalf("attempt %d: %v, want both records failed", attempt, err)
		}
		for _, f := range be.Failed {
			if !sinks.Retryable(f.Err) {
				t.Fatalf("attempt %d: %v is not retryable", attempt, f.Err)
			}
		}
	}
	if err := b.WriteBatch(context.Background(), batch); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	reqs := dp.requests()
	if len(reqs) != 4 { // 429, 500 (c1 each time; c2 not attempted), then c1 and c2
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	if reqs[2].Body != payload(c1) || reqs[3].Body != payload(c2) {
		t.Fatalf("delivered out of order: %s, %s", reqs[2].Body, reqs[3].Body)
	}
}

func TestRetryAfterIsPassedOn(t *testing.T) {
	b, dp := setup(t, iot.DefaultConfig())
	dp.script(reply{status: 503, errorType: "ServiceUnavailableException", retryAfter: "2"})
	err := b.WriteBatch(context.Background(), []sinks.Record{record(t, command("VIN00000000000001"))})
	if d, ok := sinks.RetryAfter(err); !ok || d != 2*time.Second || !sinks.Retryable(err) {
		t.Fatalf("WriteBatch = %v: RetryAfter %s %v, want a retryable error asking for 2s", err, d, ok)
	}
}

func TestRejectedRecordDoesNotBlockTheRest(t *testing.T) {
	b, dp := setup(t, iot.DefaultConfig())
	dp.script(reply{status: 400, errorType: "InvalidRequestException"})
	c1, c2 := command("VIN00000000000001"), command("VIN00000000000002")
	err := b.WriteBatch(context.Background(), []sinks.Record{record(t, c1), {Value: []byte("garbage")}, record(t, c2)})
	var be *sinks.BatchError
	if !errors.As(err, &be) || len(be.Failed) != 2 || be.Failed[0].Index != 0 || be.Failed[1].Index != 1 {
		t.Fatalf("WriteBatch = %v, want records 0 (rejected) and 1 (garbage) failed", err)
	}
	if reqs := dp.requests(); len(reqs) != 2 || reqs[1].Body != payload(c2) {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestRateLimit(t *testing.T) {
	cfg := iot.DefaultConfig()
	cfg.Rate, cfg.Burst = 50, 1
	b, dp := setup(t, cfg)
	var batch []sinks.Record
	for range 6 {
		batch = append(batch, record(t, command("VIN00000000000001")))
	}
	start := time.Now()
	if err := b.WriteBatch(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	// 1 from the burst, 5 more at 50/s: at least 100 ms.
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Fatalf("6 calls at 50/s took %s", d)
	}
	if n := len(dp.requests()); n != 6 {
		t.Fatalf("%d requests", n)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  iot.Config
		want string
	}{
		{iot.Config{Mode: "mqtt"}, "Mode"},
		{iot.Config{Endpoint: "data.iot.example.com"}, "Endpoint"},
		{iot.Config{ShadowName: "x"}, "ShadowName"},
		{iot.Config{Rate: -1}, "Rate"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %s", tc.cfg, err, tc.want)
		}
	}
	if err := (iot.Config{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}
