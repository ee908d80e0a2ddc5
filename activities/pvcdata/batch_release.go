package pvcdata

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// roleMount is the dr-syncer.io/role of a mount pod the agents serve
// (allowlist.RoleMount, contract.Operation.Labels("mount")).
const roleMount = "mount"

// ReleaseBatchPods starts a staged batch (contract.BatchPodsInput.Held):
// it relabels the batch's mount pod from kube.RoleMountHeld to "mount", so
// the source node's agent serves it and the waiting movers connect. It is
// idempotent: a mount pod already released is left as it is. It changes
// only a pod of in.Op that dr-syncer manages, and fails without retry
// when the pod is someone else's (Conflict), or gone, being deleted or
// finished (BatchPodsGone): the batch then cannot start, and its members
// take their own pods.
func (a *PVCActivities) ReleaseBatchPods(ctx context.Context, in contract.ReleaseBatchInput) error {
	cs, err := a.Clusters.Clientset(ctx, in.Source.Namespace, in.Source.Name)
	if err != nil {
		return activities.Classify(err)
	}
	name := in.Op.Name("mount")
	pods := cs.CoreV1().Pods(in.SourceNamespace)
	pod, err := pods.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return activities.NonRetryable(contract.ErrTypeBatchPodsGone,
			"batch mount pod %s/%s of %s is gone; its members take their own pods", in.SourceNamespace, name, in.Op.WorkflowID)
	case err != nil:
		return fmt.Errorf("get batch mount pod %s/%s: %w", in.SourceNamespace, name, err)
	}
	if pod.Labels[kube.LabelManagedBy] != kube.ManagedBy || pod.Labels[kube.LabelOperation] != kube.OperationID(in.Op.WorkflowID) {
		return activities.NonRetryable(contract.ErrTypeConflict,
			"pod %s/%s is not the batch mount pod of %s (labels %s=%q, %s=%q); it is left as it is",
			in.SourceNamespace, name, in.Op.WorkflowID,
			kube.LabelManagedBy, pod.Labels[kube.LabelManagedBy], kube.LabelOperation, pod.Labels[kube.LabelOperation])
	}
	if pod.Labels[kube.LabelRole] == roleMount {
		return nil
	}
	if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		// It will never serve: no agent serves a finished pod.
		return activities.NonRetryable(contract.ErrTypeBatchPodsGone,
			"batch mount pod %s/%s of %s is gone (%s); its members take their own pods", in.SourceNamespace, name, in.Op.WorkflowID, podEnd(pod))
	}
	if _, err := pods.Patch(ctx, name, types.MergePatchType, releasePatch, metav1.PatchOptions{}); err != nil {
		if apierrors.IsNotFound(err) { // deleted since the GET
			return activities.NonRetryable(contract.ErrTypeBatchPodsGone,
				"batch mount pod %s/%s of %s is gone; its members take their own pods", in.SourceNamespace, name, in.Op.WorkflowID)
		}
		return fmt.Errorf("release batch mount pod %s/%s: %w", in.SourceNamespace, name, err)
	}
	return nil
}

// podEnd says how a pod that will not serve has ended.
func podEnd(pod *corev1.Pod) string {
	if pod.DeletionTimestamp != nil {
		return "being deleted"
	}
	return "phase " + string(pod.Status.Phase)
}

// releasePatch is the JSON merge patch that makes a mount pod one the
// agents serve; it changes the role label and nothing else.
var releasePatch = []byte(`{"metadata":{"labels":{"` + kube.LabelRole + `":"` + roleMount + `"}}}`)
