package workflows

import (
	"cmp"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/contract"
)

// Failback moves a failed-over Replication's workloads back to the source,
// with what DR wrote meanwhile:
//  1. stop the source's workloads (after an unplanned failover they may
//     have come back with the source);
//  2. copy DR back into the source while DR still serves (objects and PVC
//     data; rsync moves only what changed, into the source's own PVCs);
//  3. stop DR's workloads, and copy again: only the last changes move;
//  4. start the source's workloads with the replicas the failover recorded;
//  5. mark the source active, so syncs resume source → DR.
//
// Until step 4 begins, a failure or cancel leaves DR running (scaled back
// up if step 3 had stopped it); once it has begun, it is finished.
func Failback(ctx workflow.Context, in contract.FailbackInput) (result contract.FailbackResult, err error) {
	r, err := newRecoveryRun(ctx, in.Replication)
	if err != nil {
		return result, err
	}
	t, err := r.locate(ctx, in.Replication)
	if err != nil {
		return r.failbackResult(result), err
	}
	if t.ActiveSide != contract.SideDestination {
		return r.failbackResult(result), temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"Replication %s is not failed over: the source %s/%s is active, so there is nothing to fail back", in.Replication,
			t.Source.Name, t.SourceNamespace), contract.ErrTypeNotFailedOver, nil)
	}
	state := contract.FailoverState{Replication: in.Replication, ActiveSide: contract.SideDestination, State: contract.StateFailingBack,
		WorkflowID: r.id, StartedAt: r.started}
	if err := r.step(ctx, contract.StepRecordState, func() (string, error) { return state.State, recordState(ctx, state) }); err != nil {
		return r.failbackResult(result), err
	}
	src := contract.WorkloadsInput{Cluster: t.Source, Namespace: t.SourceNamespace, Operation: r.id}
	dr := contract.WorkloadsInput{Cluster: t.Destination, Namespace: t.DestinationNamespace, Operation: r.id}
	drStopped, cutoverBegan := false, false
	defer func() {
		if err != nil {
			dctx, _ := workflow.NewDisconnectedContext(ctx)
			r.settleFailback(dctx, state, src, dr, drStopped, cutoverBegan, err)
			result = r.failbackResult(result)
		}
	}()

	stopped, err := r.scale(ctx, contract.StepScaleDownSource, recoveryActivities.ScaleDownSource, src)
	if err != nil {
		return r.failbackResult(result), err
	}
	if err := r.wait(ctx, contract.StepWaitSourceStopped, contract.WaitReadyInput{Cluster: t.Source, Namespace: t.SourceNamespace,
		Workloads: stopped}, contract.DefaultScaleDownLimit); err != nil {
		return r.failbackResult(result), err
	}
	trigger := contract.RecoveryTrigger("failback", r.id)
	if result.Sync, err = r.replicateBack(ctx, in.Replication, trigger, "while DR serves"); err != nil {
		return r.failbackResult(result), err
	}
	drStopped = true
	if result.DRScales, err = r.scale(ctx, contract.StepScaleDownDR, recoveryActivities.ScaleDownCopies, dr); err != nil {
		return r.failbackResult(result), err
	}
	if err := r.wait(ctx, contract.StepWaitDRStopped, contract.WaitReadyInput{Cluster: t.Destination, Namespace: t.DestinationNamespace,
		Workloads: result.DRScales}, contract.DefaultScaleDownLimit); err != nil {
		return r.failbackResult(result), err
	}
	if result.Sync, err = r.replicateBack(ctx, in.Replication, trigger+"-final", "DR stopped: the last changes"); err != nil {
		return r.failbackResult(result), err
	}
	cutoverBegan = true
	if result.SourceScales, err = r.scale(ctx, contract.StepScaleUpSource, recoveryActivities.RestoreSource, src); err != nil {
		return r.failbackResult(result), err
	}
	limit := cmp.Or(in.ReadyTimeout, contract.DefaultReadyTimeout)
	if err := r.wait(ctx, contract.StepWaitSourceReady, contract.WaitReadyInput{Cluster: t.Source, Namespace: t.SourceNamespace,
		Workloads: result.SourceScales}, limit); err != nil {
		return r.failbackResult(result), err
	}
	result.Duration = workflow.Now(ctx).Sub(r.started)
	state.ActiveSide, state.State, state.CompletedAt = contract.SideSource, contract.StateFailedBack, workflow.Now(ctx)
	state.RTO = result.Duration
	err = r.step(ctx, contract.StepResumeSyncs, func() (string, error) {
		return fmt.Sprintf("%s: the source is active again; syncs resume %s → %s", contract.StateFailedBack, t.Source.Name, t.Destination.Name),
			recordState(ctx, state)
	})
	return r.failbackResult(result), err
}

// replicateBack copies DR into the source as one step.
func (r *recoveryRun) replicateBack(ctx workflow.Context, ref contract.ObjectRef, trigger, why string) (string, error) {
	var id string
	err := r.step(ctx, contract.StepReplicateBack, func() (string, error) {
		var res contract.ReplicationResult
		var err error
		id, res, err = syncRun(ctx, contract.ReplicationInput{Replication: ref, Trigger: trigger, Direction: contract.DirectionReverse})
		return fmt.Sprintf("%s (%s): %d PVCs copied back", id, why, len(res.PVCs)), err
	})
	return id, err
}

// settleFailback leaves one side running after a failure or cancel: the
// source, finishing its scale-up, once the cutover began; else DR, scaled
// back up if it had been stopped.
func (r *recoveryRun) settleFailback(ctx workflow.Context, state contract.FailoverState, src, dr contract.WorkloadsInput,
	drStopped, cutoverBegan bool, cause error) {
	state.CompletedAt = workflow.Now(ctx)
	switch {
	case cutoverBegan:
		_, _ = r.scale(ctx, contract.StepScaleUpSource, recoveryActivities.RestoreSource, src)
		state.ActiveSide, state.State = contract.SideSource, contract.StateFailedBack
		state.Message = "the source's scale-up had begun, so it was finished: " + errorMessage(cause)
	default:
		if drStopped {
			_, _ = r.scale(ctx, contract.StepScaleUpDR, recoveryActivities.ScaleUpCopies, dr)
		}
		state.State = contract.StateFailedOver
		state.Message = "failback stopped, DR keeps running: " + errorMessage(cause)
	}
	_ = r.step(ctx, contract.StepRecordState, func() (string, error) { return state.State, recordState(ctx, state) })
}

func (r *recoveryRun) failbackResult(res contract.FailbackResult) contract.FailbackResult {
	res.Steps = r.steps()
	return res
}
