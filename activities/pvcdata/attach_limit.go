package pvcdata

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	csitranslation "k8s.io/csi-translation-lib"
)

// attachLimit is the smaller positive room of the two nodes for their
// claims' CSI drivers (0 when neither reports a limit): a batch's mount pod
// and sync pod mount all their claims on those nodes at once, and a pod
// asking for more than its node may attach would never be scheduled. The
// room is the node's limit less the volumes of that driver already
// attached there (nodeAttachRoom).
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
	ownVolume := ""
	if sourcePV != nil {
		ownVolume = sourcePV.Name
	}
	sourceLimit, err := nodeAttachRoom(ctx, src, sourceNode, sourceDriver, ownVolume)
	if err != nil {
		return 0, err
	}
	// The DR claim's own volume, if attached, counts against its node: a
	// smaller batch is the safe side.
	targetLimit, err := nodeAttachRoom(ctx, dst, targetNode, targetDriver, "")
	if err != nil {
		return 0, err
	}
	if sourceLimit == 0 || (targetLimit > 0 && targetLimit < sourceLimit) {
		return targetLimit, nil
	}
	return sourceLimit, nil
}

var translator = csitranslation.New()

// claimDriver is the CSI driver of a claim's volume: its bound PV's, or,
// before it is bound, its StorageClass's provisioner; "" when neither
// names one (not a CSI volume, or no class). An in-tree volume or
// provisioner migrated to CSI (awsElasticBlockStore, gcePersistentDisk,
// azureDisk, …) is attached, and limited, as its CSI driver's.
func claimDriver(ctx context.Context, cs kubernetes.Interface, pv *corev1.PersistentVolume, class *string) (string, error) {
	if pv != nil {
		if pv.Spec.CSI != nil {
			return pv.Spec.CSI.Driver, nil
		}
		if !translator.IsPVMigratable(pv) {
			return "", nil
		}
		plugin, err := translator.GetInTreePluginNameFromSpec(pv, nil)
		if err != nil {
			return "", nil
		}
		return csiName(plugin), nil
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
	if translator.IsMigratableIntreePluginByName(sc.Provisioner) {
		return csiName(sc.Provisioner), nil
	}
	return sc.Provisioner, nil
}

// csiName is the CSI driver an in-tree plugin migrated to; "" if none.
func csiName(inTreePlugin string) string {
	name, err := translator.GetCSINameFromInTreeName(inTreePlugin)
	if err != nil {
		return ""
	}
	return name
}

// nodeAttachRoom is how many more volumes of driver node may attach: its
// CSINode's limit less the VolumeAttachments of that driver on it, other
// than ownVolume's (a claim already attached there, say by the app's pod,
// needs no more room). It is at least 1 when the node reports a limit, so a
// full node still gets a batch of one, which waits for room as any pod
// does; 0 when it reports none. Drivers that attach nothing (no
// VolumeAttachments) are counted by their limit alone. An identity that may
// not read CSINodes or list VolumeAttachments (RBAC from before this) gets
// the limit it can read and a warning, so an upgrade does not stop syncs.
func nodeAttachRoom(ctx context.Context, cs kubernetes.Interface, node, driver, ownVolume string) (int, error) {
	if driver == "" || node == "" {
		return 0, nil
	}
	csiNode, err := cs.StorageV1().CSINodes().Get(ctx, node, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return 0, nil
	case apierrors.IsForbidden(err):
		rbacWarning(ctx, "cannot read the node's CSI attach limit; batches are not sized to it", node, err)
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("get CSINode %s: %w", node, err)
	}
	limit := 0
	for _, d := range csiNode.Spec.Drivers {
		if d.Name == driver && d.Allocatable != nil && d.Allocatable.Count != nil {
			limit = int(*d.Allocatable.Count)
		}
	}
	if limit <= 0 {
		return 0, nil
	}
	// From the API server's cache ("0"): sizing a batch needs no quorum read.
	attachments, err := cs.StorageV1().VolumeAttachments().List(ctx, metav1.ListOptions{ResourceVersion: "0"})
	switch {
	case apierrors.IsForbidden(err):
		rbacWarning(ctx, "cannot list VolumeAttachments; batches are sized to the node's whole attach limit", node, err)
		return limit, nil
	case err != nil:
		return 0, fmt.Errorf("list VolumeAttachments for node %s: %w", node, err)
	}
	room := limit
	for _, va := range attachments.Items {
		pv := va.Spec.Source.PersistentVolumeName
		if va.Spec.NodeName == node && va.Spec.Attacher == driver && (pv == nil || *pv != ownVolume || ownVolume == "") {
			room--
		}
	}
	return max(room, 1), nil
}

func rbacWarning(ctx context.Context, what, node string, err error) {
	activity.GetLogger(ctx).Warn(what+". Apply deploy/rbac/remotecluster, which grants get on csinodes and list on volumeattachments",
		"node", node, "error", err)
}
