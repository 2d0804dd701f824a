package iot_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetstream/fleetstream/sinks"
	"github.com/fleetstream/fleetstream/sinks/shadow/internal/conformance"
	"github.com/fleetstream/fleetstream/sinks/shadow/iot"
	"github.com/fleetstream/fleetstream/sinks/shadow/target"
	"github.com/fleetstream/fleetstream/sinks/sinktest"
)

// harness is a fresh local data plane; failures are injected in the server (429, 400 for the
// refused VINs, a request that hangs), so the suite also tests how the backend reads them.
type harness struct {
	dp  *dataPlane
	url string
}

func newHarness(t *testing.T) *harness {
	dp := &dataPlane{rejected: map[string]bool{}}
	srv := httptest.NewServer(dp)
	t.Cleanup(srv.Close)
	return &harness{dp: dp, url: srv.URL}
}

func (h *harness) NewBackend(t *testing.T) sinks.Backend {
	r, err := target.New(conformance.Target())
	if err != nil {
		t.Fatal(err)
	}
	cfg := iot.DefaultConfig()
	cfg.Endpoint = h.url
	cfg.Rate, cfg.Burst = 20000, 1000
	awsCfg := aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}
	b, err := iot.New(context.Background(), cfg, r, iot.WithAWSConfig(awsCfg))
	if err != nil {
		t.Fatal(err)
	}
	return conformance.Adapt(b)
}

func (h *harness) Stored(t *testing.T) []sinktest.Item {
	h.dp.mu.Lock()
	payloads := append([][]byte(nil), h.dp.accepted...)
	h.dp.mu.Unlock()
	return conformance.Items(t, payloads)
}

func (h *harness) FailNext(n int) {
	h.dp.mu.Lock()
	h.dp.failNext += n
	h.dp.mu.Unlock()
}

func (h *harness) RejectKeys(keys ...string) {
	h.dp.mu.Lock()
	for _, k := range keys {
		h.dp.rejected[k] = true
	}
	h.dp.mu.Unlock()
}

func (h *harness) HangNext() {
	h.dp.mu.Lock()
	h.dp.hangNext++
	h.dp.mu.Unlock()
}

func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("conformance suite")
	}
	sinktest.Run(t, func(t *testing.T) sinktest.Harness { return newHarness(t) })
}
