package devstack

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// testLogger shows warnings and errors of the brokers in the test output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// testCtx is the bound of one test; everything here should finish in a few seconds.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startTestKafka starts a broker on an ephemeral port, closed at the end of the test. Groups may
// use session timeouts down to 200ms so that tests can shorten them.
func startTestKafka(t testing.TB, cfg KafkaConfig) *Kafka {
	t.Helper()
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.GroupMinSessionTimeout == 0 {
		cfg.GroupMinSessionTimeout = 200 * time.Millisecond
	}
	k, err := StartKafka(t.Context(), cfg)
	if err != nil {
		t.Fatalf("StartKafka: %v", err)
	}
	t.Cleanup(k.Close)
	return k
}
