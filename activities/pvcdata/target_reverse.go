package pvcdata

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// A reverse run (failback) copies a DR copy back into the source cluster.
// Its targets are normally the source's own claims, which dr-syncer did not
// make and must not mark: the guards that protect DR copies would refuse
// them, so the DR copy's record of where it came from decides instead
// (kube.CheckClaimReverse).

// reverseOriginal handles a reverse run's target when it exists and is not
// a copy: the original claim, written in place and only ever grown, or a
// claim dr-syncer must not touch. done is false when the forward path
// applies: the target is missing (it is created as a copy of the DR claim,
// and MarkSynced makes it the original once its data is in) or is such a
// copy from an earlier attempt.
func reverseOriginal(ctx context.Context, dst kubernetes.Interface, drCopy *corev1.PersistentVolumeClaim, in contract.TargetPVCInput) (t contract.TargetPVC, done bool, err error) {
	if owner := drCopy.Annotations[kube.AnnotationReplication]; kube.IsCopy(drCopy.Labels) && owner != "" && owner != in.Replication {
		return t, true, activities.NonRetryable(contract.ErrTypeConflict,
			"PVC %s: it is the DR copy of Replication %s, not of %s; a failback of %s copies back only its own copies",
			in.Source, owner, in.Replication, in.Replication)
	}
	target, err := dst.CoreV1().PersistentVolumeClaims(in.DestinationNamespace).Get(ctx, drCopy.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return t, false, nil
	}
	if err != nil {
		return t, true, fmt.Errorf("get PVC %s/%s in %s: %w", in.DestinationNamespace, drCopy.Name, in.Destination.Name, err)
	}
	if kube.IsCopy(target.Labels) {
		return t, false, nil
	}
	verdict, reason := kube.CheckClaimReverse(target, drCopy, in.Source.Cluster.Name, in.Destination.Name, in.Replication)
	if verdict != kube.ClaimOriginal {
		return t, true, activities.NonRetryable(contract.ErrTypeConflict,
			"PVC %s: PVC %s/%s in cluster %s exists and %s; the failback neither writes to nor mounts it. Move or delete it if DR's data is to replace it, then fail back again",
			in.Source, target.Namespace, target.Name, in.Destination.Name, reason)
	}
	t, err = growOriginal(ctx, dst, target, drCopy, in)
	return t, true, err
}

// growOriginal makes the original claim at least as big as its DR copy,
// which may have been grown in DR after the failover; it changes nothing
// else. A claim its storage class cannot expand is refused, saying so:
// rsync would fill it and fail half-way.
func growOriginal(ctx context.Context, dst kubernetes.Interface, original, drCopy *corev1.PersistentVolumeClaim, in contract.TargetPVCInput) (contract.TargetPVC, error) {
	want := drCopy.Spec.Resources.Requests[corev1.ResourceStorage]
	have := original.Spec.Resources.Requests[corev1.ResourceStorage]
	if want.Cmp(have) <= 0 {
		return targetPVC(original, false, false), nil
	}
	class := kube.StorageClassOf(original)
	expandable, err := canExpand(ctx, dst, class)
	if err != nil {
		return contract.TargetPVC{}, fmt.Errorf("get storage class %s in %s: %w", class, in.Destination.Name, err)
	}
	if !expandable {
		return contract.TargetPVC{}, activities.NonRetryable(contract.ErrTypeTargetTooSmall,
			"PVC %s/%s in cluster %s requests %s, its DR copy %s requests %s, and storage class %q cannot expand it; nothing copied. Grow the claim by hand (or allow volume expansion on its class), then fail back again",
			original.Namespace, original.Name, in.Destination.Name, have.String(), in.Source, want.String(), class)
	}
	grown := original.DeepCopy()
	grown.Spec.Resources.Requests[corev1.ResourceStorage] = want.DeepCopy()
	// The API server refuses a request above the claim's limit.
	if limit, set := grown.Spec.Resources.Limits[corev1.ResourceStorage]; set && want.Cmp(limit) > 0 {
		grown.Spec.Resources.Limits[corev1.ResourceStorage] = want.DeepCopy()
	}
	updated, err := dst.CoreV1().PersistentVolumeClaims(original.Namespace).Update(ctx, grown, metav1.UpdateOptions{})
	if err != nil {
		return contract.TargetPVC{}, fmt.Errorf("grow PVC %s/%s in %s to %s: %w", original.Namespace, original.Name, in.Destination.Name, want.String(), err)
	}
	return targetPVC(updated, false, true), nil
}

// canExpand says whether claims of class may grow. A claim without a class
// is bound to a volume made by hand, which nothing expands.
func canExpand(ctx context.Context, cs kubernetes.Interface, class string) (bool, error) {
	if class == "" {
		return false, nil
	}
	sc, err := cs.StorageV1().StorageClasses().Get(ctx, class, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion, nil
}

// markSyncedReverse finishes a reverse run's PVC once the DR copy's data is
// in its target. An original target is left exactly as it is. A target the
// run created (a copy of the DR claim, because the source's claim was gone)
// becomes the original: the DR claim is recorded as its copy first, then
// the target loses its copy marks, so a retry after either step finishes
// the other, and the next forward sync finds its own copy of this claim
// instead of a replaced source. Both hold the same data by now, so neither
// record lies.
func (a *PVCActivities) markSyncedReverse(ctx context.Context, dst kubernetes.Interface, target *corev1.PersistentVolumeClaim, in contract.MarkSyncedInput) error {
	if in.Source == nil {
		return activities.InvalidSpec("MarkSynced of a reverse run needs the DR claim the data came from")
	}
	src, err := a.Clusters.Clientset(ctx, in.Source.Cluster.Namespace, in.Source.Cluster.Name)
	if err != nil {
		return activities.Classify(err)
	}
	drCopy, err := activities.GetPVC(ctx, src, *in.Source)
	if err != nil {
		return err
	}
	if !kube.MadeFrom(target, drCopy, in.Source.Cluster.Name) {
		return nil // the original, or a claim an earlier run already turned into it
	}
	original := kube.Unmarked(target)
	recorded := kube.TargetPVC(original, drCopy, kube.PVCMapping{
		SourceCluster: in.Destination.Name, DestinationNamespace: drCopy.Namespace, Replication: target.Annotations[kube.AnnotationReplication],
	})
	kube.MarkDataSynced(recorded, in.At)
	if _, err := src.CoreV1().PersistentVolumeClaims(drCopy.Namespace).Update(ctx, recorded, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("record DR PVC %s as the copy of %s/%s: %w", in.Source, in.Namespace, in.Name, err)
	}
	if _, err := dst.CoreV1().PersistentVolumeClaims(in.Namespace).Update(ctx, original, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("unmark PVC %s/%s in %s, now the original: %w", in.Namespace, in.Name, in.Destination.Name, err)
	}
	return nil
}
