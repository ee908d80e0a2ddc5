package workflows

import (
	"cmp"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/activities/pointintime"
	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

// Drill proves the DR copy can run, without touching it or pausing
// replication: it copies the DR namespace's objects into a scratch
// namespace of the DR cluster, makes each PVC there from its newest restore
// point (or, without one, copies the live DR copy), scales the workloads up,
// waits for Ready, runs the check, records the RTO and data age, and
// deletes the scratch namespace. Cancelling it tears down what it made.
func Drill(ctx workflow.Context, in contract.DrillInput) (result contract.DrillResult, err error) {
	r, err := newRecoveryRun(ctx, in.Replication)
	if err != nil {
		return result, err
	}
	t, err := r.locate(ctx, in.Replication)
	if err != nil {
		return r.drillResult(result), err
	}
	result.Namespace = cmp.Or(in.Namespace, contract.DrillNamespace(t.DestinationNamespace, r.id))
	scratch := contract.WorkloadsInput{Cluster: t.Destination, Namespace: result.Namespace, Operation: r.id}
	if err := r.step(ctx, contract.StepCreateScratch, func() (string, error) {
		return fmt.Sprintf("namespace %s in %s", scratch.Namespace, scratch.Cluster.Name),
			workflow.ExecuteActivity(shortOptions(ctx), recoveryActivities.CreateScratchNamespace, scratch).Get(ctx, nil)
	}); err != nil {
		return r.drillResult(result), err
	}
	defer func() {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		report := contract.DrillReport{Replication: in.Replication, WorkflowID: r.id, Namespace: result.Namespace, Result: "Succeeded",
			CompletedAt: workflow.Now(dctx), RTO: result.RTO, DataAge: result.DataAge}
		if err != nil {
			report.Result, report.Message = "Failed", errorMessage(err)
		}
		_ = workflow.ExecuteActivity(shortOptions(dctx), recoveryActivities.RecordDrill, report).Get(dctx, nil)
		if in.Keep {
			r.skip(dctx, contract.StepTeardown, "kept as asked (--keep): delete namespace "+result.Namespace+" when done")
		} else {
			result.TornDown = r.step(dctx, contract.StepTeardown, func() (string, error) {
				return "deleted namespace " + result.Namespace, workflow.ExecuteActivity(waitOptions(dctx, 10*time.Minute),
					recoveryActivities.DeleteScratchNamespace, scratch).Get(dctx, nil)
			}) == nil
		}
		result = r.drillResult(result)
	}()

	plan, err := r.copyObjects(ctx, in.Replication, result.Namespace)
	if err != nil {
		return result, err
	}
	if result.PVCs, result.DataAsOf, err = r.copyPVCs(ctx, plan, t); err != nil {
		return result, err
	}
	if result.Workloads, err = r.scale(ctx, contract.StepScaleUpDR, recoveryActivities.ScaleUpCopies, scratch); err != nil {
		return result, err
	}
	if err := r.wait(ctx, contract.StepWaitReady, contract.WaitReadyInput{Cluster: scratch.Cluster, Namespace: scratch.Namespace,
		Workloads: result.Workloads}, cmp.Or(in.ReadyTimeout, contract.DefaultReadyTimeout)); err != nil {
		return result, err
	}
	ready := workflow.Now(ctx)
	result.RTO = ready.Sub(r.started)
	if !result.DataAsOf.IsZero() {
		result.DataAge = ready.Sub(result.DataAsOf)
	}
	if in.Check == nil {
		r.skip(ctx, contract.StepCheck, "no check command given")
		return result, nil
	}
	return result, r.check(ctx, scratch, *in.Check)
}

// copyObjects copies the DR namespace's objects into the scratch namespace,
// workloads at zero, through the same child as every sync.
func (r *recoveryRun) copyObjects(ctx workflow.Context, ref contract.ObjectRef, namespace string) (contract.ReplicationPlan, error) {
	var plan contract.ReplicationPlan
	err := r.step(ctx, contract.StepCopyObjects, func() (string, error) {
		var plans *activities.PlanActivities
		if err := workflow.ExecuteActivity(shortOptions(ctx), plans.ResolveReplication, contract.PlanRequest{
			Replication: ref, Direction: contract.DirectionDrill, DrillNamespace: namespace,
		}).Get(ctx, &plan); err != nil {
			return "", err
		}
		res, err := replicateResources(ctx, plan)
		return fmt.Sprintf("%d objects copied, %d failed", res.Synced, res.Failed), err
	})
	return plan, err
}

// copyPVCs makes each DR PVC's drill copy: from its newest restore point,
// or by copying the live DR copy when it has none. It returns where each
// came from and the oldest data among them.
func (r *recoveryRun) copyPVCs(ctx workflow.Context, plan contract.ReplicationPlan, t contract.RecoveryTarget) (map[string]string, time.Time, error) {
	from := map[string]string{}
	var asOf time.Time
	err := r.step(ctx, contract.StepCopyPVCs, func() (string, error) {
		var pvcs *pvcdata.PVCActivities
		var list contract.PVCList
		if err := workflow.ExecuteActivity(shortOptions(ctx), pvcs.ListPVCs, contract.ListPVCsInput{
			Cluster: plan.Source, Namespace: plan.SourceNamespace, Destination: plan.Destination, DestinationNamespace: plan.DestinationNamespace,
		}).Get(ctx, &list); err != nil {
			return "", err
		}
		var snaps *pointintime.SnapshotActivities
		var points []contract.RestorePoint
		if err := workflow.ExecuteActivity(shortOptions(ctx), snaps.ListRestorePoints, contract.ListRestorePointsInput{
			Cluster: t.Destination, Namespace: t.DestinationNamespace, Replication: t.Replication.String(),
		}).Get(ctx, &points); err != nil {
			return "", err
		}
		newest := newestPoints(points)
		futures := map[string]workflow.ChildWorkflowFuture{}
		for _, pvc := range list.Names {
			childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
				ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL, WaitForCancellation: true,
				TypedSearchAttributes: temporal.NewSearchAttributes(contract.AttrReplication.ValueSet(t.Replication.String()), contract.AttrPVC.ValueSet(pvc)),
			})
			if p, ok := newest[pvc]; ok {
				from[pvc] = "restore point " + p.Name
				asOf = oldest(asOf, p.CopiedAt)
				childCtx = workflow.WithWorkflowID(childCtx, contract.RestoreWorkflowID(t.Replication.Namespace, t.Replication.Name, pvc, contract.RecoveryTrigger("drill", r.id)))
				futures[pvc] = workflow.ExecuteChildWorkflow(childCtx, contract.RestoreName, contract.RestoreInput{
					Replication: t.Replication, PVC: pvc, Point: p.Name, ToNamespace: plan.DestinationNamespace, Name: pvc,
				})
				continue
			}
			from[pvc] = "copied from the live DR copy (no restore point)"
			asOf = oldest(asOf, t.DataAsOf)
			childCtx = workflow.WithWorkflowID(childCtx, contract.PVCSyncWorkflowID(plan.Source.Name, plan.SourceNamespace, pvc))
			futures[pvc] = workflow.ExecuteChildWorkflow(childCtx, contract.PVCSyncName, pvcSyncInput(plan, pvc))
		}
		var failed []string
		for _, pvc := range list.Names {
			if err := futures[pvc].Get(ctx, nil); err != nil {
				failed = append(failed, pvc+": "+errorMessage(err))
			}
		}
		if len(failed) > 0 {
			return "", temporal.NewNonRetryableApplicationError("drill copies failed: "+strings.Join(failed, "; "), contract.ErrTypeSyncFailed, nil)
		}
		return describeSources(from), nil
	})
	return from, asOf, err
}

// check runs the drill's check command in its Ready pods.
func (r *recoveryRun) check(ctx workflow.Context, scratch contract.WorkloadsInput, c contract.DrillCheck) error {
	return r.step(ctx, contract.StepCheck, func() (string, error) {
		selector, err := metav1.ParseToLabelSelector(c.Selector)
		if err != nil {
			return "", temporal.NewNonRetryableApplicationError(fmt.Sprintf("check selector %q: %v", c.Selector, err), contract.ErrTypeInvalidSpec, nil)
		}
		timeout := cmp.Or(c.Timeout, 5*time.Minute)
		var snaps *pointintime.SnapshotActivities
		var res contract.HookResult
		err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: timeout + time.Minute, RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
		}), snaps.RunHook, contract.HookInput{
			Source: contract.PVCRef{Cluster: scratch.Cluster, Namespace: scratch.Namespace}, Hook: "check", Selector: *selector,
			Container: c.Container, Command: contract.HookCommand{Command: c.Command, Timeout: contract.Duration(timeout.String())},
		}).Get(ctx, &res)
		if err != nil {
			err = temporal.NewNonRetryableApplicationError("drill check failed: "+errorMessage(err), contract.ErrTypeCheckFailed, err)
		}
		return fmt.Sprintf("%q passed in %s", strings.Join(c.Command, " "), strings.Join(res.Pods, ", ")), err
	})
}

// newestPoints is each DR PVC's newest restore point.
func newestPoints(points []contract.RestorePoint) map[string]contract.RestorePoint {
	newest := map[string]contract.RestorePoint{}
	for _, p := range points {
		if cur, ok := newest[p.PVC]; !ok || p.CopiedAt.After(cur.CopiedAt) {
			newest[p.PVC] = p
		}
	}
	return newest
}

// describeSources says where each PVC's drill copy came from, in name order.
func describeSources(from map[string]string) string {
	names := make([]string, 0, len(from))
	for pvc := range from {
		names = append(names, pvc)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, pvc := range names {
		parts[i] = pvc + " from " + from[pvc]
	}
	if len(parts) == 0 {
		return "no PVCs"
	}
	return strings.Join(parts, "; ")
}

// oldest is the earlier of two instants, ignoring zero.
func oldest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func (r *recoveryRun) drillResult(res contract.DrillResult) contract.DrillResult {
	res.Steps = r.steps()
	return res
}
