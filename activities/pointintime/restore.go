package pointintime

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// A restore makes a new PVC from a restore point. It only reads the DR PVC
// and the restore points: everything it writes is new, and carries the
// restore's operation labels while it is being made, so a failed or
// cancelled restore's cleanup removes it. The new PVC loses those labels
// once it is made (handOver): from then on it is the user's.
const (
	roleRestoredPVC = "restored"
	roleShared      = "restore-share"
)

// FindRestorePoint returns the restore point in.Point of the DR PVC, or
// its newest complete one for LatestRestorePoint. A missing one is a
// non-retryable RestorePointNotFound that lists those that exist.
func (a *SnapshotActivities) FindRestorePoint(ctx context.Context, in contract.FindRestorePointInput) (contract.RestorePoint, error) {
	points, err := a.restorePoints(ctx, in.DR.Cluster, in.DR.Namespace, in.Replication, in.DR.Name)
	if err != nil {
		return contract.RestorePoint{}, err
	}
	for _, p := range points { // newest first
		if in.Point == contract.LatestRestorePoint || p.Name == in.Point {
			return p, nil
		}
	}
	if len(points) == 0 {
		return contract.RestorePoint{}, activities.NonRetryable(contract.ErrTypeRestorePointNotFound,
			"DR PVC %s of Replication %s has no complete restore points: they are taken after good syncs when pvcConfig.restorePoints.keep is set",
			in.DR, in.Replication)
	}
	names := make([]string, len(points))
	for i, p := range points {
		names[i] = p.Name
	}
	return contract.RestorePoint{}, activities.NonRetryable(contract.ErrTypeRestorePointNotFound,
		"restore point %q of DR PVC %s (Replication %s) not found; it has %s (newest first), or ask for %q",
		in.Point, in.DR, in.Replication, strings.Join(names, ", "), contract.LatestRestorePoint)
}

// CheckRestoreTarget makes sure the new PVC can be created: its namespace
// exists (or is created, when in.CreateNamespace says so) and no PVC has
// its name, except the one this very restore made on an earlier attempt.
func (a *SnapshotActivities) CheckRestoreTarget(ctx context.Context, in contract.RestoreTargetInput) error {
	cs, err := a.Clusters.Clientset(ctx, in.PVC.Cluster.Namespace, in.PVC.Cluster.Name)
	if err != nil {
		return activities.Classify(err)
	}
	_, err = cs.CoreV1().Namespaces().Get(ctx, in.PVC.Namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err) && !in.CreateNamespace:
		return activities.NonRetryable(contract.ErrTypeNamespaceNotFound,
			"namespace %s does not exist in DR cluster %s: create it, or let the restore create it (drsyncer restore --create-namespace)",
			in.PVC.Namespace, in.PVC.Cluster.Name)
	case apierrors.IsNotFound(err):
		// The restored workload's namespace is the user's: no dr-syncer labels.
		if err := activities.CreateNamespace(ctx, cs, in.PVC.Namespace, nil); err != nil {
			return fmt.Errorf("in %s: %w", in.PVC.Cluster.Name, err)
		}
	case err != nil:
		return fmt.Errorf("get namespace %s in %s: %w", in.PVC.Namespace, in.PVC.Cluster.Name, err)
	}
	existing, err := cs.CoreV1().PersistentVolumeClaims(in.PVC.Namespace).Get(ctx, in.PVC.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get PVC %s: %w", in.PVC, err)
	}
	return refuseUnlessOwn(existing, in.Op, in.PVC)
}

// RestoreFromPoint creates the new PVC from in.Snapshot (the restore point,
// or its shared copy in the target namespace) with the DR PVC's storage
// class, access and volume modes and at least its and the point's size,
// waits until it is bound (unless its class binds on first use) and hands
// it over. A PVC of that name that this restore did not make is never
// touched: the step fails as RestoreTargetExists.
func (a *SnapshotActivities) RestoreFromPoint(ctx context.Context, in contract.RestoreFromPointInput) (contract.RestoredPVC, error) {
	cluster := in.Target.Cluster
	cs, err := a.Clusters.Clientset(ctx, cluster.Namespace, cluster.Name)
	if err != nil {
		return contract.RestoredPVC{}, activities.Classify(err)
	}
	dr, err := cs.CoreV1().PersistentVolumeClaims(in.DR.Namespace).Get(ctx, in.DR.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return contract.RestoredPVC{}, activities.NonRetryable(contract.ErrTypePVCNotFound,
			"DR PVC %s is gone: a restore takes the new PVC's storage class, access modes and size from it", in.DR)
	}
	if err != nil {
		return contract.RestoredPVC{}, fmt.Errorf("get DR PVC %s: %w", in.DR, err)
	}
	annotations := map[string]string{
		kube.AnnotationRestoredBy:   in.Op.WorkflowID,
		kube.AnnotationRestoredFrom: fmt.Sprintf("%s/%s/%s", cluster.Name, in.DR.Namespace, in.Point.Name),
		kube.AnnotationCopiedAt:     in.Point.CopiedAt.UTC().Format(time.RFC3339Nano),
	}
	claim, err := kube.ClaimFrom(dr, in.Target.Namespace, in.Target.Name, kube.SnapshotSource(in.Snapshot), in.Point.Size,
		in.Op.Labels(roleRestoredPVC), annotations)
	if err != nil {
		return contract.RestoredPVC{}, activities.NonRetryable(contract.ErrTypeSnapshotFailed, "%v", err)
	}
	claims := cs.CoreV1().PersistentVolumeClaims(claim.Namespace)
	if _, err := claims.Create(ctx, claim, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		existing, err := claims.Get(ctx, claim.Name, metav1.GetOptions{})
		if err != nil {
			return contract.RestoredPVC{}, fmt.Errorf("get PVC %s: %w", in.Target, err)
		}
		if err := refuseUnlessOwn(existing, in.Op, in.Target); err != nil {
			return contract.RestoredPVC{}, err
		}
	} else if err != nil {
		return contract.RestoredPVC{}, fmt.Errorf("create PVC %s: %w", in.Target, err)
	}
	bound, err := waitClaimBound(ctx, cs, claim, cluster.Name)
	if err != nil {
		return contract.RestoredPVC{}, err
	}
	if err := handOver(ctx, claims, in.Target); err != nil {
		return contract.RestoredPVC{}, err
	}
	return contract.RestoredPVC{PVC: in.Target, StorageClass: kube.StorageClassOf(claim), Size: kube.PVCSize(claim), Bound: bound}, nil
}

// handOver removes the restore's operation labels from the new PVC, which
// makes it an ordinary PVC of the user's: no cleanup selects it any more,
// and without dr-syncer's managed-by it cannot pass for a DR copy
// (kube.IsCopy), which a sync would write to. Its annotations keep saying
// where it came from, and which restore made it, so a retry still knows it.
func handOver(ctx context.Context, claims corev1client.PersistentVolumeClaimInterface, ref contract.PVCRef) error {
	var keys []string
	for key := range (contract.Operation{}).Labels(roleRestoredPVC) {
		keys = append(keys, key)
	}
	if _, err := claims.Patch(ctx, ref.Name, types.MergePatchType, kube.RemoveLabelsPatch(keys...), metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("hand over restored PVC %s: %w", ref, err)
	}
	return nil
}

// refuseUnlessOwn lets a restore go on only with a PVC it made itself (an
// earlier attempt's); any other PVC of that name is left alone and the
// restore fails for good, saying whose the PVC is.
func refuseUnlessOwn(existing *corev1.PersistentVolumeClaim, op contract.Operation, ref contract.PVCRef) error {
	by := existing.Annotations[kube.AnnotationRestoredBy]
	if by == op.WorkflowID {
		return nil
	}
	whose := "a PVC this restore did not make"
	switch {
	case kube.IsCopy(existing.Labels):
		whose = "a DR copy, which a restore never touches"
	case by != "":
		whose = "made by the restore " + by
	}
	return activities.NonRetryable(contract.ErrTypeRestoreTargetExists,
		"PVC %s already exists (%s); a restore only creates new PVCs: choose another name (drsyncer restore --name) or namespace (--to-namespace)",
		ref, whose)
}
