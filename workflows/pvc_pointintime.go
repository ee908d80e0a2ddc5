package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pointintime"
	"github.com/dr-syncer/dr-syncer/contract"
)

// changePointInTime is the GetVersion change ID of point-in-time copies: a
// PVC sync may read a snapshot or clone of the source instead of the live
// volume, and keeps restore points of the DR PVC after a good sync. Syncs
// started before it replay reading the live volume.
const changePointInTime = "2026-12-04-point-in-time"

// snapshotStepTimeout bounds one attempt of a snapshot or temporary-claim
// step; drivers that copy data out to take a snapshot may need minutes.
const snapshotStepTimeout = 30 * time.Minute

// prepareCopySource decides what the sync reads and makes it: for Snapshot,
// freeze → snapshot → thaw → ready → claim from it; for Clone, a clone of
// the source. It returns the claim the mount pod mounts and the instant of
// the source that claim holds (zero for Direct: the transfer's start). Thaw
// runs once freeze ran, whatever happens after. Every object it makes
// carries the operation's label, so the sync's cleanup removes it.
func prepareCopySource(ctx workflow.Context, in contract.PVCSyncInput, op contract.Operation,
	retry *temporal.RetryPolicy, state *syncState) (contract.PVCRef, time.Time, error) {
	var a *pointintime.SnapshotActivities
	long := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: snapshotStepTimeout, HeartbeatTimeout: 30 * time.Second, RetryPolicy: retry,
	})
	pit := in.PointInTime
	state.enter(ctx, contract.PhasePlanCopySource)
	source := &state.Result.CopySource
	if err := state.steps.run(ctx, "choose how to copy "+in.Source.String(), a.PlanCopySource, contract.CopySourceInput{
		PVC: in.Source, Method: pit.CopyMethod, VolumeSnapshotClassName: pit.VolumeSnapshotClassName, HooksSet: pit.Hooks != nil,
	}).Get(ctx, source); err != nil {
		return contract.PVCRef{}, time.Time{}, err
	}
	temporary := contract.TemporaryPVCInput{Op: op, PVC: in.Source}
	var copiedAt time.Time
	switch source.Method {
	case contract.CopyDirect:
		return in.Source, time.Time{}, nil
	case contract.CopyClone:
		state.enter(ctx, contract.PhaseTemporaryPVC)
		var claim contract.PVCRef
		err := workflow.ExecuteActivity(step(long, "clone "+in.Source.String()), a.CreateTemporaryPVC, temporary).Get(ctx, &claim)
		return claim, workflow.Now(ctx), err
	}
	snapshotIn := contract.SourceSnapshotInput{Op: op, PVC: in.Source, SnapshotClass: source.SnapshotClass}
	var snapshot contract.Snapshot
	if err := withFreeze(ctx, in, state, func() error {
		state.enter(ctx, contract.PhaseSnapshotSource)
		return workflow.ExecuteActivity(step(long, "snapshot "+in.Source.String()), a.SnapshotSource, snapshotIn).Get(ctx, &snapshot)
	}); err != nil {
		return contract.PVCRef{}, time.Time{}, err
	}
	copiedAt = snapshot.TakenAt
	state.Result.SourceSnapshot = &snapshot
	state.enter(ctx, contract.PhaseWaitSnapshotReady)
	if err := workflow.ExecuteActivity(step(long, "wait for the snapshot of "+in.Source.String()), a.WaitSnapshotReady, snapshotIn).Get(ctx, &snapshot); err != nil {
		return contract.PVCRef{}, time.Time{}, err
	}
	state.enter(ctx, contract.PhaseTemporaryPVC)
	temporary.FromSnapshot = snapshot.Name
	var claim contract.PVCRef
	err := workflow.ExecuteActivity(step(long, "PVC from the snapshot of "+in.Source.String()), a.CreateTemporaryPVC, temporary).Get(ctx, &claim)
	return claim, copiedAt, err
}

// withFreeze runs take between the freeze and thaw hooks, if any. Thaw runs
// once freeze started, on failure and cancellation too (on a disconnected
// context); a thaw failure fails the sync, since the application may still
// be frozen.
func withFreeze(ctx workflow.Context, in contract.PVCSyncInput, state *syncState, take func() error) (err error) {
	hooks := in.PointInTime.Hooks
	if hooks == nil {
		return take()
	}
	var a *pointintime.SnapshotActivities
	run := func(ctx workflow.Context, name string, cmd *contract.HookCommand, attempts int32) error {
		if cmd == nil {
			return nil
		}
		hookCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			// Each matching pod gets the command's timeout; the activity
			// ends it, this bound only catches a lost worker.
			StartToCloseTimeout: 10*cmd.Timeout.Value() + time.Minute,
			RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: attempts},
		})
		return workflow.ExecuteActivity(hookCtx, a.RunHook, contract.HookInput{
			Source: in.Source, Hook: name, Selector: hooks.Selector, Container: hooks.Container, Command: *cmd,
		}).Get(ctx, nil)
	}
	state.enter(ctx, contract.PhaseFreeze)
	defer func() {
		thawCtx := ctx
		if ctx.Err() != nil {
			thawCtx, _ = workflow.NewDisconnectedContext(ctx)
		}
		state.enter(thawCtx, contract.PhaseThaw)
		// Freeze runs at most once; a thaw is retried, an application must not stay frozen.
		if thawErr := run(thawCtx, "thaw", hooks.Thaw, 5); thawErr != nil && err == nil {
			err = thawErr
		}
	}()
	if err := run(ctx, "freeze", hooks.Freeze, 1); err != nil {
		return err
	}
	return take()
}

// keepRestorePoint snapshots the DR PVC after a good sync and prunes its
// restore points to the newest Keep.
func keepRestorePoint(ctx workflow.Context, in contract.PVCSyncInput, op contract.Operation, copiedAt time.Time,
	retry *temporal.RetryPolicy, state *syncState) error {
	var a *pointintime.SnapshotActivities
	long := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: snapshotStepTimeout, HeartbeatTimeout: 30 * time.Second, RetryPolicy: retry,
	})
	drPVC := contract.PVCRef{Cluster: in.Destination, Namespace: in.DestinationNamespace, Name: state.Result.Target.Name}
	state.enter(ctx, contract.PhaseRestorePoint)
	if err := workflow.ExecuteActivity(step(long, "restore point of "+drPVC.String()), a.TakeRestorePoint, contract.RestorePointInput{
		Op: op, PVC: drPVC, Replication: in.Replication.String(),
		CopiedAt: copiedAt, RestorePoints: in.PointInTime.RestorePoints,
	}).Get(ctx, nil); err != nil {
		return err
	}
	state.enter(ctx, contract.PhasePruneRestorePoints)
	return workflow.ExecuteActivity(step(long, "prune restore points of "+drPVC.String()), a.PruneRestorePoints, contract.PruneRestorePointsInput{
		PVC: drPVC, Replication: in.Replication.String(), Keep: in.PointInTime.RestorePoints.Keep,
	}).Get(ctx, &state.Result.RestorePoints)
}
