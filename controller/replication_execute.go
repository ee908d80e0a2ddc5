package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

// execute carries out the plan against Temporal, recording in the plan's
// status what it started and when the Schedule runs next. Failovers,
// failbacks and drills go first and on their own: a Schedule that cannot be
// updated must never hold up a failover.
func (r *ReplicationReconciler) execute(ctx context.Context, repl *drv1.Replication, plan *replicationPlan) error {
	ref := refOf(repl)
	var opErrs []error
	for _, req := range plan.Operations {
		run, err := r.startOperation(ctx, ref, req)
		opErrs = append(opErrs, plan.recordOperation(req, run, err))
	}
	return errors.Join(append(opErrs, r.executeSyncs(ctx, repl, plan))...)
}

// startOperation starts the workflow req asks for, with the defaults an
// annotation implies: a failover finds out itself whether the source answers.
func (r *ReplicationReconciler) startOperation(ctx context.Context, ref contract.ObjectRef, req operationRequest) (starter.StartedRun, error) {
	switch req.Kind {
	case contract.FailoverName:
		return r.Temporal.StartFailover(ctx, contract.FailoverInput{Replication: ref}, req.ID)
	case contract.FailbackName:
		return r.Temporal.StartFailback(ctx, contract.FailbackInput{Replication: ref}, req.ID)
	case contract.DrillName:
		return r.Temporal.StartDrill(ctx, contract.DrillInput{Replication: ref}, req.ID)
	}
	return starter.StartedRun{}, fmt.Errorf("unknown recovery operation %q", req.Kind)
}

// executeSyncs maintains the Schedule and starts a sync-now run.
func (r *ReplicationReconciler) executeSyncs(ctx context.Context, repl *drv1.Replication, plan *replicationPlan) error {
	ref := refOf(repl)
	if plan.Resumes {
		if err := r.checkNotFailedOver(ctx, repl); err != nil {
			return err
		}
	}
	if plan.DeleteSchedule || plan.EnsureSchedule != nil {
		r.schedules.forget(ref)
	}
	switch {
	case plan.DeleteSchedule:
		if err := r.Temporal.DeleteSchedule(ctx, ref); err != nil {
			return err
		}
	case plan.EnsureSchedule != nil:
		if err := r.Temporal.EnsureSchedule(ctx, ref, *plan.EnsureSchedule); err != nil {
			return err
		}
		next, err := r.Temporal.NextRunTime(ctx, ref)
		if err != nil {
			return err
		}
		plan.Status.NextSyncTime = timeOf(next)
	}
	if plan.StartTrigger == "" {
		return nil
	}
	run, err := r.Temporal.StartRun(ctx, ref, plan.StartTrigger)
	if err != nil {
		return err
	}
	plan.recordStarted(run, time.Now())
	return nil
}

// checkNotFailedOver re-reads the Replication past the cache before syncs
// resume. A failover writes status.failover and then pauses the Schedule; a
// reconcile that read the cache before that write, and the Schedule after
// the pause, would otherwise unpause it under the failover.
func (r *ReplicationReconciler) checkNotFailedOver(ctx context.Context, repl *drv1.Replication) error {
	if r.APIReader == nil {
		return nil
	}
	var live drv1.Replication
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(repl), &live); err != nil {
		return fmt.Errorf("re-read Replication %s/%s before resuming its syncs: %w", repl.Namespace, repl.Name, err)
	}
	if f := live.Status.Failover; live.Status.FailedOver() {
		return fmt.Errorf("replication %s/%s turned %s by %s while it was reconciled: syncs stay paused; reconciling again",
			repl.Namespace, repl.Name, f.State, f.WorkflowID)
	}
	return nil
}

// finalize cancels the Replication's open runs and deletes its Schedule, then
// lets the Replication go. What the runs wrote to the DR cluster stays: a
// deleted Replication must never take the DR copy with it.
func (r *ReplicationReconciler) finalize(ctx context.Context, repl *drv1.Replication) error {
	if !controllerutil.ContainsFinalizer(repl, Finalizer) {
		return nil
	}
	ref := refOf(repl)
	if r.Watches != nil {
		r.Watches.Stop(ref)
	}
	r.schedules.forget(ref)
	sched, err := r.Temporal.DescribeSchedule(ctx, ref)
	if err != nil {
		return err
	}
	// The Schedule goes first, so it starts nothing while runs are cancelled.
	if err := r.Temporal.DeleteSchedule(ctx, ref); err != nil {
		return err
	}
	// Runs known by ID are cancelled by ID, since visibility may not list them yet.
	var known []drv1.WorkflowRef
	if cur := repl.Status.CurrentRun; cur != nil {
		known = append(known, *cur)
	}
	if sched != nil {
		for _, run := range sched.Running {
			known = append(known, drv1.WorkflowRef{WorkflowID: run.WorkflowID, RunID: run.RunID})
		}
	}
	var cancelled []string
	for _, run := range known {
		if err := r.Temporal.CancelRun(ctx, run.WorkflowID, run.RunID); err != nil {
			return err
		}
		cancelled = append(cancelled, run.WorkflowID)
	}
	others, err := r.Temporal.Cancel(ctx, ref)
	if err != nil {
		return err
	}
	for _, id := range dedupe(append(cancelled, others...)) {
		r.Recorder.Eventf(repl, nil, "Normal", EventSyncCanceled, "Delete", "cancelled run %s: the Replication is being deleted", id)
	}
	controllerutil.RemoveFinalizer(repl, Finalizer)
	if err := r.Client.Update(ctx, repl); err != nil {
		return fmt.Errorf("remove finalizer from Replication %s/%s: %w", repl.Namespace, repl.Name, err)
	}
	return nil
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
