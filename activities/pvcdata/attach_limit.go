package pvcdata

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// attachLimit is the smaller positive of the two nodes' limits on their
// claims' CSI drivers (0 when neither reports one): a batch's mount pod
// and sync pod mount all their claims on those nodes at once, and a pod
// asking for more than its node may attach would never be scheduled.
// Volumes already attached there are not counted: a batch pod that
// still does not fit stays pending, and its members wait for it (up to
// their transfer timeout), as they wait for a pod short of CPU. Volumes
// of in-tree plugins migrated to CSI are not counted either.
func attachLimit(ctx context.Context, src, dst kubernetes.Interface, sourceNode, targetNode string,
	sourceClaim *corev1.PersistentVolumeClaim, sourcePV *corev1.PersistentVolume, targetClass string) (int, error) {
	sourceDriver, err := claimDriver(ctx, src, sourcePV, sourceClaim.Spec.StorageClassName)
	if err != nil {
		return 0, err
	}
	targetDriver, err := claimDriver(ctx, dst, nil, &targetClass)
	if err != nil {
		return 0, err
	}
	sourceLimit, err := nodeAttachLimit(ctx, src, sourceNode, sourceDriver)
	if err != nil {
		return 0, err
	}
	targetLimit, err := nodeAttachLimit(ctx, dst, targetNode, targetDriver)
	if err != nil {
		return 0, err
	}
	if sourceLimit == 0 || (targetLimit > 0 && targetLimit < sourceLimit) {
		return targetLimit, nil
	}
	return sourceLimit, nil
}

// claimDriver is the CSI driver of a claim's volume: its bound PV's, or,
// before it is bound, its StorageClass's provisioner; "" when neither
// names one (not a CSI volume, or no class).
func claimDriver(ctx context.Context, cs kubernetes.Interface, pv *corev1.PersistentVolume, class *string) (string, error) {
	if pv != nil {
		if pv.Spec.CSI != nil {
			return pv.Spec.CSI.Driver, nil
		}
		return "", nil
	}
	if class == nil || *class == "" {
		return "", nil
	}
	sc, err := cs.StorageV1().StorageClasses().Get(ctx, *class, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil // EnsureTargetPVC and the provisioner report a missing class
	}
	if err != nil {
		return "", fmt.Errorf("get StorageClass %s: %w", *class, err)
	}
	return sc.Provisioner, nil
}

// nodeAttachLimit is how many volumes of driver node may hold, from its
// CSINode; 0 when it reports no limit. An identity that may not read
// CSINodes (RBAC from before this) gets no limit and a warning, so an
// upgrade does not stop every sync.
func nodeAttachLimit(ctx context.Context, cs kubernetes.Interface, node, driver string) (int, error) {
	if driver == "" || node == "" {
		return 0, nil
	}
	csiNode, err := cs.StorageV1().CSINodes().Get(ctx, node, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return 0, nil
	case apierrors.IsForbidden(err):
		activity.GetLogger(ctx).Warn("cannot read the node's CSI attach limit; batches are not sized to it. "+
			"Apply deploy/rbac/remotecluster, which grants get on csinodes", "node", node, "error", err)
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("get CSINode %s: %w", node, err)
	}
	for _, d := range csiNode.Spec.Drivers {
		if d.Name == driver && d.Allocatable != nil && d.Allocatable.Count != nil {
			return int(*d.Allocatable.Count), nil
		}
	}
	return 0, nil
}
