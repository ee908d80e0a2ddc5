//go:build record

package workflows_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// TestRecordHistoriesProgressReport records runs since
// 2026-12-05-report-progress-to-parent: PVC syncs that report their phases
// to the Replication run, and a transfer that reports its bytes there; once
// completing, once cancelled mid-transfer (the cleanup's report goes on a
// disconnected context).
// `-run 'TestRecordHistoriesProgressReport$'` records them alone.
func TestRecordHistoriesProgressReport(t *testing.T) {
	var signaler atomic.Pointer[client.Client]
	var block atomic.Bool
	tp := startRecorder(t, func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		require.NotNil(t, in.Progress, "the workflow names the run to report to")
		p := contract.TransferProgress{Phase: "transferring", Snapshot: progress.Snapshot{BytesDone: 512, BytesTotal: 1024, Percent: 50}}
		activity.RecordHeartbeat(ctx, p)
		_ = (*signaler.Load()).SignalWorkflow(ctx, in.Progress.WorkflowID, in.Progress.RunID, contract.SignalPVCProgress,
			contract.PVCProgressUpdate{PVC: in.Progress.PVC, Transfer: &p, Attempt: 1})
		for block.Load() && ctx.Err() == nil {
			activity.RecordHeartbeat(ctx, p)
			time.Sleep(200 * time.Millisecond)
		}
		return contract.TransferResult{Streams: 1}, ctx.Err()
	})
	signaler.Store(&tp.Client)
	ctx := context.Background()
	start := func(trigger string) client.WorkflowRun { return startRun(ctx, t, tp, trigger) }

	done := start("progress")
	require.NoError(t, done.Get(ctx, nil))
	saveHistory(t, tp.Client, "replication-progress-report", done.GetID(), done.GetRunID())
	saveHistory(t, tp.Client, "pvc-sync-progress-report", contract.PVCSyncWorkflowID("prod", "shop", "logs"), "")

	block.Store(true)
	cancelled := start("progress-cancel")
	time.Sleep(3 * time.Second)
	require.NoError(t, tp.Client.CancelWorkflow(ctx, cancelled.GetID(), cancelled.GetRunID()))
	require.Error(t, cancelled.Get(ctx, nil))
	saveHistory(t, tp.Client, "replication-progress-report-cancel", cancelled.GetID(), cancelled.GetRunID())
	saveHistory(t, tp.Client, "pvc-sync-progress-report-cancel", contract.PVCSyncWorkflowID("prod", "shop", "data"), "")
}

// TestRecordHistoriesSlotFreeAtCleanup records a run since
// 2026-12-05-slot-free-at-cleanup: two PVCs at concurrentSyncs 1, the
// second started when the first reports its final cleanup.
// `-run 'TestRecordHistoriesSlotFreeAtCleanup$'` records it alone.
func TestRecordHistoriesSlotFreeAtCleanup(t *testing.T) {
	tp := startRecorder(t, func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		return contract.TransferResult{Streams: 1}, nil
	})
	ctx := context.Background()
	recordRun(ctx, t, tp, "slot", "replication-slot-free-at-cleanup")
}

// TestRecordHistoriesBatchedPods records a run since
// 2026-12-06-batched-pods: two PVCs at concurrentSyncs 2 share one batch's
// pods, each following its own container.
// `-run 'TestRecordHistoriesBatchedPods$'` records it alone.
func TestRecordHistoriesBatchedPods(t *testing.T) {
	tp := startRecorder(t, func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		require.NotNil(t, in.Follow, "each PVC follows its container of the batch's sync pod")
		return contract.TransferResult{Streams: 1}, nil
	})
	ctx := context.Background()
	recordRun(ctx, t, tp, "batch", "replication-batched-pods")
	saveHistory(t, tp.Client, "pvc-sync-batched-pods", contract.PVCSyncWorkflowID("prod", "shop", "data"), "")
}

// TestRecordHistoriesBatchClaimTransfer records a run since
// 2026-12-07-batch-claim-transfer: two PVCs share one batch whose one
// mover fills both claims, and each follows its claim as
// TransferBatchClaim. `-run 'TestRecordHistoriesBatchClaimTransfer$'`
// records it alone.
func TestRecordHistoriesBatchClaimTransfer(t *testing.T) {
	tp := startRecorder(t, func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		require.NotNil(t, in.Follow, "each PVC follows its claim of the batch's sync pod")
		require.NotEmpty(t, in.Follow.Claim, "in the batch's one mover")
		return contract.TransferResult{Streams: 1}, nil
	})
	ctx := context.Background()
	recordRun(ctx, t, tp, "batch", "replication-batch-claim-transfer")
	saveHistory(t, tp.Client, "pvc-sync-batch-claim-transfer", contract.PVCSyncWorkflowID("prod", "shop", "data"), "")
}

// TestRecordHistoriesBatchLateCredentials records runs since
// 2026-12-06-batch-late-credentials: two PVCs at concurrentSyncs 2 share
// one batch's pods and make no credentials of their own; then a run whose
// batch pods cannot be made, so each sync makes its credentials under the
// mount pod phase and takes its own pods.
// `-run 'TestRecordHistoriesBatchLateCredentials$'` records them alone.
func TestRecordHistoriesBatchLateCredentials(t *testing.T) {
	var podsFail atomic.Bool
	tp := testenv.StartTemporal(t)
	script := scriptedActivities(func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		own := in.Op.Name("creds")
		if podsFail.Load() != (in.Follow == nil) || podsFail.Load() != (in.Credentials == own) {
			return contract.TransferResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("follow %v with credentials %q; own pods and credentials wanted: %v", in.Follow, in.Credentials, podsFail.Load()), "Unexpected", nil)
		}
		return contract.TransferResult{Streams: 1}, nil
	})
	batchPods := script["EnsureBatchPods"].(func(context.Context, contract.BatchPodsInput) (contract.BatchPods, error))
	script["EnsureBatchPods"] = func(ctx context.Context, in contract.BatchPodsInput) (contract.BatchPods, error) {
		if podsFail.Load() {
			return contract.BatchPods{}, temporal.NewNonRetryableApplicationError("node dr-1 is gone", contract.ErrTypePodFailed, nil)
		}
		return batchPods(ctx, in)
	}
	startScriptedWorker(t, tp, script, &pvcdata.PermitActivities{Temporal: tp.Client, TaskQueue: tp.TaskQueue})
	ctx := context.Background()
	data := contract.PVCSyncWorkflowID("prod", "shop", "data")

	recordRun(ctx, t, tp, "batch", "replication-batch-late-credentials")
	saveHistory(t, tp.Client, "pvc-sync-batch-late-credentials", data, "")

	podsFail.Store(true)
	recordRun(ctx, t, tp, "batch", "replication-batch-late-credentials-solo")
	saveHistory(t, tp.Client, "pvc-sync-batch-late-credentials-solo", data, "")
}

// TestRecordHistoriesStagedBatches records a run since
// 2026-12-06-staged-batches: four PVCs at concurrentSyncs 2, in two
// batches; the second batch's pods start held while the first transfers,
// and are released once it is done.
// `-run 'TestRecordHistoriesStagedBatches$'` records it alone.
func TestRecordHistoriesStagedBatches(t *testing.T) {
	tp := startRecorder(t, func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		require.NotNil(t, in.Follow, "each PVC follows its container of a batch's sync pod")
		time.Sleep(time.Second) // the first batch transfers while the second is staged
		return contract.TransferResult{Streams: 1}, nil
	})
	ctx := context.Background()
	recordRun(ctx, t, tp, "stage", "replication-staged-batches")
}

// TestRecordHistoriesFreeOnMoverDone records a staged run since
// 2026-12-06-free-on-mover-done: each transfer reports its data moved to
// the run half a second before it completes, as the real Transfer's last
// report does, so the second batch is released before the first's
// transfers complete.
// `-run 'TestRecordHistoriesFreeOnMoverDone$'` records it alone.
func TestRecordHistoriesFreeOnMoverDone(t *testing.T) {
	var tp *testenv.Temporal
	tp = startRecorder(t, func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		time.Sleep(time.Second) // the first batch transfers while the second is staged
		if in.Progress != nil {
			require.NoError(t, tp.Client.SignalWorkflow(ctx, in.Progress.WorkflowID, in.Progress.RunID, contract.SignalPVCProgress,
				contract.PVCProgressUpdate{PVC: in.Progress.PVC, Transfer: &contract.TransferProgress{Phase: contract.TransferMoved}}))
		}
		time.Sleep(500 * time.Millisecond)
		return contract.TransferResult{Streams: 1}, nil
	})
	recordRun(context.Background(), t, tp, "stage", "replication-free-on-mover-done")
}

// TestRecordHistoriesLocalSteps records runs since 2026-12-06-local-steps
// and 2026-12-06-quiet-phases, whose PVC syncs run their short API steps
// as local activities and do not report their phases to the run: a run
// syncing its two PVCs one at a time on their own pods, and a staged run
// of batches, which shows its members' transfers itself.
// `-run 'TestRecordHistoriesLocalSteps$'` records them alone.
func TestRecordHistoriesLocalSteps(t *testing.T) {
	recordSoloAndStagedRuns(t, startRecorder(t, stagingTransfer), "local-steps")
}

// stagingTransfer takes a second, so a staged run's first batch transfers
// while the second is staged.
func stagingTransfer(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
	time.Sleep(time.Second)
	return contract.TransferResult{Streams: 1}, nil
}

// recordSoloAndStagedRuns records a run syncing its two PVCs one at a
// time on their own pods as replication-<name> (and its sync of data as
// pvc-sync-<name>), then a staged run of batches as
// replication-<name>-staged (and pvc-sync-<name>-batched).
func recordSoloAndStagedRuns(t *testing.T, tp *testenv.Temporal, name string) {
	ctx := context.Background()
	recordRun(ctx, t, tp, "local", "replication-"+name)
	saveHistory(t, tp.Client, "pvc-sync-"+name, contract.PVCSyncWorkflowID("prod", "shop", "data"), "")
	recordRun(ctx, t, tp, "stage", "replication-"+name+"-staged")
	saveHistory(t, tp.Client, "pvc-sync-"+name+"-batched", contract.PVCSyncWorkflowID("prod", "staged", "data"), "")
}

// TestRecordHistoriesBaseline records runs since 2026-12-07-baseline,
// whose one marker stands for the PVC sync's and the Replication's
// changes: a run syncing its two PVCs one at a time on their own pods, and
// a staged run of batches whose transfers report their data moved.
// `-run 'TestRecordHistoriesBaseline$'` records them alone.
func TestRecordHistoriesBaseline(t *testing.T) {
	recordSoloAndStagedRuns(t, recorderReportingMoved(t), "baseline")
}

// TestRecordHistoriesMoverRoom records a staged run since
// 2026-12-07-mover-room, whose batches are sized to the movers the DR node
// has room for (the script's ChooseNodes reports room for two).
// `-run 'TestRecordHistoriesMoverRoom$'` records it alone.
func TestRecordHistoriesMoverRoom(t *testing.T) {
	recordRun(context.Background(), t, recorderReportingMoved(t), "stage", "replication-mover-room")
}

// TestRecordHistoriesFindBeforeCleanup records runs at baseline version 2,
// which stands for 2026-12-07-mover-room and
// 2026-12-07-find-before-cleanup too: PVC syncs that look for working
// objects locally and run Cleanup only on what they find. A run syncing
// its two PVCs one at a time on their own pods, and a staged run of
// batches. `-run 'TestRecordHistoriesFindBeforeCleanup$'` records them
// alone.
func TestRecordHistoriesFindBeforeCleanup(t *testing.T) {
	recordSoloAndStagedRuns(t, recorderReportingMoved(t), "find-before-cleanup")
}

// recorderReportingMoved is a recorder whose batch members' transfers
// report their data moved, as the real Transfer's last report does, then
// take stagingTransfer's second.
func recorderReportingMoved(t *testing.T) *testenv.Temporal {
	var tp *testenv.Temporal
	tp = startRecorder(t, func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		if in.Progress != nil && in.Follow != nil {
			require.NoError(t, tp.Client.SignalWorkflow(ctx, in.Progress.WorkflowID, in.Progress.RunID, contract.SignalPVCProgress,
				contract.PVCProgressUpdate{PVC: in.Progress.PVC, Transfer: &contract.TransferProgress{Phase: contract.TransferMoved}}))
		}
		return stagingTransfer(ctx, in)
	})
	return tp
}

// recordRun runs the script's Replication by trigger to its end, and
// saves its history as name.
func recordRun(ctx context.Context, t *testing.T, tp *testenv.Temporal, trigger, name string) {
	t.Helper()
	run := startRun(ctx, t, tp, trigger)
	require.NoError(t, run.Get(ctx, nil))
	saveHistory(t, tp.Client, name, run.GetID(), run.GetRunID())
}

// TestRecordHistoriesRunPermits records runs since 2026-12-07-run-permits,
// which hold their source cluster's permits for their PVC syncs and pass
// each from a closed sync to the next: a run syncing its two PVCs one at a
// time on their own pods, and a staged run of batches; then the cluster's
// semaphore, which granted the runs' permits to them
// (2026-12-07-semaphore-owners). `-run 'TestRecordHistoriesRunPermits$'`
// records them alone.
func TestRecordHistoriesRunPermits(t *testing.T) {
	tp := recorderReportingMoved(t)
	recordSoloAndStagedRuns(t, tp, "run-permits")
	// It would idle for minutes before closing.
	semaphore := contract.ClusterSemaphoreID(contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"})
	require.NoError(t, tp.Client.TerminateWorkflow(context.Background(), semaphore, "", "recorded"))
	saveHistory(t, tp.Client, "cluster-semaphore-run-permits", semaphore, "")
}
