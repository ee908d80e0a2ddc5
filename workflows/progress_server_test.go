package workflows_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// progressPVCs are the run's PVCs, each with the figures its transfer reports.
var progressPVCs = map[string]progress.Snapshot{
	"data": {BytesDone: 100, BytesTotal: 1000, Percent: 10, RateBytesPerSec: 50},
	"logs": {BytesDone: 2000, BytesTotal: 4000, Percent: 50, RateBytesPerSec: 500},
	"db":   {BytesDone: 0, BytesTotal: 9000, Percent: 0},
}

// A Replication run on a real server answers one progress query for all its
// PVC syncs: their phases (each the one the sync's own query gives) and their
// transfers' bytes, as the Transfer activities reported them to the run,
// with totals and counts that add up. Once the syncs end, the run drops them.
func TestReplicationProgressQueryAggregatesChildren(t *testing.T) {
	assertRunAggregatesChildren(t, "progress")
}

// A batched run shows its members in Transfer once their batch moves data:
// they do not report it themselves (2026-12-06-quiet-phases).
func TestBatchedRunProgressShowsItsMembersTransferring(t *testing.T) {
	assertRunAggregatesChildren(t, "batch")
}

// assertRunAggregatesChildren runs the three progressPVCs at once, in a run
// started by trigger, and checks its progress query while they transfer
// and once they are done.
func assertRunAggregatesChildren(t *testing.T, trigger string) {
	tp := testenv.StartTemporal(t)
	release := make(chan struct{})
	var mu sync.Mutex
	targets := map[string]*contract.ProgressTarget{}
	transfer := func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		// What pvcdata's Transfer does, with the mover's figures scripted:
		// heartbeat, and report to the run the workflow named.
		mu.Lock()
		targets[in.PVC.Name] = in.Progress
		mu.Unlock()
		if in.Progress == nil {
			return contract.TransferResult{}, fmt.Errorf("transfer of %s got no progress target", in.PVC.Name)
		}
		p := contract.TransferProgress{Phase: "transferring", Snapshot: progressPVCs[in.PVC.Name]}
		activity.RecordHeartbeat(ctx, p)
		update := contract.PVCProgressUpdate{PVC: in.Progress.PVC, Transfer: &p, Attempt: activity.GetInfo(ctx).Attempt}
		if err := tp.Client.SignalWorkflow(ctx, in.Progress.WorkflowID, in.Progress.RunID, contract.SignalPVCProgress, update); err != nil {
			return contract.TransferResult{}, err
		}
		<-release
		return contract.TransferResult{Streams: 1}, nil
	}
	script := scriptedActivities(transfer)
	syncAtOnce(script, int32(len(progressPVCs)), "data", "db", "logs") // all at once
	startScriptedWorker(t, tp, script)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := startRun(ctx, t, tp, trigger)
	query := func() contract.ReplicationProgress {
		v, err := tp.Client.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), contract.ProgressQuery)
		require.NoError(t, err)
		var p contract.ReplicationProgress
		require.NoError(t, v.Get(&p))
		return p
	}

	var p contract.ReplicationProgress
	require.Eventually(t, func() bool {
		p = query()
		reported := 0
		for _, pvc := range p.PVCs {
			if pvc.Phase == contract.PhaseTransfer && pvc.Transfer != nil {
				reported++
			}
		}
		return reported == len(progressPVCs)
	}, time.Minute, 200*time.Millisecond, "every PVC sync reports its transfer to the run: %+v", p)

	assert.Equal(t, run.GetRunID(), p.RunID, "the answer names its run, so a reader needs no describe")
	assert.Equal(t, contract.PhaseSyncPVCs, p.Phase)
	assert.Equal(t, 3, p.PVCsTotal)
	assert.Zero(t, p.PVCsDone)
	assert.ElementsMatch(t, []string{"data", "db", "logs"}, p.Running)
	var done, total int64
	for _, pvc := range p.PVCs {
		want := progressPVCs[pvc.PVC]
		assert.Equal(t, want, pvc.Transfer.Snapshot, "%s: the bytes its transfer reported", pvc.PVC)
		assert.EqualValues(t, 1, pvc.Attempt, pvc.PVC)
		assert.False(t, pvc.UpdatedAt.IsZero(), pvc.PVC)
		done, total = done+want.BytesDone, total+want.BytesTotal

		childID := contract.PVCSyncWorkflowID("prod", "shop", pvc.PVC)
		assert.Equal(t, childID, pvc.WorkflowID)
		v, err := tp.Client.QueryWorkflow(ctx, childID, "", contract.ProgressQuery)
		require.NoError(t, err)
		var child contract.PVCSyncProgress
		require.NoError(t, v.Get(&child))
		assert.Equal(t, child.Phase, pvc.Phase, "%s: the run's phase is the sync's own", pvc.PVC)

		mu.Lock()
		assert.Equal(t, &contract.ProgressTarget{WorkflowID: run.GetID(), RunID: run.GetRunID(), PVC: pvc.PVC}, targets[pvc.PVC])
		mu.Unlock()
	}
	assert.Equal(t, done, p.BytesDone, "the run's bytes are its syncs' bytes")
	assert.Equal(t, total, p.BytesTotal)

	close(release)
	require.NoError(t, run.Get(ctx, nil))
	p = query()
	assert.Equal(t, 3, p.PVCsDone)
	assert.Equal(t, 100, p.Percent)
	assert.Empty(t, p.PVCs, "finished syncs leave the running list, and late reports do not bring them back")
	assert.Zero(t, p.BytesDone)
}
