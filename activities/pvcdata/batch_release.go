package pvcdata

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// roleMount is the dr-syncer.io/role of a mount pod the agents serve
// (allowlist.RoleMount, contract.Operation.Labels("mount")).
const roleMount = "mount"

// ReleaseBatchPods starts a staged batch (contract.BatchPodsInput.Held):
// it relabels the batch's mount pod from kube.RoleMountHeld to "mount", so
// the source node's agent serves it, then writes the sync pod a fresh
// certificate (in.Pods) and removes kube.StagedGate from it, so the
// scheduler places it and its movers start and connect. The certificate
// issued with the pods lasts 15 minutes, and a staged batch waits for the
// batch before it, which may move data for hours: its movers would log in
// with an expired one, and every member would take its own pods.
// It is idempotent: a pod already released is left as it is.
// It changes only pods of in.Op that dr-syncer manages, and fails without
// retry when a pod is someone else's (Conflict), or gone, being deleted
// or finished (BatchPodsGone): the batch then cannot start, and its
// members take their own pods.
func (a *PVCActivities) ReleaseBatchPods(ctx context.Context, in contract.ReleaseBatchInput) error {
	if err := madeMatches(in); err != nil {
		return err // before either pod changes
	}
	src, err := a.Clusters.Clientset(ctx, in.Source.Namespace, in.Source.Name)
	if err != nil {
		return activities.Classify(err)
	}
	if err := releaseBatchPod(ctx, src, in.Op, in.SourceNamespace, in.Op.Name("mount"), "mount", releasePatch,
		func(pod *corev1.Pod) bool { return pod.Labels[kube.LabelRole] == roleMount }, nil); err != nil {
		return err
	}
	if in.Destination.Name == "" { // a batch staged before its sync pod was gated
		return nil
	}
	dst, err := a.Clusters.Clientset(ctx, in.Destination.Namespace, in.Destination.Name)
	if err != nil {
		return activities.Classify(err)
	}
	return releaseBatchPod(ctx, dst, in.Op, in.DestinationNamespace, in.Op.Name("sync"), "sync", ungatePatch, ungated,
		func() error { return a.renewBatchIdentity(ctx, dst, in) })
}

// renewBelow is how much validity a staged sync pod's certificate must
// have left at the release to be kept: enough for the pod to start, its
// claims attached and mounted, and its mover to log in.
const renewBelow = 10 * time.Minute

// renewBatchIdentity writes the gated sync pod of in a certificate issued
// now, as EnsureBatchPods wrote one when it made the pod and after the
// same checks, unless the one it has is valid for renewBelow more. A
// release of a run from before in.Pods keeps the pod's first one.
func (a *PVCActivities) renewBatchIdentity(ctx context.Context, dst kubernetes.Interface, in contract.ReleaseBatchInput) error {
	made := in.Pods
	if made == nil {
		return nil
	}
	id := batchIdentity(*made, batchTarget(*made))
	if certValidFor(ctx, dst, id.namespace, id.credentials) > renewBelow {
		return nil
	}
	if err := a.checkBatchPods(ctx, *made); err != nil {
		return err
	}
	return a.writeSyncIdentity(ctx, dst, id)
}

// madeMatches: in.Pods, when set, made the batch's pods that in releases.
func madeMatches(in contract.ReleaseBatchInput) error {
	made := in.Pods
	if made == nil || (made.Op.WorkflowID == in.Op.WorkflowID && made.Destination == in.Destination && made.DestinationNamespace == in.DestinationNamespace) {
		return nil
	}
	return activities.NonRetryable(contract.ErrTypeInputMismatch,
		"ReleaseBatchPods refused: the pods it names (%s in %s/%s) are not batch %s's in %s/%s; the batch's members take their own pods",
		made.Op.WorkflowID, made.Destination.Name, made.DestinationNamespace, in.Op.WorkflowID, in.Destination.Name, in.DestinationNamespace)
}

// certValidFor is how long the certificate in the Secret namespace/name
// still lets a mover log in; 0 when there is none that parses.
func certValidFor(ctx context.Context, cs kubernetes.Interface, namespace, name string) time.Duration {
	s, err := cs.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return 0
	}
	cert, err := keys.ParseCert(s.Data[kube.SecretKeyOpCert])
	if err != nil {
		return 0
	}
	return time.Until(time.Unix(int64(cert.ValidBefore), 0))
}

// ungated says a sync pod no longer carries kube.StagedGate.
func ungated(pod *corev1.Pod) bool {
	return !slices.ContainsFunc(pod.Spec.SchedulingGates, isStagedGate)
}

// releaseBatchPod applies patch to the batch pod namespace/name of op,
// unless released says it already is; prepare, if set, runs just before
// the patch.
func releaseBatchPod(ctx context.Context, cs kubernetes.Interface, op contract.Operation, namespace, name, role string,
	patch []byte, released func(*corev1.Pod) bool, prepare func() error) error {
	pods := cs.CoreV1().Pods(namespace)
	gone := func(why string) error {
		return activities.NonRetryable(contract.ErrTypeBatchPodsGone,
			"batch %s pod %s/%s of %s is gone%s; its members take their own pods", role, namespace, name, op.WorkflowID, why)
	}
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return gone("")
	case err != nil:
		return fmt.Errorf("get batch %s pod %s/%s: %w", role, namespace, name, err)
	}
	if pod.Labels[kube.LabelManagedBy] != kube.ManagedBy || pod.Labels[kube.LabelOperation] != kube.OperationID(op.WorkflowID) {
		return activities.NonRetryable(contract.ErrTypeConflict,
			"pod %s/%s is not the batch %s pod of %s (labels %s=%q, %s=%q); it is left as it is",
			namespace, name, role, op.WorkflowID,
			kube.LabelManagedBy, pod.Labels[kube.LabelManagedBy], kube.LabelOperation, pod.Labels[kube.LabelOperation])
	}
	if released(pod) {
		return nil
	}
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return gone(" (" + podEnd(pod) + ")") // it will never run again
	}
	if prepare != nil {
		if err := prepare(); err != nil {
			return err
		}
	}
	if _, err := pods.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		if apierrors.IsNotFound(err) { // deleted since the GET
			return gone("")
		}
		return fmt.Errorf("release batch %s pod %s/%s: %w", role, namespace, name, err)
	}
	return nil
}

func isStagedGate(g corev1.PodSchedulingGate) bool { return g.Name == kube.StagedGate }

// podEnd says how a pod that will not serve has ended.
func podEnd(pod *corev1.Pod) string {
	if pod.DeletionTimestamp != nil {
		return "being deleted"
	}
	return "phase " + string(pod.Status.Phase)
}

// releasePatch is the patch (applied as a strategic merge patch, as
// ungatePatch) that makes a mount pod one the agents serve; it changes the
// role label and nothing else.
var releasePatch = []byte(`{"metadata":{"labels":{"` + kube.LabelRole + `":"` + roleMount + `"}}}`)

// ungatePatch removes kube.StagedGate from a staged sync pod, and no
// other gate (an admission webhook, such as a queueing system's, may
// have added its own): a strategic merge patch deletes by gate name. The
// API server allows gates only to be removed.
var ungatePatch = []byte(`{"spec":{"schedulingGates":[{"$patch":"delete","name":"` + kube.StagedGate + `"}]}}`)
