package workflows_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// With concurrentSyncs 1 on a real server, the second PVC's sync starts
// while the first one's final cleanup still waits for its pods to go, and
// not before that cleanup began: the slot bounds the syncs moving data, and
// no time is lost waiting for deletions.
func TestReplicationFreesTheSlotAtTheFinalCleanup(t *testing.T) {
	tp := testenv.StartTemporal(t)
	const cleanupTakes = 3 * time.Second
	var mu sync.Mutex
	cleanups := map[string]int{}
	var firstCleanupStart, firstCleanupEnd, secondDiscover time.Time
	script := scriptedActivities(func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		return contract.TransferResult{Streams: 1}, nil
	})
	script["Cleanup"] = func(ctx context.Context, in contract.CleanupInput) (contract.CleanupResult, error) {
		mu.Lock()
		cleanups[in.Op.WorkflowID]++
		final := !in.Leftovers && in.Op.WorkflowID == contract.PVCSyncWorkflowID("prod", "shop", "data")
		if final {
			firstCleanupStart = time.Now()
		}
		mu.Unlock()
		if final { // deleting the pods and waiting for them to go
			time.Sleep(cleanupTakes)
			mu.Lock()
			firstCleanupEnd = time.Now()
			mu.Unlock()
		}
		return contract.CleanupResult{}, nil
	}
	discover := script["Discover"].(func(context.Context, contract.PVCRef) (contract.PVCInfo, error))
	script["Discover"] = func(ctx context.Context, in contract.PVCRef) (contract.PVCInfo, error) {
		if in.Name == "logs" {
			mu.Lock()
			secondDiscover = time.Now()
			mu.Unlock()
		}
		return discover(ctx, in)
	}
	syncAtOnce(script, 1, "data", "logs")
	startScriptedWorker(t, tp, script)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := startRun(ctx, t, tp, "slot")
	var res contract.ReplicationResult
	require.NoError(t, run.Get(ctx, &res))
	require.Len(t, res.PVCs, 2)
	for _, p := range res.PVCs {
		assert.Empty(t, p.Error, p.PVC)
	}
	mu.Lock()
	defer mu.Unlock()
	require.False(t, secondDiscover.IsZero() || firstCleanupStart.IsZero() || firstCleanupEnd.IsZero())
	assert.True(t, secondDiscover.After(firstCleanupStart), "the second sync started before the first one's final cleanup (at most one sync moves data)")
	assert.True(t, secondDiscover.Before(firstCleanupEnd), "the second sync waited for the first one's pods to go (%s after its cleanup began)",
		secondDiscover.Sub(firstCleanupStart))
}
