package pvcdata

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// EnsureTargetPVC creates the DR PVC for a source PVC, or brings an existing
// one up to date: labels, annotations, and a size that only ever grows. A DR
// storage class that does not exist is a non-retryable StorageClassNotFound.
// It writes only into this replication's own copy of this very source claim:
// a DR PVC made by anyone else is a Conflict, and a copy of a claim that was
// deleted and created again is SourceReplaced until a person accepts it;
// neither is written to, so no sync mounts it.
func (a *PVCActivities) EnsureTargetPVC(ctx context.Context, in contract.TargetPVCInput) (contract.TargetPVC, error) {
	src, err := a.Clusters.Clientset(ctx, in.Source.Cluster.Namespace, in.Source.Cluster.Name)
	if err != nil {
		return contract.TargetPVC{}, activities.Classify(err)
	}
	dst, err := a.Clusters.Clientset(ctx, in.Destination.Namespace, in.Destination.Name)
	if err != nil {
		return contract.TargetPVC{}, activities.Classify(err)
	}
	source, err := activities.GetPVC(ctx, src, in.Source)
	if err != nil {
		return contract.TargetPVC{}, err
	}
	if in.Direction == contract.DirectionReverse {
		if t, done, err := reverseOriginal(ctx, dst, source, in); done {
			return t, err
		}
	}
	mapping := kube.PVCMapping{
		SourceCluster:        in.Source.Cluster.Name,
		DestinationNamespace: in.DestinationNamespace,
		Replication:          in.Replication,
		ClaimMapping: kube.ClaimMapping{
			StorageClasses:           in.StorageClassMappings,
			AccessModes:              in.AccessModeMappings,
			PreserveVolumeAttributes: in.PreserveVolumeAttributes,
		},
	}
	if class := mapping.StorageClass(source); class != "" {
		if _, err := dst.StorageV1().StorageClasses().Get(ctx, class, metav1.GetOptions{}); apierrors.IsNotFound(err) {
			return contract.TargetPVC{}, activities.NonRetryable(contract.ErrTypeStorageClassNotFound,
				"storage class %q for PVC %s does not exist in cluster %s; create it or map %q to an existing class in pvcConfig.storageClassMappings",
				class, in.Source, in.Destination.Name, kube.StorageClassOf(source))
		} else if err != nil {
			return contract.TargetPVC{}, fmt.Errorf("get storage class %s in %s: %w", class, in.Destination.Name, err)
		}
	}
	if err := ensureNamespace(ctx, dst, in.Destination.Name, in.DestinationNamespace, in.CreateNamespace); err != nil {
		return contract.TargetPVC{}, err
	}

	pvcs := dst.CoreV1().PersistentVolumeClaims(in.DestinationNamespace)
	existing, err := pvcs.Get(ctx, source.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		created, err := pvcs.Create(ctx, kube.TargetPVC(source, nil, mapping), metav1.CreateOptions{})
		if err != nil {
			return contract.TargetPVC{}, fmt.Errorf("create DR PVC %s/%s: %w", in.DestinationNamespace, source.Name, err)
		}
		return targetPVC(created, true, false), nil
	}
	if err != nil {
		return contract.TargetPVC{}, fmt.Errorf("get DR PVC %s/%s: %w", in.DestinationNamespace, source.Name, err)
	}
	if err := claimGuard(existing, source, in); err != nil {
		return contract.TargetPVC{}, err
	}
	want := kube.TargetPVC(source, existing, mapping)
	grown := kube.PVCSize(want) != kube.PVCSize(existing)
	if equality.Semantic.DeepEqual(want, existing) {
		return targetPVC(existing, false, false), nil
	}
	updated, err := pvcs.Update(ctx, want, metav1.UpdateOptions{})
	if err != nil {
		return contract.TargetPVC{}, fmt.Errorf("update DR PVC %s/%s: %w", in.DestinationNamespace, source.Name, err)
	}
	return targetPVC(updated, false, grown), nil
}

// claimGuard refuses a DR PVC that is not this replication's copy of this
// source claim, saying what the user can do.
func claimGuard(existing, source *corev1.PersistentVolumeClaim, in contract.TargetPVCInput) error {
	verdict, reason := kube.CheckClaim(existing, source, in.Source.Cluster.Name, in.Replication)
	switch {
	case verdict == kube.ClaimForeign:
		return activities.NonRetryable(contract.ErrTypeConflict,
			"PVC %s/%s: DR PVC %s/%s in cluster %s exists and %s; dr-syncer neither writes to nor mounts it. Move or delete it, or replicate to another destinationNamespace",
			source.Namespace, source.Name, existing.Namespace, existing.Name, in.Destination.Name, reason)
	case verdict == kube.ClaimReplaced && !in.Acknowledged:
		return activities.NonRetryable(contract.ErrTypeSourceReplaced,
			"PVC %s/%s: %s; DR copy %s/%s kept, nothing copied or deleted. If the new claim's data is the one to keep, annotate Replication %s with %s=<a new value> to let the next sync replace the DR copy with it",
			source.Namespace, source.Name, reason, existing.Namespace, existing.Name, in.Replication, drv1.AnnotationAcceptChanges)
	}
	return nil
}

func targetPVC(pvc *corev1.PersistentVolumeClaim, created, grown bool) contract.TargetPVC {
	t := contract.TargetPVC{Name: pvc.Name, Namespace: pvc.Namespace, Size: kube.PVCSize(pvc), StorageClass: kube.StorageClassOf(pvc), Created: created, Grown: grown}
	for _, m := range pvc.Spec.AccessModes {
		t.AccessModes = append(t.AccessModes, string(m))
	}
	return t
}

// MarkSynced records the last data sync time on the DR PVC. In a reverse
// run the target is the source's claim, which it never marks as a copy
// (markSyncedReverse).
func (a *PVCActivities) MarkSynced(ctx context.Context, in contract.MarkSyncedInput) error {
	dst, err := a.Clusters.Clientset(ctx, in.Destination.Namespace, in.Destination.Name)
	if err != nil {
		return activities.Classify(err)
	}
	pvcs := dst.CoreV1().PersistentVolumeClaims(in.Namespace)
	pvc, err := pvcs.Get(ctx, in.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("get DR PVC %s/%s: %w", in.Namespace, in.Name, err)
	}
	if in.Direction == contract.DirectionReverse {
		return a.markSyncedReverse(ctx, dst, pvc, in)
	}
	kube.MarkDataSynced(pvc, in.At)
	if _, err := pvcs.Update(ctx, pvc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("annotate DR PVC %s/%s: %w", in.Namespace, in.Name, err)
	}
	return nil
}

// ensureNamespace makes sure a DR namespace exists, creating it only when allowed.
func ensureNamespace(ctx context.Context, cs kubernetes.Interface, cluster, name string, create bool) error {
	_, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("get namespace %s in %s: %w", name, cluster, err)
	}
	if !create {
		return activities.NonRetryable(contract.ErrTypeNamespaceNotFound,
			"namespace %s does not exist in cluster %s; create it or set namespaceConfig.createNamespace", name, cluster)
	}
	if err := activities.CreateNamespace(ctx, cs, name, map[string]string{kube.LabelManagedBy: kube.ManagedBy}); err != nil {
		return fmt.Errorf("in %s: %w", cluster, err)
	}
	return nil
}
