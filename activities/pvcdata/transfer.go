package pvcdata

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	// The config was validated when the run was planned; the mover decodes
	// this JSON straight into the same rsyncargs.Config.
	configJSON, err := json.Marshal(in.Config)
	if err != nil {
		return contract.TransferResult{}, fmt.Errorf("encode data sync config: %w", err)
	}
	cs, err := a.Clusters.Clientset(ctx, in.PVC.Cluster.Namespace, in.PVC.Cluster.Name)
	if err != nil {
		return contract.TransferResult{}, activities.Classify(err)
	}
	pod := kube.SyncPod(kube.SyncPodOptions{
		Name: in.Op.Name("sync"), Namespace: in.PVC.Namespace, Node: in.Node, Claim: in.PVC.Name,
		Image: in.Image.Reference, PullPolicy: in.Image.PullPolicy, Labels: in.Op.Labels("sync"),
		AgentAddr: in.AgentAddr, Target: in.Target,
		SSHSecret: in.Credentials, CredentialsSecret: in.Credentials,
		SyncConfigJSON: string(configJSON), AcceptSourceChange: in.Acknowledged,
		Resources: a.Pods.Resources,
	})
	if in.Mount != nil {
		stop, err := a.keepMountPod(ctx, *in.Mount)
		if err != nil {
			return contract.TransferResult{}, err
		}
		defer stop()
	}
	if err := a.syncIdentity(ctx, cs, in, pod); err != nil {
		return contract.TransferResult{}, err
	}
	// A sync pod whose mover failed (its mount pod was lost, say) is
	// replaced; a running one is re-attached to.
	if _, err := activities.CreateOrGetPod(ctx, cs, pod); err != nil {
		return contract.TransferResult{}, err
	}
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
	if err := followMover(ctx, cs, pod.Namespace, pod.Name, heartbeat); err != nil {
		return contract.TransferResult{}, err
	}
	report.progress(ctx, latest, true) // the mover's last figures, not one interval old
	summary, err := moverSummary(ctx, cs, pod.Namespace, pod.Name, heartbeat)
	if err != nil {
		return contract.TransferResult{}, err
	}
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
		return result, fmt.Errorf("transfer of %s interrupted (rsync exit %d: %s): %s",
			in.PVC, summary.Outcome.ExitCode, summary.Outcome.Reason, summary.Error)
	default:
		outdated, err := a.pinsOutdated(ctx, cs, in, summary)
		switch {
		case err != nil:
			return result, fmt.Errorf("transfer of %s: %s; whether the sync pod's pinned host keys predate a host-key rotation could not be checked: %w",
				in.PVC, summary.Error, err)
		case outdated:
			return result, fmt.Errorf("transfer of %s: the sync pod pinned the agent host keys of before a host-key rotation (%s); retrying with the current ones",
				in.PVC, summary.Error)
		}
		return result, activities.NonRetryable(contract.ErrTypeTransferFailed, "transfer of %s failed (rsync exit %d: %s): %s",
			in.PVC, summary.Outcome.ExitCode, summary.Outcome.Reason, summary.Error)
	}
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

// followMover streams the mover's JSON progress lines until its container
// exits, heartbeating at most every heartbeatEvery and at least that often.
func followMover(ctx context.Context, cs kubernetes.Interface, namespace, name string, heartbeat func(contract.TransferProgress)) error {
	if err := waitContainerStarted(ctx, cs, namespace, name, heartbeat); err != nil {
		return err
	}
	stream, err := cs.CoreV1().Pods(namespace).GetLogs(name, &corev1.PodLogOptions{Container: "mover", Follow: true}).Stream(ctx)
	if err != nil {
		// A finished mover's logs may be gone with its node; its summary is
		// in the pod status, which is all the result needs.
		if terminated, getErr := moverTerminated(ctx, cs, namespace, name); getErr == nil && terminated {
			return nil
		}
		return fmt.Errorf("follow logs of sync pod %s/%s: %w", namespace, name, err)
	}
	defer stream.Close()
	lines := make(chan progress.Snapshot)
	done := make(chan error, 1)
	go func() {
		scanner := bufio.NewScanner(stream)
		scanner.Buffer(make([]byte, 64*1024), 1024*1024)
		for scanner.Scan() {
			var e progress.Event
			if json.Unmarshal(scanner.Bytes(), &e) == nil && e.Type == progress.TypeProgress && e.Progress != nil {
				select {
				case lines <- *e.Progress:
				case <-ctx.Done():
					return
				}
			}
		}
		done <- scanner.Err()
	}()
	current := contract.TransferProgress{Phase: contract.TransferTransferring}
	ticker := time.NewTicker(heartbeatEvery)
	defer ticker.Stop()
	for {
		select {
		case snap := <-lines:
			current.Snapshot = snap
		case <-ticker.C:
			heartbeat(current)
		case err := <-done:
			heartbeat(current)
			if err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("read logs of sync pod %s/%s: %w", namespace, name, err)
			}
			return ctx.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitContainerStarted waits until the mover runs (or already ran), failing
// early on problems such as an image that cannot be pulled.
func waitContainerStarted(ctx context.Context, cs kubernetes.Interface, namespace, name string, heartbeat func(contract.TransferProgress)) error {
	_, err := activities.WaitPodWith(ctx, cs, namespace, name, func(pod *corev1.Pod) bool {
		for _, c := range pod.Status.ContainerStatuses {
			if c.State.Running != nil || c.State.Terminated != nil {
				return true
			}
		}
		return false
	}, func(_ *corev1.Pod, problem string) {
		phase := contract.TransferStarting
		if problem != "" {
			phase += ": " + problem
		}
		heartbeat(contract.TransferProgress{Phase: phase})
	})
	return err
}

// moverSummary waits for the mover to terminate and reads its summary from
// the termination message.
func moverSummary(ctx context.Context, cs kubernetes.Interface, namespace, name string, heartbeat func(contract.TransferProgress)) (progress.Summary, error) {
	t, err := activities.WaitPodTerminatedWith(ctx, cs, namespace, name, kube.MoverContainer, func(*corev1.Pod, string) {
		heartbeat(contract.TransferProgress{Phase: contract.TransferFinishing})
	})
	if err != nil {
		return progress.Summary{}, err
	}
	var s progress.Summary
	if err := json.Unmarshal([]byte(strings.TrimSpace(t.Message)), &s); err != nil || s.Outcome.Class == "" {
		// Killed before it could write a summary (OOM, eviction, node loss).
		return progress.Summary{}, fmt.Errorf("sync pod %s/%s ended (%s, exit %d) without a summary: %s",
			namespace, name, t.Reason, t.ExitCode, t.Message)
	}
	return s, nil
}

func moverTerminated(ctx context.Context, cs kubernetes.Interface, namespace, name string) (bool, error) {
	pod, err := cs.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	for _, c := range pod.Status.ContainerStatuses {
		if c.State.Terminated != nil {
			return true, nil
		}
	}
	return false, nil
}
