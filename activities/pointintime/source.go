package pointintime

import (
	"context"
	"fmt"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Roles of the working objects a point-in-time copy makes; Cleanup removes
// them by the operation label like the sync's pods.
const (
	roleSourceSnapshot = "snapshot"
	roleCopySource     = "copy"
)

// SnapshotSource takes a VolumeSnapshot of the source PVC and returns once
// the driver has cut it: the instant it holds is fixed, so a freeze may end.
func (a *SnapshotActivities) SnapshotSource(ctx context.Context, in contract.SourceSnapshotInput) (contract.Snapshot, error) {
	snaps, err := a.snapshots(ctx, in.PVC.Cluster)
	if err != nil {
		return contract.Snapshot{}, err
	}
	want := kube.VolumeSnapshot(in.PVC.Namespace, in.Op.Name(roleSourceSnapshot), in.PVC.Name, in.SnapshotClass, in.Op.Labels(roleSourceSnapshot), nil)
	if _, err := createSnapshot(ctx, snaps, want); err != nil {
		return contract.Snapshot{}, err
	}
	s, err := waitSnapshot(ctx, snaps, in.PVC.Cluster, want.Namespace, want.Name, kube.SnapshotTaken, "taken")
	if err != nil {
		return contract.Snapshot{}, err
	}
	return snapshotOf(s), nil
}

// WaitSnapshotReady waits until a PVC can be made from the operation's
// source snapshot (the driver may still be copying it out after the cut).
func (a *SnapshotActivities) WaitSnapshotReady(ctx context.Context, in contract.SourceSnapshotInput) (contract.Snapshot, error) {
	snaps, err := a.snapshots(ctx, in.PVC.Cluster)
	if err != nil {
		return contract.Snapshot{}, err
	}
	s, err := waitSnapshot(ctx, snaps, in.PVC.Cluster, in.PVC.Namespace, in.Op.Name(roleSourceSnapshot), kube.SnapshotReady, "ready to use")
	if err != nil {
		return contract.Snapshot{}, err
	}
	return snapshotOf(s), nil
}

// CreateTemporaryPVC makes the claim the mount pod reads: restored from the
// operation's source snapshot, or a clone of the source PVC. With an
// Immediate StorageClass it waits until the claim is bound, so the
// provisioning time shows here; otherwise the mount pod's scheduling binds it.
func (a *SnapshotActivities) CreateTemporaryPVC(ctx context.Context, in contract.TemporaryPVCInput) (contract.PVCRef, error) {
	cs, err := a.Clusters.Clientset(ctx, in.PVC.Cluster.Namespace, in.PVC.Cluster.Name)
	if err != nil {
		return contract.PVCRef{}, activities.Classify(err)
	}
	source, err := activities.GetPVC(ctx, cs, in.PVC)
	if err != nil {
		return contract.PVCRef{}, err
	}
	dataSource, minSize := kube.CloneSource(in.PVC.Name), ""
	if in.FromSnapshot != "" {
		snaps, err := a.snapshots(ctx, in.PVC.Cluster)
		if err != nil {
			return contract.PVCRef{}, err
		}
		s, err := snaps.SnapshotV1().VolumeSnapshots(in.PVC.Namespace).Get(ctx, in.FromSnapshot, metav1.GetOptions{})
		if err != nil {
			return contract.PVCRef{}, fmt.Errorf("get VolumeSnapshot %s/%s in %s: %w", in.PVC.Namespace, in.FromSnapshot, in.PVC.Cluster.Name, err)
		}
		dataSource, minSize = kube.SnapshotSource(in.FromSnapshot), kube.SnapshotRestoreSize(s)
	}
	ref := contract.PVCRef{Cluster: in.PVC.Cluster, Namespace: in.PVC.Namespace, Name: in.Op.Name(roleCopySource)}
	claim, err := kube.ClaimFrom(source, ref.Namespace, ref.Name, dataSource, minSize, in.Op.Labels(roleCopySource), nil)
	if err != nil {
		return contract.PVCRef{}, activities.NonRetryable(contract.ErrTypeSnapshotFailed, "%v", err)
	}
	if err := createClaimAndWait(ctx, cs, claim, in.PVC.Cluster.Name); err != nil {
		return contract.PVCRef{}, err
	}
	return ref, nil
}

// createClaimAndWait creates claim (an earlier attempt's is reused) and
// waits until it is bound if its class binds at once.
func createClaimAndWait(ctx context.Context, cs kubernetes.Interface, claim *corev1.PersistentVolumeClaim, cluster string) error {
	claims := cs.CoreV1().PersistentVolumeClaims(claim.Namespace)
	if _, err := claims.Create(ctx, claim, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create PVC %s/%s in %s: %w", claim.Namespace, claim.Name, cluster, err)
	}
	_, err := waitClaimBound(ctx, cs, claim, cluster)
	return err
}

// waitClaimBound waits until claim is bound, heartbeating the provisioner's
// latest complaint. A class that binds only once a pod uses the claim
// (WaitForFirstConsumer) is not waited for: bound is false then.
func waitClaimBound(ctx context.Context, cs kubernetes.Interface, claim *corev1.PersistentVolumeClaim, cluster string) (bound bool, err error) {
	if class := kube.StorageClassOf(claim); class != "" {
		sc, err := cs.StorageV1().StorageClasses().Get(ctx, class, metav1.GetOptions{})
		if err == nil && sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
			return false, nil
		}
	}
	claims := cs.CoreV1().PersistentVolumeClaims(claim.Namespace)
	for {
		got, err := claims.Get(ctx, claim.Name, metav1.GetOptions{})
		if err != nil {
			return false, fmt.Errorf("get PVC %s/%s in %s: %w", claim.Namespace, claim.Name, cluster, err)
		}
		if got.Status.Phase == corev1.ClaimBound {
			return true, nil
		}
		activity.RecordHeartbeat(ctx, fmt.Sprintf("waiting for PVC %s/%s to be bound: %s", claim.Namespace, claim.Name,
			activities.LatestEvent(ctx, cs, claim.Namespace, "PersistentVolumeClaim", claim.Name)))
		if err := activities.Sleep(ctx); err != nil {
			return false, fmt.Errorf("PVC %s/%s in %s is not bound (%s): %w", claim.Namespace, claim.Name, cluster,
				activities.LatestEvent(context.Background(), cs, claim.Namespace, "PersistentVolumeClaim", claim.Name), err)
		}
	}
}

// createSnapshot creates s; an earlier attempt's snapshot of that name is reused.
func createSnapshot(ctx context.Context, snaps snapclient.Interface, s *snapv1.VolumeSnapshot) (*snapv1.VolumeSnapshot, error) {
	got, err := snaps.SnapshotV1().VolumeSnapshots(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return snaps.SnapshotV1().VolumeSnapshots(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	}
	if err != nil {
		return nil, fmt.Errorf("create VolumeSnapshot %s/%s: %w", s.Namespace, s.Name, err)
	}
	return got, nil
}

// waitSnapshot polls a snapshot until done, heartbeating; the driver's or
// controller's error is retryable (they retry too) and ends the attempt
// with its message.
func waitSnapshot(ctx context.Context, snaps snapclient.Interface, cluster contract.ClusterRef, namespace, name string,
	done func(*snapv1.VolumeSnapshot) bool, what string) (*snapv1.VolumeSnapshot, error) {
	for {
		s, err := snaps.SnapshotV1().VolumeSnapshots(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("get VolumeSnapshot %s/%s in %s: %w", namespace, name, cluster.Name, err)
		}
		if done(s) {
			return s, nil
		}
		if msg := kube.SnapshotError(s); msg != "" {
			return nil, fmt.Errorf("VolumeSnapshot %s/%s in %s: %s", namespace, name, cluster.Name, msg)
		}
		activity.RecordHeartbeat(ctx, fmt.Sprintf("waiting for VolumeSnapshot %s/%s to be %s", namespace, name, what))
		if err := activities.Sleep(ctx); err != nil {
			return nil, fmt.Errorf("VolumeSnapshot %s/%s in %s is not %s: %w", namespace, name, cluster.Name, what, err)
		}
	}
}

func snapshotOf(s *snapv1.VolumeSnapshot) contract.Snapshot {
	return contract.Snapshot{Name: s.Name, Namespace: s.Namespace, TakenAt: kube.SnapshotTime(s), RestoreSize: kube.SnapshotRestoreSize(s)}
}
