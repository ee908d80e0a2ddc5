package controller

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// execute carries out the plan against Temporal, recording in the plan's
// status what it started and when the Schedule runs next.
func (r *ReplicationReconciler) execute(ctx context.Context, repl *drv1.Replication, plan *replicationPlan) error {
	ref := refOf(repl)
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
