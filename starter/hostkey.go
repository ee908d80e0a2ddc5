package starter

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

// HostKeyRotation is what RequestHostKeyRotation asked for and found.
type HostKeyRotation struct {
	// Value is the rotate-host-key annotation value set.
	Value string
	// Waiting is the message of a rotation still in progress, which the
	// requested one waits for; "" when none is.
	Waiting string
}

// RequestHostKeyRotation asks the controller to rotate the agent host key
// of the RemoteCluster ref: it sets the RemoteCluster's rotate-host-key
// annotation to value, which must differ from every value used before.
// The controller does the rest (see the HostKeyRotating condition). A
// RemoteCluster without an agent has no host key and is refused.
func RequestHostKeyRotation(ctx context.Context, c client.Client, ref contract.ObjectRef, value string) (HostKeyRotation, error) {
	var rc drv1.RemoteCluster
	err := c.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &rc)
	switch {
	case apierrors.IsNotFound(err):
		return HostKeyRotation{}, fmt.Errorf("RemoteCluster %s/%s not found: check the namespace and name (kubectl get remoteclusters -A)", ref.Namespace, ref.Name)
	case err != nil:
		return HostKeyRotation{}, fmt.Errorf("get RemoteCluster %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	if rc.Spec.PVCSync == nil || !rc.Spec.PVCSync.Enabled {
		return HostKeyRotation{}, fmt.Errorf("RemoteCluster %s/%s runs no agent (spec.pvcSync.enabled is not true), so it has no host key to rotate", ref.Namespace, ref.Name)
	}
	if rc.Annotations[drv1.AnnotationRotateHostKey] == value {
		return HostKeyRotation{}, fmt.Errorf("RemoteCluster %s/%s already has %s=%q: a rotation needs a new value", ref.Namespace, ref.Name, drv1.AnnotationRotateHostKey, value)
	}
	out := HostKeyRotation{Value: value}
	if c := meta.FindStatusCondition(rc.Status.Conditions, drv1.ConditionHostKeyRotating); c != nil && c.Status == metav1.ConditionTrue {
		out.Waiting = c.Message
	}
	// A merge patch of the one annotation: the controller writes the
	// object too (finalizer, status), and no other field is touched.
	patch := client.MergeFrom(rc.DeepCopy())
	metav1.SetMetaDataAnnotation(&rc.ObjectMeta, drv1.AnnotationRotateHostKey, value)
	if err := c.Patch(ctx, &rc, patch); err != nil {
		return HostKeyRotation{}, fmt.Errorf("annotate RemoteCluster %s/%s with %s: %w", ref.Namespace, ref.Name, drv1.AnnotationRotateHostKey, err)
	}
	return out, nil
}
