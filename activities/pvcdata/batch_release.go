package pvcdata

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// roleMount is the dr-syncer.io/role of a mount pod the agents serve
// (allowlist.RoleMount, contract.Operation.Labels("mount")).
const roleMount = "mount"

// ReleaseBatchPods starts a staged batch (contract.BatchPodsInput.Held):
// it relabels the batch's mount pod from kube.RoleMountHeld to "mount", so
// the source node's agent serves it, then removes kube.StagedGate from
// the batch's sync pod, so the scheduler places it and its movers start
// and connect. It is idempotent: a pod already released is left as it is.
// It changes only pods of in.Op that dr-syncer manages, and fails without
// retry when a pod is someone else's (Conflict), or gone, being deleted
// or finished (BatchPodsGone): the batch then cannot start, and its
// members take their own pods.
func (a *PVCActivities) ReleaseBatchPods(ctx context.Context, in contract.ReleaseBatchInput) error {
	src, err := a.Clusters.Clientset(ctx, in.Source.Namespace, in.Source.Name)
	if err != nil {
		return activities.Classify(err)
	}
	if err := releaseBatchPod(ctx, src, in.Op, in.SourceNamespace, in.Op.Name("mount"), "mount", releasePatch,
		func(pod *corev1.Pod) bool { return pod.Labels[kube.LabelRole] == roleMount }); err != nil {
		return err
	}
	if in.Destination.Name == "" { // a batch staged before its sync pod was gated
		return nil
	}
	dst, err := a.Clusters.Clientset(ctx, in.Destination.Namespace, in.Destination.Name)
	if err != nil {
		return activities.Classify(err)
	}
	return releaseBatchPod(ctx, dst, in.Op, in.DestinationNamespace, in.Op.Name("sync"), "sync", ungatePatch, ungated)
}

// ungated says a sync pod no longer carries kube.StagedGate.
func ungated(pod *corev1.Pod) bool {
	return !slices.ContainsFunc(pod.Spec.SchedulingGates, isStagedGate)
}

// releaseBatchPod applies patch to the batch pod namespace/name of op,
// unless released says it already is.
func releaseBatchPod(ctx context.Context, cs kubernetes.Interface, op contract.Operation, namespace, name, role string,
	patch []byte, released func(*corev1.Pod) bool) error {
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
