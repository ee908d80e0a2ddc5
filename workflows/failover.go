package workflows

import (
	"cmp"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/contract"
)

// Failover moves a Replication's workloads to DR. Planned (the source
// answers): pause syncs, sync one last time, stop the source's workloads.
// Unplanned (a person says the source is lost, or it does not answer):
// pause syncs and skip every source step. Then, in DR: scale the copies up,
// resume CronJobs and wait until every workload is Ready.
//
// It never leaves both sides down. Until DR's scale-up begins, a failure or
// a cancel puts the source's workloads back and resumes syncs; once it has
// begun, the scale-up is finished and DR stays active.
func Failover(ctx workflow.Context, in contract.FailoverInput) (result contract.FailoverResult, err error) {
	r, err := newRecoveryRun(ctx, in.Replication)
	if err != nil {
		return result, err
	}
	t, err := r.locate(ctx, in.Replication)
	if err != nil {
		return r.failoverResult(result), err
	}
	if t.ActiveSide == contract.SideDestination {
		return r.failoverResult(result), temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"Replication %s is already failed over to %s/%s; run drsyncer failback %s first", in.Replication, t.Destination.Name,
			t.DestinationNamespace, in.Replication), contract.ErrTypeAlreadyFailedOver, nil)
	}
	result.Mode, result.DataAsOf = r.failoverMode(ctx, in, t)
	why := ""
	if result.Mode == contract.FailoverUnplanned {
		why = r.progress.Steps[len(r.progress.Steps)-1].Detail
	}
	state := contract.FailoverState{Replication: in.Replication, ActiveSide: contract.SideSource, State: contract.StateFailingOver,
		WorkflowID: r.id, Mode: result.Mode, Message: why, StartedAt: r.started}
	if err := r.step(ctx, contract.StepRecordState, func() (string, error) { return contract.StateFailingOver, recordState(ctx, state) }); err != nil {
		return r.failoverResult(result), err
	}

	src := contract.WorkloadsInput{Cluster: t.Source, Namespace: t.SourceNamespace, Operation: r.id}
	dr := contract.WorkloadsInput{Cluster: t.Destination, Namespace: t.DestinationNamespace, Operation: r.id, Replicas: in.Replicas}
	scaleUpBegan := false
	defer func() {
		if err == nil {
			return
		}
		// A failure or cancel: leave one side running, whichever it is.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		result = r.settleFailover(dctx, state, src, dr, scaleUpBegan, err, result)
	}()

	sourceStopped := r.started
	if err := r.pauseSyncs(ctx, t, result.Mode); err != nil {
		return r.failoverResult(result), err
	}
	if result.Mode == contract.FailoverPlanned {
		if result.FinalSync, result.DataAsOf, err = r.finalSync(ctx, in.Replication); err != nil {
			return r.failoverResult(result), err
		}
		if result.SourceScales, err = r.scale(ctx, contract.StepScaleDownSource, recoveryActivities.ScaleDownSource, src); err != nil {
			return r.failoverResult(result), err
		}
		if err := r.wait(ctx, contract.StepWaitSourceStopped, contract.WaitReadyInput{Cluster: t.Source, Namespace: t.SourceNamespace,
			Workloads: result.SourceScales}, contract.DefaultScaleDownLimit); err != nil {
			return r.failoverResult(result), err
		}
		sourceStopped = workflow.Now(ctx)
	} else {
		r.skip(ctx, contract.StepFinalSync, "source unreachable: DR keeps the data of the last sync")
		r.skip(ctx, contract.StepScaleDownSource, "source unreachable: its workloads could not be stopped; stop them before it comes back, or run drsyncer failback, which stops them first")
	}
	if in.FromRestorePoints {
		var asOf time.Time
		if result.Restored, asOf, err = r.restoreFromPoints(ctx, t, result.Mode); err != nil {
			return r.failoverResult(result), err
		}
		if !asOf.IsZero() {
			result.DataAsOf = asOf // DR now holds the restore points' data
		}
	}

	scaleUpBegan = true
	if result.DRScales, err = r.scale(ctx, contract.StepScaleUpDR, recoveryActivities.ScaleUpCopies, dr); err != nil {
		return r.failoverResult(result), err
	}
	limit := cmp.Or(in.ReadyTimeout, contract.DefaultReadyTimeout)
	if err := r.wait(ctx, contract.StepWaitReady, contract.WaitReadyInput{Cluster: t.Destination, Namespace: t.DestinationNamespace,
		Workloads: result.DRScales}, limit); err != nil {
		return r.failoverResult(result), err
	}
	now := workflow.Now(ctx)
	result.RTO = now.Sub(r.started)
	if !result.DataAsOf.IsZero() {
		result.DataAge = max(0, sourceStopped.Sub(result.DataAsOf))
	}
	state.ActiveSide, state.State, state.CompletedAt = contract.SideDestination, contract.StateFailedOver, now
	state.RTO, state.DataAge = result.RTO, result.DataAge
	err = r.step(ctx, contract.StepRecordState, func() (string, error) {
		return fmt.Sprintf("%s: RTO %s, data age %s", contract.StateFailedOver, result.RTO.Round(100*time.Millisecond), result.DataAge.Round(100*time.Millisecond)), recordState(ctx, state)
	})
	return r.failoverResult(result), err
}

// probeTimeout bounds one try to reach the source; a source that does not
// answer in it is taken as lost.
const probeTimeout = 15 * time.Second

// syncIdleLimit bounds the wait for a running sync to end before a
// failover goes on.
const syncIdleLimit = 6 * time.Hour

// lostSourceIdleLimit bounds the wait for cancelled syncs in an unplanned
// failover.
const lostSourceIdleLimit = 2 * time.Minute

// failoverMode decides Planned or Unplanned, as a step that says why.
func (r *recoveryRun) failoverMode(ctx workflow.Context, in contract.FailoverInput, t contract.RecoveryTarget) (string, time.Time) {
	if in.SourceUnreachable {
		r.skip(ctx, contract.StepProbeSource, "unplanned: a person declared the source unreachable (--source-unreachable); every source step is skipped")
		return contract.FailoverUnplanned, t.DataAsOf
	}
	probe := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: probeTimeout, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 2},
	})
	mode := contract.FailoverPlanned
	_ = r.step(ctx, contract.StepProbeSource, func() (string, error) {
		err := workflow.ExecuteActivity(probe, recoveryActivities.ProbeCluster, t.Source).Get(ctx, nil)
		if err == nil {
			return fmt.Sprintf("source %s answers: planned failover", t.Source.Name), nil
		}
		mode = contract.FailoverUnplanned
		return "unplanned: " + strings.TrimSpace(errorMessage(err)+" "+t.SourceProblem) + "; every source step is skipped", nil
	})
	return mode, t.DataAsOf
}

// pauseSyncs stops new syncs, then waits for a running one to end: its
// data is worth having, and it must not write DR while DR takes over. An
// unplanned failover cancels a running sync instead, and waits only a
// little for its cleanup: without its source it can write nothing to DR.
func (r *recoveryRun) pauseSyncs(ctx workflow.Context, t contract.RecoveryTarget, mode string) error {
	return r.step(ctx, contract.StepPauseSyncs, func() (string, error) {
		short := shortOptions(ctx)
		if err := workflow.ExecuteActivity(short, recoveryActivities.PauseSyncs, t).Get(ctx, nil); err != nil {
			return "", err
		}
		if mode == contract.FailoverPlanned {
			err := workflow.ExecuteActivity(waitOptions(ctx, syncIdleLimit), recoveryActivities.WaitSyncsIdle, t).Get(ctx, nil)
			return fmt.Sprintf("%s syncs paused; no sync running", t.Mode), err
		}
		var asked []string
		if err := workflow.ExecuteActivity(short, recoveryActivities.CancelSyncs, t).Get(ctx, &asked); err != nil {
			return "", err
		}
		if len(asked) == 0 {
			return fmt.Sprintf("%s syncs paused; no sync running", t.Mode), nil
		}
		err := workflow.ExecuteActivity(waitOptions(ctx, lostSourceIdleLimit), recoveryActivities.WaitSyncsIdle, t).Get(ctx, nil)
		if err != nil && !cancelled(ctx) {
			return fmt.Sprintf("%s syncs paused; cancelled %s, still cleaning up against the lost source: going on", t.Mode, strings.Join(asked, ", ")), nil
		}
		return fmt.Sprintf("%s syncs paused; cancelled %s", t.Mode, strings.Join(asked, ", ")), err
	})
}

// finalSync runs the planned failover's last sync; DR then holds the
// source's data as of its start.
func (r *recoveryRun) finalSync(ctx workflow.Context, ref contract.ObjectRef) (id string, asOf time.Time, err error) {
	asOf = workflow.Now(ctx)
	err = r.step(ctx, contract.StepFinalSync, func() (string, error) {
		var res contract.ReplicationResult
		var err error
		id, res, err = syncRun(ctx, contract.ReplicationInput{Replication: ref, Trigger: contract.RecoveryTrigger("failover", r.id)})
		if err != nil && !cancelled(ctx) {
			err = temporal.NewNonRetryableApplicationError(fmt.Sprintf("final sync %s failed, so nothing was stopped: %s; fix it and fail over again, or fail over with --source-unreachable to use the last synced data",
				id, errorMessage(err)), contract.ErrTypeFinalSyncFailed, err)
		}
		return fmt.Sprintf("%s: %d PVCs synced", id, len(res.PVCs)), err
	})
	return id, asOf, err
}

// settleFailover leaves one side running after a failure or cancel: DR,
// finishing its scale-up, once that began; else the source, with its
// workloads put back and syncs resumed.
func (r *recoveryRun) settleFailover(ctx workflow.Context, state contract.FailoverState, src, dr contract.WorkloadsInput,
	scaleUpBegan bool, cause error, result contract.FailoverResult) contract.FailoverResult {
	state.CompletedAt = workflow.Now(ctx)
	if scaleUpBegan {
		if changes, err := r.scale(ctx, contract.StepScaleUpDR, recoveryActivities.ScaleUpCopies, dr); err == nil {
			result.DRScales = changes
		}
		state.ActiveSide, state.State = contract.SideDestination, contract.StateFailedOver
		state.Message = "DR's scale-up had begun, so it was finished: " + errorMessage(cause)
	} else {
		if result.Mode == contract.FailoverPlanned {
			_, _ = r.scale(ctx, contract.StepRestoreSource, recoveryActivities.RestoreSource, src)
		}
		state.State = contract.StateFailoverCanceled
		state.Message = "the source keeps running and syncs resume: " + errorMessage(cause)
	}
	_ = r.step(ctx, contract.StepRecordState, func() (string, error) { return state.State, recordState(ctx, state) })
	return r.failoverResult(result)
}

func (r *recoveryRun) failoverResult(res contract.FailoverResult) contract.FailoverResult {
	res.Steps = r.steps()
	return res
}
