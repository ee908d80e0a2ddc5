// Package pointintime holds the activities of point-in-time copies: what a
// PVC sync reads (a snapshot or clone of the source instead of the live
// volume), the freeze and thaw hooks around the snapshot, the restore
// points kept in DR after good syncs, and restores: new PVCs made from them.
package pointintime

import (
	"context"
	"fmt"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// SnapshotActivities reach the source and DR clusters' claims, snapshots
// and application pods.
type SnapshotActivities struct {
	Clusters activities.ClusterResolver
}

// PlanCopySource decides what a PVC sync reads. Unset (automatic) is
// Snapshot when the source's CSI driver has a VolumeSnapshotClass and
// Direct otherwise; Snapshot asked for and impossible is a non-retryable
// NoSnapshotClass error that names what to create.
func (a *SnapshotActivities) PlanCopySource(ctx context.Context, in contract.CopySourceInput) (contract.CopySource, error) {
	if in.Method == contract.CopyDirect {
		return contract.CopySource{Method: contract.CopyDirect, Reason: "copyMethod is Direct"}, nil
	}
	cs, err := a.Clusters.Clientset(ctx, in.PVC.Cluster.Namespace, in.PVC.Cluster.Name)
	if err != nil {
		return contract.CopySource{}, activities.Classify(err)
	}
	pvc, err := activities.GetPVC(ctx, cs, in.PVC)
	if err != nil {
		return contract.CopySource{}, err
	}
	class := kube.StorageClassOf(pvc)
	driver, err := driverOf(ctx, cs, pvc)
	if err != nil {
		return contract.CopySource{}, err
	}
	if in.Method == contract.CopyClone {
		if driver == "" {
			return contract.CopySource{}, activities.NonRetryable(contract.ErrTypeSnapshotFailed,
				"copyMethod Clone needs a CSI StorageClass, and PVC %s has class %q, which does not exist: use Direct or Snapshot", in.PVC, class)
		}
		return contract.CopySource{Method: contract.CopyClone, Reason: "copyMethod is Clone"}, nil
	}
	snapClass, problem, err := a.snapshotClass(ctx, in.PVC.Cluster, driver, class, in.VolumeSnapshotClassName)
	if err != nil {
		return contract.CopySource{}, err
	}
	switch {
	case problem == "":
		return contract.CopySource{Method: contract.CopySnapshot, SnapshotClass: snapClass, Reason: "VolumeSnapshotClass " + snapClass}, nil
	case in.Method == contract.CopySnapshot || in.HooksSet:
		return contract.CopySource{}, activities.NonRetryable(contract.ErrTypeNoSnapshotClass,
			"copyMethod Snapshot for PVC %s in cluster %s: %s", in.PVC, in.PVC.Cluster.Name, problem)
	}
	return contract.CopySource{Method: contract.CopyDirect, Reason: problem}, nil
}

// driverOf is the CSI driver (the provisioner) of the claim's StorageClass;
// "" when the claim names no class or a class that does not exist.
func driverOf(ctx context.Context, cs kubernetes.Interface, pvc *corev1.PersistentVolumeClaim) (string, error) {
	class := kube.StorageClassOf(pvc)
	if class == "" {
		return "", nil
	}
	sc, err := cs.StorageV1().StorageClasses().Get(ctx, class, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("get StorageClass %s of PVC %s/%s: %w", class, pvc.Namespace, pvc.Name, err)
	}
	return sc.Provisioner, nil
}

// snapshotClass picks the VolumeSnapshotClass for a volume of driver, or
// says why there is none.
func (a *SnapshotActivities) snapshotClass(ctx context.Context, cluster contract.ClusterRef, driver, storageClass, wanted string) (name, problem string, err error) {
	if driver == "" {
		return "", fmt.Sprintf("its StorageClass %q does not exist, so its CSI driver is unknown", storageClass), nil
	}
	snaps, err := a.snapshots(ctx, cluster)
	if err != nil {
		return "", "", err
	}
	classes, err := snaps.SnapshotV1().VolumeSnapshotClasses().List(ctx, metav1.ListOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return "", "the cluster has no VolumeSnapshot API: install the external-snapshotter CRDs and snapshot-controller", nil
	case apierrors.IsForbidden(err):
		return "", fmt.Sprintf("the RemoteCluster's kubeconfig may not list VolumeSnapshotClasses in %s: grant get/list on volumesnapshotclasses and get/list/create/delete/patch on volumesnapshots", cluster.Name), nil
	}
	if err != nil {
		return "", "", fmt.Errorf("list VolumeSnapshotClasses of %s: %w", cluster.Name, err)
	}
	name, problem = kube.ChooseSnapshotClass(classes.Items, driver, wanted)
	return name, problem, nil
}

func (a *SnapshotActivities) snapshots(ctx context.Context, cluster contract.ClusterRef) (snapclient.Interface, error) {
	c, err := a.Clusters.Snapshots(ctx, cluster.Namespace, cluster.Name)
	return c, activities.Classify(err)
}
