package codecs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// payloadDir holds the shared vehicle payload fixtures; shared/ sits beside the repository,
// locally and in CI.
const payloadDir = "../../shared/payloads"

// fixture returns the bytes of one shared payload fixture.
func fixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(payloadDir, name))
	if err != nil {
		tb.Fatalf("fixture %s: %v (the fixtures live in shared/payloads beside the repository)", name, err)
	}
	return b
}

// fixtureNames lists every JSON fixture, so a new one cannot go untested.
func fixtureNames(tb testing.TB) []string {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join(payloadDir, "*.json"))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no fixtures in %s: %v", payloadDir, err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// fixtureDecoder says which decoder a fixture is for, by its name.
func fixtureDecoder(name string) string {
	switch {
	case strings.HasPrefix(name, "telemetry-"), strings.HasPrefix(name, "v3-"):
		return "telemetry"
	case strings.HasPrefix(name, "trip-"):
		return "trip"
	case strings.HasPrefix(name, "dtc"):
		return "dtc"
	}
	return ""
}

// utc builds a UTC time.
func utc(y int, mo time.Month, d, h, mi, s, ns int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ns, time.UTC)
}

// checkSignalInvariants fails for a decoded signal that breaks what every consumer relies on.
func checkSignalInvariants(tb testing.TB, s Signal) {
	tb.Helper()
	if !ValidVIN(s.VIN) {
		tb.Fatalf("signal has invalid VIN %q", s.VIN)
	}
	if c, ok := CanonicalSignal(s.Name); !ok || c != s.Name {
		tb.Fatalf("signal name %q is not canonical (CanonicalSignal gives %q, %v)", s.Name, c, ok)
	}
	if s.Value.Kind == KindNone {
		tb.Fatalf("signal %s carries no value", s.Name)
	}
	if want, known := SignalKind(s.Name); known && s.Value.Kind != want {
		tb.Fatalf("signal %s carries a %s, want a %s", s.Name, s.Value.Kind, want)
	}
	checkTime(tb, s.Time)
	if !utf8.ValidString(s.TripID) || !utf8.ValidString(s.Value.Str) {
		tb.Fatalf("signal %s holds invalid UTF-8: trip %q, value %q", s.Name, s.TripID, s.Value.Str)
	}
}

// checkTime fails for a decoded time that is zero, not UTC or cannot be written as JSON.
func checkTime(tb testing.TB, t time.Time) {
	tb.Helper()
	if t.IsZero() {
		tb.Fatal("decoded time is zero")
	}
	if t.Location() != time.UTC {
		tb.Fatalf("decoded time %v is not in UTC", t)
	}
	if _, err := t.MarshalJSON(); err != nil {
		tb.Fatalf("decoded time %v cannot be encoded: %v", t, err)
	}
}
