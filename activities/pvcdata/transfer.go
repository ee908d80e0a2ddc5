package pvcdata

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// heartbeatEvery bounds how stale the progress shown in the Web UI can be.
const heartbeatEvery = 2 * time.Second

// TransferBatchClaim is Transfer for a claim that its batch's one mover
// fills (contract.FollowedMover.Claim), under a name of its own
// (contract.ActivityTransferBatchClaim) that workers from before one
// mover per batch do not run.
func (a *PVCActivities) TransferBatchClaim(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
	return a.Transfer(ctx, in)
}

// Transfer runs the mover in a sync pod in DR and follows it to the end,
// heartbeating its progress, and reporting it to the Replication run that
// started the sync (in.Progress). The pod outlives the worker: a retry after a
// worker crash re-attaches to the running pod, and a pod that failed is
// replaced by one whose rsync resumes (--partial, --inplace).
func (a *PVCActivities) Transfer(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
	report := a.reporter(ctx, in)
	gauges := startTransferGauges(a.Metrics, in, time.Now)
	defer gauges.end() // also when the attempt panics: the SDK recovers it, the worker lives on
	result, err := a.transfer(ctx, in, report, gauges)
	report.failed(ctx, err)
	return result, err
}

func (a *PVCActivities) transfer(ctx context.Context, in contract.TransferInput, report *parentReporter, gauges *transferGauges) (contract.TransferResult, error) {
	if err := a.checkTransfer(ctx, in); err != nil {
		return contract.TransferResult{}, err
	}
	var last contract.TransferProgress
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &last)
	}
	resumed := max(last.ResumedFromBytes, last.BytesDone)
	cs, err := a.Clusters.Clientset(ctx, in.PVC.Cluster.Namespace, in.PVC.Cluster.Name)
	if err != nil {
		return contract.TransferResult{}, activities.Classify(err)
	}
	m, stop, err := a.startMover(ctx, cs, in)
	if err != nil {
		return contract.TransferResult{}, err
	}
	defer stop()
	var latest contract.TransferProgress
	heartbeat := func(p contract.TransferProgress) {
		p.ResumedFromBytes = resumed
		p = p.Readable() // what the Web UI and the run show: rounded, with an ETA
		activity.RecordHeartbeat(ctx, p)
		report.progress(ctx, p, false)
		gauges.observe(p.Snapshot)
		latest = p
	}
	heartbeat(contract.TransferProgress{Phase: contract.TransferStarting, Snapshot: last.Snapshot}) // also this attempt's first report
	summary, seen, err := followMover(ctx, cs, m, heartbeat)
	if err != nil {
		return contract.TransferResult{}, err
	}
	// Only a success ends on the summary line. A failed mover's pod must
	// show it ended before this attempt does: a retry that found it still
	// running would re-attach to it (PodReusable) and read the same failure
	// instead of starting a new pod.
	// A followed mover is never made again, so what its stream said is
	// final (and a batch's one mover may run on long after this claim).
	if !seen || (summary.Outcome.Class != rsyncargs.ClassSuccess && !m.followed) {
		report.progress(ctx, latest, true) // the mover's last figures, not one interval old
		if summary, err = moverSummary(ctx, cs, m, heartbeat); err != nil {
			return contract.TransferResult{}, err
		}
	}
	result, err := a.transferOutcome(ctx, cs, in, summary, resumed)
	final := latest
	if err == nil {
		// Only a success says moved: the run frees this sync's place for
		// moving data on it, and a failed transfer may still retry.
		final.Phase = contract.TransferMoved
	}
	report.progress(ctx, final, true)
	return result, err
}

// startMover names the mover container the transfer follows. A followed
// batch container (in.Follow) is the run's: nothing is created or kept.
// Otherwise it is the mover of the transfer's own sync pod, created here
// (a sync pod whose mover failed, say its mount pod was lost, is replaced;
// a running one is re-attached to), with its mount pod kept (in.Mount)
// until stop.
func (a *PVCActivities) startMover(ctx context.Context, cs kubernetes.Interface, in contract.TransferInput) (m moverRef, stop func(), err error) {
	if f := in.Follow; f != nil {
		m, err := followedMover(ctx, cs, moverRef{namespace: in.PVC.Namespace, pod: f.Pod, container: f.Container, followed: true})
		return m, func() {}, err
	}
	opts, err := a.syncPodOptions(in)
	if err != nil {
		return moverRef{}, nil, err
	}
	pod := kube.SyncPod(opts)
	stop = func() {}
	if in.Mount != nil {
		if stop, err = a.keepMountPod(ctx, *in.Mount); err != nil {
			return moverRef{}, nil, err
		}
	}
	if err := a.syncIdentity(ctx, cs, transferIdentity(in), pod); err != nil {
		stop()
		return moverRef{}, nil, err
	}
	if _, err := activities.CreateOrGetPod(ctx, cs, pod); err != nil {
		stop()
		return moverRef{}, nil, err
	}
	return moverRef{namespace: pod.Namespace, pod: pod.Name, container: kube.MoverContainer}, stop, nil
}

// syncPodOptions are the sync pod of in: the solo transfer's, and for a
// batch each claim's mover but for its claim and accepted change.
func (a *PVCActivities) syncPodOptions(in contract.TransferInput) (kube.SyncPodOptions, error) {
	// The config was validated when the run was planned; the mover decodes
	// this JSON straight into the same rsyncargs.Config.
	configJSON, err := json.Marshal(in.Config)
	if err != nil {
		return kube.SyncPodOptions{}, fmt.Errorf("encode data sync config: %w", err)
	}
	return kube.SyncPodOptions{
		Name: in.Op.Name("sync"), Namespace: in.PVC.Namespace, Node: in.Node, Claim: in.PVC.Name,
		Image: in.Image.Reference, PullPolicy: in.Image.PullPolicy, Labels: in.Op.Labels("sync"),
		AgentAddr: in.AgentAddr, Target: in.Target,
		SSHSecret: in.Credentials, CredentialsSecret: in.Credentials,
		SyncConfigJSON: string(configJSON), AcceptSourceChange: in.Acknowledged,
		Resources: a.Pods.Resources,
	}, nil
}

// transferOutcome maps the mover's summary to the activity's result and
// error: the same for a followed batch container as for an own sync pod,
// but for an outcome a retry could fix (see onlyNewPodRetries).
func (a *PVCActivities) transferOutcome(ctx context.Context, cs kubernetes.Interface, in contract.TransferInput,
	summary progress.Summary, resumed int64) (contract.TransferResult, error) {
	result := contract.TransferResult{Stats: summary.Stats, Streams: summary.Streams, DurationSeconds: summary.DurationSeconds,
		Verification: summary.Verification, ResumedFromBytes: resumed, Guard: summary.Guard}
	if g := summary.Guard; g != nil && g.Reason == progress.GuardSourceShrank {
		return result, sourceShrank(in.PVC, *g)
	}
	// A sample verification that found differing files is never a success:
	// the mover reports it as a permanent outcome (see mover.verifySample).
	switch summary.Outcome.Class {
	case rsyncargs.ClassSuccess:
		return result, nil
	case rsyncargs.ClassRetryable:
		return result, onlyNewPodRetries(in, fmt.Errorf("transfer of %s interrupted (rsync exit %d: %s): %s",
			in.PVC, summary.Outcome.ExitCode, summary.Outcome.Reason, summary.Error))
	default:
		outdated, err := a.pinsOutdated(ctx, cs, in, summary)
		switch {
		case err != nil:
			return result, fmt.Errorf("transfer of %s: %s; whether the sync pod's pinned host keys predate a host-key rotation could not be checked: %w",
				in.PVC, summary.Error, err)
		case outdated:
			return result, onlyNewPodRetries(in, fmt.Errorf("transfer of %s: the sync pod pinned the agent host keys of before a host-key rotation (%s); retrying with the current ones",
				in.PVC, summary.Error))
		}
		return result, activities.NonRetryable(contract.ErrTypeTransferFailed, "transfer of %s failed (rsync exit %d: %s): %s",
			in.PVC, summary.Outcome.ExitCode, summary.Outcome.Reason, summary.Error)
	}
}

// onlyNewPodRetries takes retryable, the error of an outcome that a new
// sync pod can retry, and returns it unchanged for an own sync pod: the
// retry replaces the ended pod. A followed batch container has ended for
// good: a retry would follow the same container and read the same
// summary, and only the run could make the batch's pods again. So the
// attempt ends as FollowedMoverLost, after which the sync takes its own
// pods.
func onlyNewPodRetries(in contract.TransferInput, retryable error) error {
	if in.Follow == nil {
		return retryable
	}
	return activities.NonRetryable(contract.ErrTypeFollowedMoverLost,
		"%v; container %s of batch sync pod %s/%s has ended and does not run again, so the sync retries with its own pods",
		retryable, in.Follow.Container, in.PVC.Namespace, in.Follow.Pod)
}

// keepMountPod keeps the mount pod in the source cluster for as long as this
// attempt runs (see keepMountPod); stop ends the watch and waits for it.
func (a *PVCActivities) keepMountPod(ctx context.Context, mount contract.MountPodInput) (stop func(), err error) {
	src, err := a.Clusters.Clientset(ctx, mount.PVC.Cluster.Namespace, mount.PVC.Cluster.Name)
	if err != nil {
		return nil, activities.Classify(err)
	}
	want, err := a.mountPod(ctx, src, mount)
	if err != nil {
		return nil, err
	}
	// A retry comes after a failed attempt, which may have been the mount
	// pod's loss: a missing pod is lost, not yet to be created.
	retry := activity.GetInfo(ctx).Attempt > 1 || activity.HasHeartbeatDetails(ctx)
	log := activity.GetLogger(ctx)
	watchCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		keepMountPod(watchCtx, src, want, retry, func(msg string) { log.Warn(msg) })
	}()
	return func() { cancel(); <-done }, nil
}

// sourceShrank is the data guard's refusal as a typed error that says what
// happened to the DR copy and how a person lets the change through.
func sourceShrank(pvc contract.PVCRef, g progress.GuardVerdict) error {
	return activities.NonRetryable(contract.ErrTypeSourceShrank,
		"PVC %s: the source holds %d files, the DR copy %d (under %d%%); DR copy kept, nothing copied or deleted. "+
			"If the source is right, annotate the Replication with %s=<any new value> to let the next sync apply it",
		pvc, g.SourceFiles, g.DRFiles, mover.GuardMinPercent, drv1.AnnotationAcceptChanges)
}
