package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// PVCSyncName is the registered type name of PVCSync.
const PVCSyncName = "PVCSync"

// ProgressQuery is the query that returns a workflow's progress snapshot.
const ProgressQuery = "progress"

// PVCSyncWorkflowID is the one workflow ID per source PVC. Temporal allows one
// open run per ID, which is the lock that stops two syncs writing one PVC.
func PVCSyncWorkflowID(sourceCluster, namespace, pvc string) string {
	return fmt.Sprintf("pvc-sync/%s/%s/%s", sourceCluster, namespace, pvc)
}

// PVCSyncInput is everything one PVC's data sync needs, resolved by the
// replication run. Secrets travel as references only.
type PVCSyncInput struct {
	Replication          activities.ObjectRef  `json:"replication"`
	Source               activities.PVCRef     `json:"source"`
	Destination          activities.ClusterRef `json:"destination"`
	DestinationNamespace string                `json:"destinationNamespace"`
	CreateNamespace      bool                  `json:"createNamespace"`
	StorageClassMappings map[string]string     `json:"storageClassMappings,omitempty"`
	AccessModeMappings   map[string]string     `json:"accessModeMappings,omitempty"`
	PreserveVolumeAttrs  bool                  `json:"preserveVolumeAttributes"`
	DataSync             drv1.DataSyncConfig   `json:"dataSync"`
	Image                activities.Image      `json:"image"`
	AgentPort            int32                 `json:"agentPort"`
	ClusterKey           activities.SecretRef  `json:"clusterKey"`
	AgentHostKey         activities.SecretRef  `json:"agentHostKey"`
	Retry                drv1.RetryConfig      `json:"retry"`
	FailureMode          drv1.FailureMode      `json:"failureMode"`
	// GlobalConcurrencyLimit bounds PVC syncs against the source cluster
	// across all Replications; 0 means no bound.
	GlobalConcurrencyLimit int32 `json:"globalConcurrencyLimit,omitempty"`
	// AcceptChanges: a person accepted what the DR-copy guards hold back (a
	// replaced or shrunk source) for this run.
	AcceptChanges bool `json:"acceptChanges,omitempty"`
}

// PVCSyncResult says what the sync did and why it placed pods where it did.
type PVCSyncResult struct {
	Source   activities.PVCInfo        `json:"source"`
	Target   activities.TargetPVC      `json:"target"`
	Nodes    activities.NodePlan       `json:"nodes"`
	Transfer activities.TransferResult `json:"transfer"`
	Cleanup  activities.CleanupResult  `json:"cleanup"`
}

// PVCSyncProgress is the answer to the progress query. Bytes and percent of
// a running transfer are on the pending Transfer activity's heartbeat.
type PVCSyncProgress struct {
	Phase  string        `json:"phase"`
	Result PVCSyncResult `json:"result"`
}

// PVC sync phases, in order.
const (
	PhaseDiscover    = "Discover"
	PhaseTargetPVC   = "EnsureTargetPVC"
	PhaseChooseNodes = "ChooseNodes"
	PhaseCredentials = "EnsureCredentials"
	PhaseWaitPermit  = "WaitForPermit"
	PhaseMountPod    = "EnsureMountPod"
	PhaseTransfer    = "Transfer"
	PhaseMarkSynced  = "MarkSynced"
	PhaseCleanup     = "Cleanup"
	PhaseDone        = "Done"
)

// PVCSync copies one PVC's data from the source cluster into its DR PVC:
// discover → target PVC → nodes → credentials → mount pod → transfer →
// mark synced, and cleans up on success, failure and cancellation.
func PVCSync(ctx workflow.Context, in PVCSyncInput) (result PVCSyncResult, err error) {
	state := PVCSyncProgress{Phase: PhaseDiscover}
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (PVCSyncProgress, error) { return state, nil }); err != nil {
		return PVCSyncResult{}, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		AttrReplication.ValueSet(in.Replication.String()),
		AttrSourceCluster.ValueSet(in.Source.Cluster.Name),
		AttrNamespace.ValueSet(in.Source.Namespace),
		AttrPVC.ValueSet(in.Source.Name),
	); err != nil {
		return PVCSyncResult{}, err
	}
	info := workflow.GetInfo(ctx)
	op := activities.Operation{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID}
	cleanupIn := activities.CleanupInput{
		Op: op, Source: in.Source.Cluster, SourceNamespace: in.Source.Namespace,
		Destination: in.Destination, DestinationNamespace: in.DestinationNamespace,
	}
	var a *activities.PVCActivities
	retry := RetryPolicy(&in.Retry, in.FailureMode)
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: retry})

	// Whatever a crashed earlier run of this sync left behind goes first.
	if err := workflow.ExecuteActivity(withCleanupOptions(ctx), a.Cleanup, cleanupIn).Get(ctx, nil); err != nil {
		return PVCSyncResult{}, err
	}
	started := workflow.Now(ctx)
	defer func() { recordPVCSyncMetrics(ctx, in, result, err, workflow.Now(ctx).Sub(started)) }()
	var releasePermit func(workflow.Context)
	defer func() {
		// Runs on success, failure and cancellation alike; a cancelled
		// workflow's context is done, so cleanup gets a disconnected one.
		state.Phase = PhaseCleanup
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		var cleaned activities.CleanupResult
		if err := workflow.ExecuteActivity(withCleanupOptions(dctx), a.Cleanup, cleanupIn).Get(dctx, &cleaned); err != nil {
			workflow.GetLogger(ctx).Error("cleanup failed; objects labelled with the operation remain", "error", err)
		}
		state.Result.Cleanup = cleaned
		result.Cleanup = cleaned
		// The permit goes back only once this sync's pods are gone.
		if releasePermit != nil {
			releasePermit(dctx)
		}
	}()

	if err := workflow.ExecuteActivity(short, a.Discover, in.Source).Get(ctx, &state.Result.Source); err != nil {
		return state.Result, err
	}

	state.Phase = PhaseTargetPVC
	if err := workflow.ExecuteActivity(short, a.EnsureTargetPVC, activities.TargetPVCInput{
		Source: in.Source, Destination: in.Destination, DestinationNamespace: in.DestinationNamespace,
		CreateNamespace: in.CreateNamespace, StorageClassMappings: in.StorageClassMappings,
		AccessModeMappings: in.AccessModeMappings, PreserveVolumeAttributes: in.PreserveVolumeAttrs,
		Replication: in.Replication.String(), Acknowledged: in.AcceptChanges,
	}).Get(ctx, &state.Result.Target); err != nil {
		return state.Result, err
	}

	state.Phase = PhaseChooseNodes
	if err := workflow.ExecuteActivity(short, a.ChooseNodes, activities.ChooseNodesInput{
		Source: in.Source, Destination: in.Destination,
	}).Get(ctx, &state.Result.Nodes); err != nil {
		return state.Result, err
	}

	state.Phase = PhaseCredentials
	var creds activities.Credentials
	if err := workflow.ExecuteActivity(short, a.EnsureCredentials, activities.CredentialsInput{
		Op: op, Source: in.Source.Cluster, SourceNamespace: in.Source.Namespace,
		Destination: in.Destination, DestinationNamespace: in.DestinationNamespace,
		ClusterKey: in.ClusterKey, AgentHostKey: in.AgentHostKey,
	}).Get(ctx, &creds); err != nil {
		return state.Result, err
	}

	// Syncs started before the cluster-wide bound existed replay without it.
	if workflow.GetVersion(ctx, changeGlobalConcurrency, workflow.DefaultVersion, 1) == 1 && in.GlobalConcurrencyLimit > 0 {
		state.Phase = PhaseWaitPermit
		if err := acquirePermit(ctx, in); err != nil {
			return state.Result, err
		}
		semaphore := ClusterSemaphoreID(in.Source.Cluster)
		releasePermit = func(dctx workflow.Context) {
			_ = workflow.SignalExternalWorkflow(dctx, semaphore, "", activities.SignalRelease, op.WorkflowID).Get(dctx, nil)
		}
	}

	state.Phase = PhaseMountPod
	podOptions := workflow.ActivityOptions{
		StartToCloseTimeout: activities.MountPodTimeout, HeartbeatTimeout: 30 * time.Second, RetryPolicy: retry,
	}
	mountIn := activities.MountPodInput{
		Op: op, PVC: in.Source, Node: state.Result.Nodes.Source.Node, Image: in.Image, Credentials: creds.Secret,
	}
	transferOptions := workflow.ActivityOptions{
		StartToCloseTimeout: transferTimeout(in.DataSync.Timeout),
		// A dead worker is noticed this quickly; the retry re-attaches to the sync pod.
		HeartbeatTimeout: 30 * time.Second,
		RetryPolicy:      retry,
	}
	transferIn := activities.TransferInput{
		Op:           op,
		PVC:          activities.PVCRef{Cluster: in.Destination, Namespace: in.DestinationNamespace, Name: state.Result.Target.Name},
		Node:         state.Result.Nodes.Target.Node,
		Image:        in.Image,
		AgentAddr:    fmt.Sprintf("%s:%d", state.Result.Nodes.SourceAddress, in.AgentPort),
		Credentials:  creds.Secret,
		Config:       in.DataSync,
		Acknowledged: in.AcceptChanges,
	}
	// Syncs started before the pods started together replay one after the other.
	if workflow.GetVersion(ctx, changeConcurrentPods, workflow.DefaultVersion, 1) == 1 {
		transferIn.Target = mountIn.Target()
		podOptions.WaitForCancellation, transferOptions.WaitForCancellation = true, true
		if err := mountAndTransfer(ctx, podOptions, mountIn, transferOptions, transferIn, &state); err != nil {
			return state.Result, err
		}
	} else {
		var mount activities.MountPod
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, podOptions), a.EnsureMountPod, mountIn).Get(ctx, &mount); err != nil {
			return state.Result, err
		}
		state.Phase = PhaseTransfer
		transferIn.Target = mount.Target
		if err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, transferOptions), a.Transfer, transferIn).Get(ctx, &state.Result.Transfer); err != nil {
			return state.Result, err
		}
	}

	state.Phase = PhaseMarkSynced
	if err := workflow.ExecuteActivity(short, a.MarkSynced, activities.MarkSyncedInput{
		Destination: in.Destination, Namespace: in.DestinationNamespace, Name: state.Result.Target.Name, At: workflow.Now(ctx),
	}).Get(ctx, nil); err != nil {
		return state.Result, err
	}
	state.Phase = PhaseDone
	return state.Result, nil
}

func withCleanupOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		HeartbeatTimeout:    time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second, MaximumAttempts: 10},
	})
}

// transferTimeout is the data sync's timeout, or two hours.
func transferTimeout(d drv1.Duration) time.Duration { return durationOr(d, 2*time.Hour) }

// recordPVCSyncMetrics counts each sync by result (the error type when it
// failed) and records its duration and volume; the SDK's metrics handler is
// replay-safe, so replays count nothing twice.
func recordPVCSyncMetrics(ctx workflow.Context, in PVCSyncInput, result PVCSyncResult, err error, took time.Duration) {
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
func mountAndTransfer(ctx workflow.Context, mountOptions workflow.ActivityOptions, mountIn activities.MountPodInput,
	transferOptions workflow.ActivityOptions, transferIn activities.TransferInput, state *PVCSyncProgress) error {
	var a *activities.PVCActivities
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
			state.Phase = PhaseTransfer
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

// changeGlobalConcurrency is the GetVersion change ID of taking a permit
// from the source cluster's semaphore before creating pods.
const changeGlobalConcurrency = "2026-11-22-global-concurrency"

// acquirePermit queues at the source cluster's semaphore and waits for the
// permit; cancellation while waiting ends the wait.
func acquirePermit(ctx workflow.Context, in PVCSyncInput) error {
	info := workflow.GetInfo(ctx)
	permitCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
	})
	var permits *activities.PermitActivities
	err := workflow.ExecuteActivity(permitCtx, permits.RequestPermit, activities.AcquireInput{
		SemaphoreID:   ClusterSemaphoreID(in.Source.Cluster),
		Limit:         int(in.GlobalConcurrencyLimit),
		Request:       activities.PermitRequest{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID},
		SemaphoreType: ClusterSemaphoreName,
		InitialState:  SemaphoreState{Limit: int(in.GlobalConcurrencyLimit)},
	}).Get(ctx, nil)
	if err != nil {
		return err
	}
	workflow.GetSignalChannel(ctx, activities.SignalPermit).Receive(ctx, nil)
	return ctx.Err()
}
