// Package pvcdata holds the activities of PVC data sync: the steps of one
// PVC's sync (PVCActivities) and the permits of the per-cluster semaphore
// that bounds syncs across Replications (PermitActivities).
package pvcdata

import (
	"context"
	"fmt"
	"sort"

	"github.com/uber-go/tally/v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// PVCActivities are the steps of one PVC's data sync.
type PVCActivities struct {
	Clusters activities.ClusterResolver
	// Control reads the SSH key Secrets from the cluster that holds dr-syncer's resources.
	Control client.Reader
	// Pods size the mount and sync pods and say whom a mount pod admits.
	Pods PodSettings
	// SystemNamespace is the namespace besides a Replication's own whose
	// Secrets and mappings its references may name.
	SystemNamespace string
	// Temporal sends Transfer's progress to the Replication run that
	// started the sync; nil sends none.
	Temporal Signaler
	// Metrics is the worker's scope, where Transfer shows its progress
	// (metrics.go); nil shows none.
	Metrics tally.Scope
}

// Discover reads a source PVC, its volume and the pods that mount it.
func (a *PVCActivities) Discover(ctx context.Context, ref contract.PVCRef) (contract.PVCInfo, error) {
	cs, err := a.Clusters.Clientset(ctx, ref.Cluster.Namespace, ref.Cluster.Name)
	if err != nil {
		return contract.PVCInfo{}, activities.Classify(err)
	}
	pvc, err := activities.GetPVC(ctx, cs, ref)
	if err != nil {
		return contract.PVCInfo{}, err
	}
	if pvc.Status.Phase != corev1.ClaimBound {
		return contract.PVCInfo{}, activities.NonRetryable(contract.ErrTypePVCNotBound, "source PVC %s is %s, not Bound: it has no data to sync yet", ref, pvc.Status.Phase)
	}
	pods, err := cs.CoreV1().Pods(ref.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return contract.PVCInfo{}, fmt.Errorf("list pods of %s/%s: %w", ref.Cluster.Name, ref.Namespace, err)
	}
	info := contract.PVCInfo{Size: kube.PVCSize(pvc), VolumeName: pvc.Spec.VolumeName}
	if pvc.Spec.StorageClassName != nil {
		info.StorageClass = *pvc.Spec.StorageClassName
	}
	for _, m := range pvc.Spec.AccessModes {
		info.AccessModes = append(info.AccessModes, string(m))
	}
	for _, p := range pods.Items {
		if kube.PodMountsClaim(&p, ref.Name) && p.Labels[kube.LabelManagedBy] != kube.ManagedBy {
			info.MountedBy = append(info.MountedBy, p.Name)
		}
	}
	return info, nil
}

// ListPVCs lists the PVCs of a source namespace in name order, leaving out
// those labelled dr-syncer.io/ignore, those with no volume yet, those being
// deleted, and those whose DR copy is the very same storage.
func (a *PVCActivities) ListPVCs(ctx context.Context, in contract.ListPVCsInput) (contract.PVCList, error) {
	cs, err := a.Clusters.Clientset(ctx, in.Cluster.Namespace, in.Cluster.Name)
	if err != nil {
		return contract.PVCList{}, activities.Classify(err)
	}
	pvcs, err := cs.CoreV1().PersistentVolumeClaims(in.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return contract.PVCList{}, fmt.Errorf("list PVCs of %s/%s: %w", in.Cluster.Name, in.Namespace, err)
	}
	list := contract.PVCList{Skipped: map[string]string{}}
	for _, p := range pvcs.Items {
		switch {
		case p.Labels[drv1.LabelIgnore] == "true":
			list.Skipped[p.Name] = "labelled " + drv1.LabelIgnore
		case p.Labels[kube.LabelOperation] != "":
			list.Skipped[p.Name] = "dr-syncer's own working claim of a running sync"
		case p.Status.Phase != corev1.ClaimBound:
			list.Skipped[p.Name] = fmt.Sprintf("%s, not Bound", p.Status.Phase)
		case p.DeletionTimestamp != nil:
			list.Skipped[p.Name] = "being deleted in the source; its DR copy is kept as it is"
		default:
			shared, err := a.sharedBacking(ctx, cs, &p, in)
			if err != nil {
				return contract.PVCList{}, err
			}
			if shared != "" {
				list.Skipped[p.Name] = shared
				continue
			}
			list.Names = append(list.Names, p.Name)
		}
	}
	sort.Strings(list.Names)
	return list, nil
}

// sharedBacking says why a source claim's data must not be synced because
// its DR copy is bound to the same storage (a replicated NFS or CSI volume),
// or "" when it is not.
func (a *PVCActivities) sharedBacking(ctx context.Context, src kubernetes.Interface, claim *corev1.PersistentVolumeClaim, in contract.ListPVCsInput) (string, error) {
	if in.Destination.Name == "" || claim.Spec.VolumeName == "" {
		return "", nil
	}
	dst, err := a.Clusters.Clientset(ctx, in.Destination.Namespace, in.Destination.Name)
	if err != nil {
		return "", activities.Classify(err)
	}
	drClaim, err := dst.CoreV1().PersistentVolumeClaims(in.DestinationNamespace).Get(ctx, claim.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && drClaim.Spec.VolumeName == "") {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get DR PVC %s/%s: %w", in.DestinationNamespace, claim.Name, err)
	}
	sourcePV, err := src.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("get source PV %s: %w", claim.Spec.VolumeName, err)
	}
	drPV, err := dst.CoreV1().PersistentVolumes().Get(ctx, drClaim.Spec.VolumeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("get DR PV %s: %w", drClaim.Spec.VolumeName, err)
	}
	if what, shared := kube.SharedBacking(sourcePV, drPV); shared {
		return fmt.Sprintf("its DR copy is bound to the same storage as the source (%s): nothing to sync, and syncing would copy the volume onto itself", what), nil
	}
	return "", nil
}
