package workflows

import (
	"testing"
	"time"
)

// ShortenPermitLease sets how long a run passes a permit on, until the
// test ends. Tests that use it must not run in parallel.
func ShortenPermitLease(t *testing.T, d time.Duration) {
	old := permitLease
	permitLease = d
	t.Cleanup(func() { permitLease = old })
}
