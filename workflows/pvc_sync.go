package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

// PVCSync copies one PVC's data from the source cluster into its DR PVC:
// discover → target PVC → copy source (the live volume, or a snapshot or
// clone of it) → nodes → credentials → mount pod → transfer → mark synced →
// restore point, and cleans up on success, failure and cancellation.
func PVCSync(ctx workflow.Context, in contract.PVCSyncInput) (result contract.PVCSyncResult, err error) {
	state := &syncState{PVCSyncProgress: contract.PVCSyncProgress{Phase: contract.PhaseDiscover}, pvc: in.Source.Name, route: pvcRoute(in)}
	if err := workflow.SetQueryHandler(ctx, contract.ProgressQuery, func() (contract.PVCSyncProgress, error) { return state.PVCSyncProgress, nil }); err != nil {
		return contract.PVCSyncResult{}, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		contract.AttrReplication.ValueSet(in.Replication.String()),
		contract.AttrSourceCluster.ValueSet(in.Source.Cluster.Name),
		contract.AttrNamespace.ValueSet(in.Source.Namespace),
		contract.AttrPVC.ValueSet(in.Source.Name),
	); err != nil {
		return contract.PVCSyncResult{}, err
	}
	state.reportToParent(ctx, in)
	info := workflow.GetInfo(ctx)
	op := contract.Operation{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID}
	cleanupIn := contract.CleanupInput{
		Op: op, Source: in.Source.Cluster, SourceNamespace: in.Source.Namespace,
		Destination: in.Destination, DestinationNamespace: in.DestinationNamespace,
	}
	var a *pvcdata.PVCActivities
	retry := RetryPolicy(in.Retry, in.FailureMode)
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retry})

	// Whatever a crashed earlier run of this sync left behind goes first,
	// and so do the batches an ended run left holding this sync's claims.
	state.show(ctx)
	left := "what earlier syncs of " + in.Source.String() + " left"
	leftovers := cleanupIn
	leftovers.Leftovers = true
	if _, err := cleanUp(ctx, leftovers, true, left, "clean up "+left); err != nil {
		return contract.PVCSyncResult{}, err
	}
	started := workflow.Now(ctx)
	defer func() { recordPVCSyncMetrics(ctx, in, result, err, workflow.Now(ctx).Sub(started)) }()
	var releasePermit func(workflow.Context)
	defer func() {
		// Runs on success, failure and cancellation alike; a cancelled
		// workflow's context is done, so cleanup gets a disconnected one.
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		state.enter(dctx, contract.PhaseCleanup)
		own := "this sync's pods and Secrets for " + in.Source.String()
		cleaned, cerr := cleanUp(dctx, cleanupIn, err == nil && ctx.Err() == nil, own, "delete "+own)
		if cerr != nil {
			workflow.GetLogger(ctx).Error("cleanup failed; objects labelled with the operation remain", "error", cerr)
		}
		state.Result.Cleanup = cleaned
		result.Cleanup = cleaned
		// The permit goes back only once this sync's pods are gone.
		if releasePermit != nil {
			releasePermit(dctx)
		}
	}()

	state.steps = newAPISteps(ctx, retry)
	if err := state.steps.run(ctx, "read source PVC "+in.Source.String(), a.Discover, in.Source).Get(ctx, &state.Result.Source); err != nil {
		return state.Result, err
	}

	state.enter(ctx, contract.PhaseTargetPVC)
	if err := state.steps.run(ctx, "DR PVC in "+in.Destination.Name+"/"+in.DestinationNamespace+" for "+in.Source.Name, a.EnsureTargetPVC, contract.TargetPVCInput{
		Source: in.Source, Destination: in.Destination, DestinationNamespace: in.DestinationNamespace,
		CreateNamespace: in.CreateNamespace, StorageClassMappings: in.StorageClassMappings,
		AccessModeMappings: in.AccessModeMappings, PreserveVolumeAttributes: in.PreserveVolumeAttrs,
		Replication: in.Replication.String(), Acknowledged: in.AcceptChanges, Direction: in.Direction,
	}).Get(ctx, &state.Result.Target); err != nil {
		return state.Result, err
	}

	// What the mount pod reads: the live source, or a point-in-time copy of it.
	readFrom, copiedAt := in.Source, time.Time{}
	pointInTime := hasChange(ctx, changePointInTime)
	if pointInTime {
		var err error
		if readFrom, copiedAt, err = prepareCopySource(ctx, in, op, retry, state); err != nil {
			return state.Result, err
		}
	}

	state.enter(ctx, contract.PhaseChooseNodes)
	// The DR claim's name is only in the activity's input, which replay
	// does not compare: recorded runs replay as they were.
	if err := state.steps.run(ctx, "choose nodes for "+readFrom.String(), a.ChooseNodes, contract.ChooseNodesInput{
		Source: readFrom, Destination: in.Destination, TargetStorageClass: state.Result.Target.StorageClass,
		TargetNamespace: state.Result.Target.Namespace, TargetName: state.Result.Target.Name,
	}).Get(ctx, &state.Result.Nodes); err != nil {
		return state.Result, err
	}

	// A batched sync makes its credentials only if it takes its own pods
	// (below, after transferInBatch, which every batched sync reaches);
	// the version is taken in batched syncs alone.
	late := in.Batch && state.parent != nil &&
		hasChange(ctx, changeBatchLateCredentials)
	var creds contract.Credentials
	if !late {
		state.enter(ctx, contract.PhaseCredentials)
		var err error
		if creds, err = ownCredentials(short, in, op); err != nil {
			return state.Result, err
		}
	}

	// Syncs started before the cluster-wide bound existed replay without it.
	if !in.PermitHeld && hasChange(ctx, changeGlobalConcurrency) && in.GlobalConcurrencyLimit > 0 {
		state.enter(ctx, contract.PhaseWaitPermit)
		if err := acquirePermit(ctx, in); err != nil {
			return state.Result, err
		}
		semaphore := contract.ClusterSemaphoreID(in.Source.Cluster)
		releasePermit = func(dctx workflow.Context) {
			_ = workflow.SignalExternalWorkflow(dctx, semaphore, "", contract.SignalRelease, op.WorkflowID).Get(dctx, nil)
		}
	}

	if !in.Batch { // a batched sync enters it only if it takes its own pods
		state.enter(ctx, contract.PhaseMountPod)
	}
	podOptions := workflow.ActivityOptions{
		StartToCloseTimeout: pvcdata.MountPodTimeout, HeartbeatTimeout: 30 * time.Second, RetryPolicy: retry,
		Summary: fmt.Sprintf("mount pod on %s for %s", state.Result.Nodes.Source.Node, readFrom),
	}
	mountIn := contract.MountPodInput{
		Op: op, PVC: readFrom, Node: state.Result.Nodes.Source.Node, Image: in.Image, Credentials: creds.Secret,
		Authority: authority(in),
	}
	if copiedAt.IsZero() { // Direct: the copy shows the source as the transfer reads it
		copiedAt = workflow.Now(ctx)
	}
	transferOptions := workflow.ActivityOptions{
		StartToCloseTimeout: time.Duration(in.DataSync.Timeout), // the resolver defaults it
		HeartbeatTimeout:    transferHeartbeatTimeout,
		RetryPolicy:         retry,
		Summary: fmt.Sprintf("rsync %s → %s/%s/%s on %s", in.Source, in.Destination.Name, in.DestinationNamespace,
			state.Result.Target.Name, state.Result.Nodes.Target.Node),
	}
	transferIn := contract.TransferInput{
		Op:           op,
		PVC:          contract.PVCRef{Cluster: in.Destination, Namespace: in.DestinationNamespace, Name: state.Result.Target.Name},
		Node:         state.Result.Nodes.Target.Node,
		Image:        in.Image,
		AgentAddr:    fmt.Sprintf("%s:%d", state.Result.Nodes.SourceAddress, in.AgentPort),
		Credentials:  creds.Secret,
		Config:       in.DataSync,
		Acknowledged: in.AcceptChanges,
		// Transfer issues the sync pod's certificate from these; only the
		// activity input changes, no command, so histories replay as before.
		ClusterKey:   &in.ClusterKey,
		AgentHostKey: &in.AgentHostKey,
		Authority:    authority(in),
		Progress:     state.progressTarget(),
	}
	// Syncs started before the pods started together replay one after the other.
	if hasChange(ctx, changeConcurrentPods) {
		transferIn.Target = mountIn.Target()
		// Transfer keeps the mount pod: one lost mid-transfer is created
		// again at once instead of each retry's mover waiting for it in
		// vain. Only here, where a cancelled transfer is waited for, so it
		// can never create a pod after the cleanup.
		transferIn.Mount = &mountIn
		podOptions.WaitForCancellation, transferOptions.WaitForCancellation = true, true
		nodes := state.Result.Nodes
		join := contract.BatchJoin{SourceNode: nodes.Source.Node, TargetNode: nodes.Target.Node, AttachLimit: nodes.AttachLimit, MoverRoom: nodes.MoverRoom,
			AgentAddr: transferIn.AgentAddr, ReadFrom: readFrom, Target: state.Result.Target.Name, Acknowledged: in.AcceptChanges, FollowsClaims: true}
		batched, err := transferInBatch(ctx, in, transferOptions, transferIn, join, state)
		if err != nil {
			return state.Result, err
		}
		if !batched {
			state.enter(ctx, contract.PhaseMountPod)
			if late { // under PhaseMountPod: the run keeps this sync's place
				if creds, err = ownCredentials(short, in, op); err != nil {
					return state.Result, err
				}
				mountIn.Credentials, transferIn.Credentials = creds.Secret, creds.Secret
			}
			if err := mountAndTransfer(ctx, podOptions, mountIn, transferOptions, transferIn, state); err != nil {
				return state.Result, err
			}
		}
	} else {
		var mount contract.MountPod
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, podOptions), a.EnsureMountPod, mountIn).Get(ctx, &mount); err != nil {
			return state.Result, err
		}
		state.enter(ctx, contract.PhaseTransfer)
		transferIn.Target = mount.Target
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, transferOptions), a.Transfer, transferIn).Get(ctx, &state.Result.Transfer); err != nil {
			return state.Result, err
		}
	}

	state.enter(ctx, contract.PhaseMarkSynced)
	marked := contract.MarkSyncedInput{
		Destination: in.Destination, Namespace: in.DestinationNamespace, Name: state.Result.Target.Name, At: workflow.Now(ctx),
	}
	if in.Direction == contract.DirectionReverse {
		// The target may be the original claim: MarkSynced reads the DR
		// copy to tell, and leaves an original unmarked.
		marked.Direction, marked.Source = in.Direction, &in.Source
	}
	if err := state.steps.run(ctx, "mark DR PVC "+marked.Namespace+"/"+marked.Name+" synced", a.MarkSynced, marked).Get(ctx, nil); err != nil {
		return state.Result, err
	}
	if pointInTime && in.PointInTime.RestorePoints.Keep > 0 {
		if err := keepRestorePoint(ctx, in, op, copiedAt, retry, state); err != nil {
			return state.Result, err
		}
	}
	state.Phase = contract.PhaseDone // the run sees the end as the child completing; no report
	return state.Result, nil
}

// transferHeartbeatTimeout is how quickly a dead worker's Transfer attempt
// is noticed; the retry re-attaches to the sync pod, so a worker killed
// while the mover runs costs at most this after the mover is done (with
// 30 s it was 12 s). Transfer heartbeats at least every 2 s while it
// follows the mover, and the SDK sends heartbeats at 0.8 × this, which
// also keeps the Web UI's progress that fresh. Only an activity option
// changes: recorded histories replay as before.
const transferHeartbeatTimeout = 10 * time.Second

func withCleanupOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
}

// recordPVCSyncMetrics counts each sync by result (the error type when it
// failed) and records its duration and volume; the SDK's metrics handler is
// replay-safe, so replays count nothing twice.
func recordPVCSyncMetrics(ctx workflow.Context, in contract.PVCSyncInput, result contract.PVCSyncResult, err error, took time.Duration) {
	outcome := "success"
	var appErr *temporal.ApplicationError
	var canceled *temporal.CanceledError
	switch {
	case errors.As(err, &canceled):
		outcome = "canceled"
	case errors.As(err, &appErr) && appErr.Type() != "":
		outcome = appErr.Type()
	case err != nil:
		outcome = "error"
	}
	m := workflow.GetMetricsHandler(ctx).WithTags(map[string]string{"source_cluster": in.Source.Cluster.Name, "result": outcome})
	m.Counter("pvc_sync_total").Inc(1)
	m.Timer("pvc_sync_duration").Record(took)
	if err == nil {
		m.Counter("pvc_sync_bytes_total").Inc(result.Transfer.Stats.TotalTransferredFileSize)
		m.Counter("pvc_sync_files_total").Inc(result.Transfer.Stats.RegularFilesTransferred)
	}
}

// changeConcurrentPods is the GetVersion change ID of starting the sync pod
// together with the mount pod: two pod starts no longer add up before the
// first byte moves.
const changeConcurrentPods = "2026-11-22-concurrent-pods"

// mountAndTransfer runs Transfer while the mount pod comes up; the mover
// names the mount pod and waits until the agent can reach it. A mount pod
// that cannot start ends the transfer, and a finished transfer ends the wait
// for the mount pod's readiness. The activity still running then is
// cancelled and waited for (both options wait for cancellation), so the
// cleanup that follows never races a pod it is creating.
func mountAndTransfer(ctx workflow.Context, mountOptions workflow.ActivityOptions, mountIn contract.MountPodInput,
	transferOptions workflow.ActivityOptions, transferIn contract.TransferInput, state *syncState) error {
	var a *pvcdata.PVCActivities
	mountCtx, cancelMount := workflow.WithCancel(workflow.WithActivityOptions(ctx, mountOptions))
	transferCtx, cancelTransfer := workflow.WithCancel(workflow.WithActivityOptions(ctx, transferOptions))
	mount := workflow.ExecuteActivity(mountCtx, a.EnsureMountPod, mountIn)
	transfer := workflow.ExecuteActivity(transferCtx, a.Transfer, transferIn)
	var err error
	mountDone, transferDone := false, false
	selector := workflow.NewSelector(ctx)
	selector.AddFuture(mount, func(f workflow.Future) {
		mountDone = true
		if err = f.Get(ctx, nil); err == nil {
			state.enter(ctx, contract.PhaseTransfer)
		}
	})
	selector.AddFuture(transfer, func(f workflow.Future) {
		transferDone = true
		err = f.Get(ctx, &state.Result.Transfer)
	})
	for !transferDone && err == nil {
		selector.Select(ctx)
	}
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if !mountDone {
		cancelMount()
		_ = mount.Get(dctx, nil)
	}
	if !transferDone {
		cancelTransfer()
		_ = transfer.Get(dctx, nil)
	}
	return err
}

// changeBatchLateCredentials is the GetVersion change ID of a batched sync
// making its own SSH credentials only when it falls back to its own pods,
// after the join, instead of before it: one activity and two Secrets fewer
// per PVC that a batch carries.
const changeBatchLateCredentials = "2026-12-06-batch-late-credentials"

// changeGlobalConcurrency is the GetVersion change ID of taking a permit
// from the source cluster's semaphore before creating pods.
const changeGlobalConcurrency = "2026-11-22-global-concurrency"

// permitRerequestAfter is how long a sync waits for its permit before it
// asks again. A grant can be lost (the semaphore was terminated and started
// afresh, or its signal found no run); asking again is idempotent by
// workflow ID: a waiting sync keeps its place, a holder is granted again.
const permitRerequestAfter = 5 * time.Minute

// changePermitRerequest is the GetVersion change ID of the permit wait that
// times out and asks again.
const changePermitRerequest = "2026-12-05-permit-rerequest"

// acquirePermit queues at the source cluster's semaphore and waits for the
// permit, asking again every permitRerequestAfter; cancellation while
// waiting ends the wait. A granted wait is recorded (recordPermitWait); a
// cancelled one is not, as it ended without a permit.
func acquirePermit(ctx workflow.Context, in contract.PVCSyncInput) error {
	info := workflow.GetInfo(ctx)
	asked := workflow.Now(ctx)
	permitCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
	})
	var permits *pvcdata.PermitActivities
	request := func() error {
		return workflow.ExecuteActivity(step(permitCtx, "ask for a sync slot of cluster "+in.Source.Cluster.Name), permits.RequestPermit, contract.AcquireInput{
			SemaphoreID:   contract.ClusterSemaphoreID(in.Source.Cluster),
			Limit:         int(in.GlobalConcurrencyLimit),
			Request:       contract.PermitRequest{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID},
			SemaphoreType: contract.ClusterSemaphoreName,
			InitialState:  contract.SemaphoreState{Limit: int(in.GlobalConcurrencyLimit)},
		}).Get(ctx, nil)
	}
	if err := request(); err != nil {
		return err
	}
	permit := workflow.GetSignalChannel(ctx, contract.SignalPermit)
	if !hasChange(ctx, changePermitRerequest) {
		permit.Receive(ctx, nil)
		if ctx.Err() == nil {
			recordPermitWait(ctx, in.Source.Cluster, in.Replication, asked)
		}
		return ctx.Err()
	}
	for {
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		granted := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(permit, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			granted = true
		})
		sel.AddFuture(newTimer(timerCtx, permitRerequestAfter, "ask for the sync slot again if none came"), func(workflow.Future) {})
		sel.Select(ctx)
		cancelTimer()
		if granted && ctx.Err() == nil {
			recordPermitWait(ctx, in.Source.Cluster, in.Replication, asked)
		}
		if granted || ctx.Err() != nil {
			return ctx.Err()
		}
		workflow.GetLogger(ctx).Info("no permit yet; asking the semaphore again", "after", permitRerequestAfter)
		if err := request(); err != nil {
			return err
		}
	}
}

// authority is the run a sync's pod and Secret steps act for; the steps
// check their input against it. Only activity inputs change, not the
// commands, so recorded histories replay with or without it.
func authority(in contract.PVCSyncInput) *contract.PlanRequest {
	a := &contract.PlanRequest{Replication: in.Replication, Direction: in.Direction}
	if in.Direction == contract.DirectionDrill {
		a.DrillNamespace = in.DestinationNamespace
	}
	return a
}
