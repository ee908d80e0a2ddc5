package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
)

const batchOp1 = "default-test-workflow-id/batch-1"

// The next batch's pods start while the batch before it moves data, held;
// the batch is released, and its movers start, only once the places for
// all its claims are free (2026-12-06-staged-batches).
func TestBatchedRunStagesTheNextBatchWhileOneMovesData(t *testing.T) {
	s := newBatchSuite(t, []string{"a", "b", "c", "d"}, 2)
	s.run(t)
	require.Len(t, s.batches, 2)
	assert.False(t, s.batches[0].Held, "the first batch has its places at once")
	assert.True(t, s.batches[1].Held, "the second is staged while the first moves data")
	assert.NotContains(t, s.released, batchOp0, "nothing to release")
	require.Contains(t, s.released, batchOp1)
	for _, pvc := range []string{"a", "b"} {
		assert.True(t, s.podsAt[batchOp1].Before(s.ended[pvc]), "batch-1's pods start before %s's transfer ends", pvc)
		assert.False(t, s.released[batchOp1].Before(s.ended[pvc]), "batch-1 moves data only after %s's transfer ended", pvc)
	}
}

// A staged batch is released once the transfers before it report their
// data moved (contract.TransferMoved), before those transfers complete
// and their syncs go on to mark the DR claims synced
// (2026-12-06-free-on-mover-done).
func TestStagedBatchIsReleasedOnceTheTransfersBeforeItMoved(t *testing.T) {
	s := newBatchSuite(t, []string{"a", "b", "c", "d"}, 2)
	s.slowTransfers = []string{"a", "b", "c", "d"} // each completes 10 s after it starts
	s.env.RegisterDelayedCallback(func() {
		for _, pvc := range []string{"a", "b"} { // batch-0's movers are done
			s.env.SignalWorkflow(contract.SignalPVCProgress, contract.PVCProgressUpdate{PVC: pvc,
				Transfer: &contract.TransferProgress{Phase: contract.TransferMoved}})
		}
	}, 3*time.Second)
	s.run(t)
	require.Contains(t, s.released, batchOp1)
	for _, pvc := range []string{"a", "b"} {
		require.NotNil(t, s.transfers[pvc].Follow, "%s synced in batch-0", pvc)
		assert.True(t, s.released[batchOp1].Before(s.ended[pvc]),
			"batch-1 was released at %v, not before %s's transfer completed (%v)", s.released[batchOp1], pvc, s.ended[pvc])
	}
	assert.False(t, s.cleanups[batchOp0].Before(s.ended["a"]), "batch-0's pods are kept until its members leave")
}

// A run cancelled while a batch is staged deletes that batch's pods too,
// and never lets its movers start.
func TestCancelWhileABatchIsStaged(t *testing.T) {
	s := newBatchSuite(t, []string{"a", "b", "c", "d"}, 2)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 500*time.Millisecond) // batch-0 transfers, batch-1 is staged
	s.env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "manual"})
	require.True(t, s.env.IsWorkflowCompleted())
	var canceled *temporal.CanceledError
	require.ErrorAs(t, s.env.GetWorkflowError(), &canceled)
	require.Len(t, s.batches, 2, "both batches' pods were made before the cancel")
	assert.True(t, s.batches[1].Held)
	assert.Empty(t, s.released, "a staged batch of a cancelled run is never released")
	assert.Contains(t, s.cleanups, batchOp0)
	assert.Contains(t, s.cleanups, batchOp1, "the staged batch's pods and Secrets are deleted too")
}

// A staged batch whose pods could not be made tells its members they are
// on their own only once it is released, so they do not move data before
// their places are free.
func TestStagedBatchWhosePodsFailWaitsForItsPlaces(t *testing.T) {
	s := newBatchSuite(t, []string{"a", "b", "c", "d"}, 2)
	s.podsFailFor = batchOp1
	s.podsFail = temporal.NewNonRetryableApplicationError("node dr-1 is gone", contract.ErrTypePodFailed, nil)
	s.run(t)
	for _, pvc := range []string{"a", "b"} {
		require.NotNil(t, s.transfers[pvc].Follow, "%s synced in batch-0", pvc)
		for _, next := range []string{"c", "d"} {
			require.Contains(t, s.mountAt, next, "%s took its own pods", next)
			assert.False(t, s.mountAt[next].Before(s.ended[pvc]), "%s moved data before %s's transfer ended: %v", next, pvc, s.events)
		}
	}
}

// Nodes that may attach two volumes of the claims' driver, or a DR node
// with room for two movers, get batches of at most two, however many syncs
// run at once: a larger batch's pods would never be scheduled.
func TestBatchesHoldNoMoreClaimsThanTheirNodesTake(t *testing.T) {
	for name, limit := range map[string]func(*batchSuite){
		"attach limit": func(s *batchSuite) { s.attachLimit = 2 },
		"mover room":   func(s *batchSuite) { s.moverRoom = 2 },
		"both":         func(s *batchSuite) { s.attachLimit, s.moverRoom = 3, 2 },
	} {
		t.Run(name, func(t *testing.T) {
			s := newBatchSuite(t, []string{"a", "b", "c", "d", "e"}, 5)
			limit(s)
			result := s.run(t)
			require.Len(t, result.PVCs, 5)
			for _, p := range result.PVCs {
				assert.Empty(t, p.Error, p.PVC)
			}
			require.NotEmpty(t, s.batches)
			followed := 0
			for _, b := range s.batches {
				assert.LessOrEqual(t, len(b.Claims), 2, "batch %s", b.Op.WorkflowID)
				followed += len(b.Claims)
			}
			assert.Equal(t, 5, followed+len(s.mounts), "every PVC synced in a batch or on its own pods")
		})
	}
}
