package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

// Replication is one sync run: resolve the Replication, then fan out one
// PVCSync child per PVC, at most concurrentSyncs at a time.
func Replication(ctx workflow.Context, in contract.ReplicationInput) (contract.ReplicationResult, error) {
	info := workflow.GetInfo(ctx)
	progress := contract.ReplicationProgress{Phase: contract.PhaseResolve,
		RunID: info.WorkflowExecution.RunID, Start: info.WorkflowStartTime}
	if err := workflow.SetQueryHandler(ctx, contract.ProgressQuery, func() (contract.ReplicationProgress, error) { return progress, nil }); err != nil {
		return contract.ReplicationResult{}, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, contract.AttrReplication.ValueSet(in.Replication.String())); err != nil {
		return contract.ReplicationResult{}, err
	}
	header := fmt.Sprintf("**Replication:** %s (trigger %s)\n\n", in.Replication, in.Trigger)
	show := func() { showRunProgress(ctx, header, &progress) }
	show()
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 5},
	})
	var plans *activities.PlanActivities
	var plan contract.ReplicationPlan
	req := contract.PlanRequest{Replication: in.Replication, Direction: in.Direction, DrillNamespace: in.DrillNamespace, Trigger: in.Trigger}
	if err := workflow.ExecuteActivity(step(short, "resolve Replication "+in.Replication.String()), plans.ResolveReplication, req).Get(ctx, &plan); err != nil {
		return contract.ReplicationResult{}, err
	}
	header = fmt.Sprintf("**Replication:** %s: %s (trigger %s)\n\n", in.Replication, planRoute(plan), in.Trigger)
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		contract.AttrSourceCluster.ValueSet(plan.Source.Name), contract.AttrNamespace.ValueSet(plan.SourceNamespace)); err != nil {
		return contract.ReplicationResult{}, err
	}
	result := contract.ReplicationResult{Generation: plan.Generation}
	if plan.Direction == "" {
		// Only a forward run takes the accept-changes annotation; a
		// failback's acknowledgement is its own and must not mark a
		// person's pending value handled.
		result.AcceptChanges = plan.AcceptChanges
	}
	// Runs started before resource replication joined the run replay without it.
	if hasChange(ctx, changeReplicateResources) {
		progress.Phase = contract.PhaseResources
		show()
		resources, err := replicateResources(ctx, plan)
		result.Resources = resources
		if err != nil {
			return result, resourcesFailed(ctx, err, result)
		}
	}
	if plan.Spec.PVCConfig.SyncData {
		progress.Phase = contract.PhaseListPVCs
		show()
		var pvcs *pvcdata.PVCActivities
		var list contract.PVCList
		if err := workflow.ExecuteActivity(step(short, "list PVCs of "+plan.Source.Name+"/"+plan.SourceNamespace), pvcs.ListPVCs, contract.ListPVCsInput{
			Cluster: plan.Source, Namespace: plan.SourceNamespace,
			Destination: plan.Destination, DestinationNamespace: plan.DestinationNamespace,
		}).Get(ctx, &list); err != nil {
			return result, err
		}
		result.SkippedPVCs = list.Skipped
		progress.Phase = contract.PhaseSyncPVCs
		result.PVCs = syncPVCs(ctx, plan, list.Names, &progress, show)
	}
	progress.Phase = contract.PhaseDone
	show()
	if err := ctx.Err(); err != nil {
		// Cancelled (the Replication was deleted, or a user cancelled the run):
		// the run ends Canceled, not Failed, once its PVC syncs have cleaned up.
		return result, err
	}
	if result.Failed() > 0 || result.Held() != "" {
		return result, temporal.NewNonRetryableApplicationError(failureSummary(result), result.FailureType(), nil, result)
	}
	return result, nil
}

// changeReplicateResources is the GetVersion change ID of adding the
// resource replication child to a run.
const changeReplicateResources = "2026-11-22-replicate-resources"

// replicateResources runs the ReplicateResources child; its result comes back
// even when it fails, from the error details.
func replicateResources(ctx workflow.Context, plan contract.ReplicationPlan) (*contract.ResourcesResult, error) {
	childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:          workflow.GetInfo(ctx).WorkflowExecution.ID + "/resources",
		ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			contract.AttrReplication.ValueSet(plan.Replication.String()), contract.AttrSourceCluster.ValueSet(plan.Source.Name),
			contract.AttrNamespace.ValueSet(plan.SourceNamespace)),
		StaticSummary: "Kubernetes objects " + planRoute(plan),
	})
	var res contract.ResourcesResult
	err := workflow.ExecuteChildWorkflow(childCtx, contract.ReplicateResourcesName, plan).Get(ctx, &res)
	var appErr *temporal.ApplicationError
	if err != nil && errors.As(err, &appErr) && appErr.HasDetails() {
		_ = appErr.Details(&res)
	}
	return &res, err
}

// resourcesFailed is the run's error when its ReplicateResources child
// failed: the child's error type and message, with the run's result as
// details, so per-object status reaches the Replication's status. A
// cancelled run stays cancelled.
func resourcesFailed(ctx workflow.Context, err error, result contract.ReplicationResult) error {
	var appErr *temporal.ApplicationError
	if ctx.Err() != nil || !errors.As(err, &appErr) {
		return err
	}
	msg := failureSummary(result)
	if msg == "" {
		msg = appErr.Message()
	}
	return temporal.NewNonRetryableApplicationError(msg, appErr.Type(), nil, result)
}

// failureSummary says what failed in a run, in one line for the Synced condition.
func failureSummary(r contract.ReplicationResult) string {
	var parts []string
	if g := r.Resources; g != nil && g.DeletionGuard != nil && g.DeletionGuard.Held != "" {
		parts = append(parts, "DeletionGuard: "+g.DeletionGuard.Held)
	}
	if r.Resources != nil && r.Resources.Failed > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d objects failed", r.Resources.Failed, r.Resources.Total)+firstFailure(r.Resources))
	}
	var pvcs []string
	for _, p := range r.PVCs {
		if p.Error != "" {
			pvcs = append(pvcs, p.PVC+": "+p.Error)
		}
	}
	if len(pvcs) > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d PVC syncs failed: %s", len(pvcs), len(r.PVCs), strings.Join(pvcs, "; ")))
	}
	return strings.Join(parts, "; ")
}

// firstFailure names the first failed object and why, so the one-line
// summary says what to look at.
func firstFailure(r *contract.ResourcesResult) string {
	for _, o := range r.Resources {
		if o.State == contract.StateFailed {
			return ", first " + strings.TrimSpace(o.Kind+" "+o.Name) + ": " + o.Error
		}
	}
	return ""
}

// syncPVCs runs one PVCSync child per PVC, at most concurrentSyncs of them
// short of their final cleanup, and records every outcome; one PVC's
// failure does not stop the rest.
// show is called after every change of progress, for the Web UI.
func syncPVCs(ctx workflow.Context, plan contract.ReplicationPlan, names []string, progress *contract.ReplicationProgress, show func()) []contract.PVCOutcome {
	limit := int(plan.Spec.PVCConfig.DataSyncConfig.ConcurrentSyncs)
	if limit < 1 {
		limit = 1
	}
	outcomes := make([]contract.PVCOutcome, len(names))
	progress.PVCsTotal = len(names)
	selector := workflow.NewSelector(ctx)
	// The children's progress reports arrive as signals; receiving them
	// adds no command, so runs recorded before them replay unchanged.
	reports := workflow.GetSignalChannel(ctx, contract.SignalPVCProgress)
	// busy counts the syncs that hold one of the run's concurrentSyncs
	// slots; progress.Running names those not yet closed. A sync's slot
	// frees once it reports its final cleanup: the next PVC's pods start
	// while its pods go, and the cluster-wide permit, released only after
	// the cleanup, still bounds the pods at once. Runs started before this
	// free it at the close.
	busy, next := 0, 0
	freeAtCleanup := hasChange(ctx, changeSlotFreeAtCleanup)
	freed := map[string]bool{}
	free := func(pvc string) {
		if !freed[pvc] {
			freed[pvc] = true
			busy--
		}
	}
	// Runs planned without batched pods, and those started before them,
	// start no batcher and replay unchanged.
	var batches *batcher
	if plan.DataPlane.BatchPods && hasChange(ctx, changeBatchedPods) {
		batches = newBatcher(plan, limit, selector)
		batches.staging = hasChange(ctx, changeStagedBatches)
		batches.freeOnMoverDone = hasChange(ctx, changeFreeOnMoverDone)
		batches.moverRoom = hasChange(ctx, changeMoverRoom)
		// Only the query's answer changes: no command, so recorded runs replay.
		batches.moving = func(pvc string) {
			progress.Report(contract.PVCProgressUpdate{PVC: pvc, Phase: contract.PhaseTransfer}, workflow.Now(ctx))
			show()
		}
	}
	selector.AddReceive(reports, func(c workflow.ReceiveChannel, _ bool) {
		var u contract.PVCProgressUpdate
		c.Receive(ctx, &u)
		progress.Report(u, workflow.Now(ctx))
		if batches != nil {
			batches.report(ctx, u)
		}
		if _, started := freed[u.PVC]; started && freeAtCleanup && u.Phase == contract.PhaseCleanup {
			free(u.PVC)
		}
		show()
	})
	// Runs without a cluster-wide bound, and those started before run
	// permits, keep none: each sync asks for its own.
	var permits *runPermits
	if plan.DataPlane.GlobalConcurrencyLimit > 0 && hasChange(ctx, changeRunPermits) {
		permits = newRunPermits(ctx, plan, selector)
	}
	slots := newSlotMetrics(ctx, plan.Replication)
	start := func(i int) {
		slots.started()
		in := pvcSyncInput(plan, names[i])
		in.ReportProgress = true
		in.Batch = batches != nil
		in.PermitHeld = permits != nil
		id := contract.PVCSyncWorkflowID(plan.Source.Name, plan.SourceNamespace, names[i])
		outcomes[i] = contract.PVCOutcome{PVC: names[i], WorkflowID: id}
		childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:            id,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			// Cancelling the run cancels its PVC syncs, and waits for their cleanup.
			ParentClosePolicy:   enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
			WaitForCancellation: true,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				contract.AttrReplication.ValueSet(plan.Replication.String()), contract.AttrSourceCluster.ValueSet(plan.Source.Name),
				contract.AttrNamespace.ValueSet(plan.SourceNamespace), contract.AttrPVC.ValueSet(names[i])),
			StaticSummary: fmt.Sprintf("PVC sync %s", pvcRoute(in)),
			StaticDetails: fmt.Sprintf("**PVC:** %s\n\n**Replication:** %s\n\n**Run:** %s",
				pvcRoute(in), plan.Replication, workflow.GetInfo(ctx).WorkflowExecution.ID),
		})
		busy++
		freed[names[i]] = false
		if batches != nil {
			batches.started(names[i], id)
		}
		progress.Running = append(progress.Running, names[i])
		progress.PVCs = append(progress.PVCs, contract.PVCRunProgress{PVC: names[i], WorkflowID: id,
			Phase: contract.PhaseDiscover, UpdatedAt: workflow.Now(ctx)})
		show()
		selector.AddFuture(workflow.ExecuteChildWorkflow(childCtx, contract.PVCSyncName, in), func(f workflow.Future) {
			free(names[i])
			permits.giveBack(ctx, names[i])
			if batches != nil {
				batches.leave(ctx, names[i])
			}
			progress.Running = remove(progress.Running, names[i])
			progress.Finished(names[i])
			var r contract.PVCSyncResult
			if err := f.Get(ctx, &r); err != nil {
				outcomes[i].Error, outcomes[i].ErrorType = childError(err, id)
				progress.PVCsFailed++
			} else {
				outcomes[i].Result = &r
			}
			progress.PVCsDone++
			// Only the query's answer changes: no command, so recorded runs replay.
			progress.Ended = append(progress.Ended, contract.EndOf(outcomes[i]))
			progress.Percent = 100 * progress.PVCsDone / len(names)
			show()
		})
	}
	// With batched pods, concurrentSyncs bounds the syncs moving data (the
	// batcher places joins within it), and as many more may prepare.
	room := func() int { return limit - busy }
	if batches != nil {
		room = func() int { return limit - batches.preparing() }
	}
	for next < len(names) || len(progress.Running) > 0 {
		for room() > 0 && next < len(names) && permits.take(ctx, names[next]) {
			start(next)
			next++
		}
		permits.settle(ctx, min(room(), len(names)-next), len(names)-next)
		slots.waiting(len(names) - next)
		selector.Select(ctx)
		if batches != nil {
			batches.form(ctx)
		}
	}
	slots.waiting(0)
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if batches != nil {
		// Every sync has ended, so every batch is deleting its pods; also
		// in a cancelled run, the run ends only after that.
		_ = workflow.Await(dctx, func() bool { return batches.open == 0 })
	}
	// Every sync has closed, after its cleanup: the permits go back.
	permits.releaseAll(dctx)
	// Reports of finished syncs may still be queued: take them, so the run
	// completes with no signal left unhandled; they change nothing.
	var late contract.PVCProgressUpdate
	for reports.ReceiveAsync(&late) {
	}
	return outcomes
}

// changeSlotFreeAtCleanup is the GetVersion change ID of freeing a PVC
// sync's concurrentSyncs slot when it reports its final cleanup rather
// than when it closes.
const changeSlotFreeAtCleanup = "2026-12-05-slot-free-at-cleanup"

// changeBatchedPods is the GetVersion change ID of a run whose PVC syncs
// join batches (contract.DataPlane.BatchPods).
const changeBatchedPods = "2026-12-06-batched-pods"

// pvcSyncInput derives one PVC's sync from the replication plan.
func pvcSyncInput(plan contract.ReplicationPlan, pvc string) contract.PVCSyncInput {
	pc := plan.Spec.PVCConfig
	in := contract.PVCSyncInput{
		Replication:          plan.Replication,
		Source:               contract.PVCRef{Cluster: plan.Source, Namespace: plan.SourceNamespace, Name: pvc},
		Destination:          plan.Destination,
		DestinationNamespace: plan.DestinationNamespace,
		CreateNamespace:      plan.Spec.NamespaceConfig.CreateNamespace,
		PreserveVolumeAttrs:  pc.PreserveVolumeAttributes,
		DataSync:             plan.DataSync,
		Image:                plan.DataPlane.Image,
		AgentPort:            plan.DataPlane.AgentPort,
		ClusterKey:           plan.DataPlane.ClusterKey,
		AgentHostKey:         plan.DataPlane.AgentHostKey,
		Retry:                plan.DataPlane.Retry,
		FailureMode:          plan.Spec.FailureHandling.DataSyncFailure,

		GlobalConcurrencyLimit: plan.DataPlane.GlobalConcurrencyLimit,
		AcceptChanges:          plan.AcceptChanges != "",
		Direction:              plan.Direction,
		PointInTime: contract.PointInTime{CopyMethod: pc.DataSyncConfig.CopyMethod,
			VolumeSnapshotClassName: pc.DataSyncConfig.VolumeSnapshotClassName,
			Hooks:                   pc.DataSyncConfig.Hooks, RestorePoints: pc.RestorePoints},
	}
	for _, m := range pc.StorageClassMappings {
		if in.StorageClassMappings == nil {
			in.StorageClassMappings = map[string]string{}
		}
		in.StorageClassMappings[m.From] = m.To
	}
	for _, m := range pc.AccessModeMappings {
		if in.AccessModeMappings == nil {
			in.AccessModeMappings = map[string]string{}
		}
		in.AccessModeMappings[m.From] = m.To
	}
	return in
}

// childError says why a PVC sync failed, and its error type, naming the
// lock holder when another sync of the same PVC was already running.
func childError(err error, id string) (message, errType string) {
	var started *temporal.ChildWorkflowExecutionAlreadyStartedError
	if errors.As(err, &started) {
		return fmt.Sprintf("another sync of this PVC is running (workflow %s); this run left it alone", id), ""
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Error(), appErr.Type()
	}
	return err.Error(), ""
}

func remove(list []string, s string) []string {
	out := list[:0]
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	return out
}
