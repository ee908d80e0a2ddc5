package workflows

import (
	"cmp"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/activities/pointintime"
	"github.com/dr-syncer/dr-syncer/contract"
)

// restoreRetry retries a restore step that failed for a reason waiting may
// fix (an API server away, a provisioner not ready); the non-retryable
// errors of the steps (a point not found, a name taken) stop at once.
var restoreRetry = &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute, MaximumAttempts: 5}

// RestorePoints lists a Replication's restore points: where its DR copies
// are, then their complete snapshots, newest first.
func RestorePoints(ctx workflow.Context, in contract.RestorePointsInput) (contract.RestorePointsResult, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, contract.RestoreAttributes(in.Replication, in.PVC)...); err != nil {
		return contract.RestorePointsResult{}, err
	}
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: restoreRetry})
	dr, err := locateDRCopies(short, in.Replication)
	if err != nil {
		return contract.RestorePointsResult{}, err
	}
	result := contract.RestorePointsResult{
		Replication: in.Replication.String(), DestinationCluster: dr.Destination.Name, DestinationNamespace: dr.Namespace,
	}
	var a *pointintime.SnapshotActivities
	err = workflow.ExecuteActivity(short, a.ListRestorePoints, contract.ListRestorePointsInput{
		Cluster: dr.Destination, Namespace: dr.Namespace, Replication: in.Replication.String(), PVC: in.PVC,
	}).Get(ctx, &result.Points)
	return result, err
}

// RestorePVC makes a new PVC from a restore point of a DR PVC: resolve the
// Replication → find the point → check the target → (into another
// namespace: share the point there) → create the PVC and wait until it is
// bound → clean up the temporary objects. The DR PVC and the restore
// points are only read; a PVC of the target name that this restore did not
// make fails it. Cleanup runs on failure and cancellation too, and removes
// only what carries this restore's operation label.
func RestorePVC(ctx workflow.Context, in contract.RestoreInput) (contract.RestoreResult, error) {
	if problem := in.Problem(); problem != "" {
		return contract.RestoreResult{}, temporal.NewNonRetryableApplicationError("restore: "+problem, contract.ErrTypeInvalidSpec, nil)
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, contract.RestoreAttributes(in.Replication, in.PVC)...); err != nil {
		return contract.RestoreResult{}, err
	}
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: restoreRetry})
	long := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: snapshotStepTimeout, HeartbeatTimeout: 30 * time.Second, RetryPolicy: restoreRetry,
	})
	location, err := locateDRCopies(short, in.Replication)
	if err != nil {
		return contract.RestoreResult{}, err
	}
	var a *pointintime.SnapshotActivities
	dr := contract.PVCRef{Cluster: location.Destination, Namespace: location.Namespace, Name: in.PVC}
	result := contract.RestoreResult{FromNamespace: dr.Namespace}
	if err := workflow.ExecuteActivity(short, a.FindRestorePoint, contract.FindRestorePointInput{
		DR: dr, Replication: in.Replication.String(), Point: in.Point,
	}).Get(ctx, &result.Point); err != nil {
		return contract.RestoreResult{}, err
	}
	target := contract.PVCRef{
		Cluster:   location.Destination,
		Namespace: cmp.Or(in.ToNamespace, dr.Namespace),
		Name:      cmp.Or(in.Name, contract.RestoredPVCName(in.PVC, result.Point.CopiedAt)),
	}
	info := workflow.GetInfo(ctx)
	op := contract.Operation{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID}
	if err := workflow.ExecuteActivity(short, a.CheckRestoreTarget, contract.RestoreTargetInput{
		Op: op, PVC: target, CreateNamespace: in.CreateNamespace,
	}).Get(ctx, nil); err != nil {
		return contract.RestoreResult{}, err
	}
	defer func() {
		// A cancelled workflow's context is done, so cleanup gets a disconnected one.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		if err := workflow.ExecuteActivity(withCleanupOptions(dctx), a.CleanupRestore, contract.CleanupRestoreInput{
			Op: op, Cluster: target.Cluster, Namespace: target.Namespace,
		}).Get(dctx, nil); err != nil {
			workflow.GetLogger(ctx).Error("restore cleanup failed; objects labelled with the operation remain", "error", err)
		}
	}()
	snapshot := result.Point.Name
	if target.Namespace != dr.Namespace {
		var shared contract.Snapshot
		if err := workflow.ExecuteActivity(long, a.ShareRestorePoint, contract.ShareRestorePointInput{
			Op: op, Cluster: dr.Cluster, Namespace: dr.Namespace, Point: result.Point.Name, ToNamespace: target.Namespace,
		}).Get(ctx, &shared); err != nil {
			return contract.RestoreResult{}, err
		}
		snapshot = shared.Name
	}
	err = workflow.ExecuteActivity(long, a.RestoreFromPoint, contract.RestoreFromPointInput{
		Op: op, DR: dr, Point: result.Point, Target: target, Snapshot: snapshot,
	}).Get(ctx, &result.RestoredPVC)
	return result, err
}

// locateDRCopies finds where the Replication's DR copies are.
func locateDRCopies(ctx workflow.Context, ref contract.ObjectRef) (contract.DRLocation, error) {
	var plans *activities.PlanActivities
	var dr contract.DRLocation
	err := workflow.ExecuteActivity(ctx, plans.LocateDRCopies, ref).Get(ctx, &dr)
	return dr, err
}
