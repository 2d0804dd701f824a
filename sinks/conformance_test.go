package sinks_test

import (
	"testing"

	"github.com/fleetstream/fleetstream/sinks/sinktest"
)

// The reference destination passes the suite: the suite's expectations hold for an idempotent
// destination, and the delivery core meets them.
func TestConformanceMemory(t *testing.T) {
	sinktest.Run(t, func(*testing.T) sinktest.Harness { return sinktest.NewMemory() })
}
