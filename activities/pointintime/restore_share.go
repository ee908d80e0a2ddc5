package pointintime

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// ShareRestorePoint makes a restore point usable in another namespace of
// the DR cluster, where a PVC can use only a VolumeSnapshot of its own
// namespace: the standard pre-provisioned pair, a VolumeSnapshotContent
// for the same storage snapshot with deletionPolicy Retain and a
// VolumeSnapshot in the target namespace bound to it. It waits until the
// pair is ready to use. The restore point is only read, and Retain means
// removing the pair never removes the storage snapshot the restore point
// holds. Both carry the restore's operation labels; CleanupRestore removes
// them.
func (a *SnapshotActivities) ShareRestorePoint(ctx context.Context, in contract.ShareRestorePointInput) (contract.Snapshot, error) {
	snaps, err := a.snapshots(ctx, in.Cluster)
	if err != nil {
		return contract.Snapshot{}, err
	}
	point, err := snaps.SnapshotV1().VolumeSnapshots(in.Namespace).Get(ctx, in.Point, metav1.GetOptions{})
	if err != nil {
		return contract.Snapshot{}, fmt.Errorf("get restore point %s/%s in %s: %w", in.Namespace, in.Point, in.Cluster.Name, err)
	}
	if point.Status == nil || point.Status.BoundVolumeSnapshotContentName == nil {
		return contract.Snapshot{}, activities.NonRetryable(contract.ErrTypeRestorePointUnusable,
			"restore point %s/%s in %s is bound to no VolumeSnapshotContent, so no other namespace can use it: restore it into %s",
			in.Namespace, in.Point, in.Cluster.Name, in.Namespace)
	}
	contentName := *point.Status.BoundVolumeSnapshotContentName
	content, err := snaps.SnapshotV1().VolumeSnapshotContents().Get(ctx, contentName, metav1.GetOptions{})
	if err != nil {
		return contract.Snapshot{}, fmt.Errorf("get VolumeSnapshotContent %s of restore point %s/%s in %s: %w",
			contentName, in.Namespace, in.Point, in.Cluster.Name, err)
	}
	name := in.Op.Name(roleShared)
	sharedContent, shared, err := kube.SharedSnapshot(content, in.ToNamespace, name, in.Op.Labels(roleShared))
	if err != nil {
		return contract.Snapshot{}, activities.NonRetryable(contract.ErrTypeRestorePointUnusable,
			"restore point %s/%s in %s: %v, so no other namespace can use it: restore it into %s",
			in.Namespace, in.Point, in.Cluster.Name, err, in.Namespace)
	}
	// The content first: the snapshot-controller binds the snapshot to it.
	_, err = snaps.SnapshotV1().VolumeSnapshotContents().Create(ctx, sharedContent, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return contract.Snapshot{}, fmt.Errorf("create VolumeSnapshotContent %s in %s: %w", name, in.Cluster.Name, err)
	}
	if _, err := createSnapshot(ctx, snaps, shared); err != nil {
		return contract.Snapshot{}, err
	}
	s, err := waitSnapshot(ctx, snaps, in.Cluster, in.ToNamespace, name, kube.SnapshotReady, "ready to use")
	if err != nil {
		return contract.Snapshot{}, err
	}
	return snapshotOf(s), nil
}

// CleanupRestore deletes what a restore made and did not hand over, by its
// operation labels: a new PVC that never became the user's (a failed or
// cancelled restore), then the shared VolumeSnapshot and its
// VolumeSnapshotContent (Retain: the storage snapshot stays). The DR PVC,
// the restore points and a handed-over PVC never carry those labels.
func (a *SnapshotActivities) CleanupRestore(ctx context.Context, in contract.CleanupRestoreInput) (contract.CleanupResult, error) {
	selector := kube.OperationSelector(in.Op.WorkflowID)
	cs, err := a.Clusters.Clientset(ctx, in.Cluster.Namespace, in.Cluster.Name)
	if err != nil {
		return contract.CleanupResult{}, activities.Classify(err)
	}
	snaps, err := a.snapshots(ctx, in.Cluster)
	if err != nil {
		return contract.CleanupResult{}, err
	}
	deleted, err := activities.DeleteClaimsAndSnapshots(ctx, cs, snaps, in.Cluster, in.Namespace, selector)
	result := contract.CleanupResult{Deleted: deleted}
	if err != nil {
		return result, err
	}
	contents := snaps.SnapshotV1().VolumeSnapshotContents()
	list, err := contents.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if apierrors.IsNotFound(err) {
		return result, nil // no VolumeSnapshot API in this cluster
	}
	if err != nil {
		return result, fmt.Errorf("list VolumeSnapshotContents of the restore in %s: %w", in.Cluster.Name, err)
	}
	for _, c := range list.Items {
		activity.RecordHeartbeat(ctx, "deleting VolumeSnapshotContent "+c.Name)
		if err := contents.Delete(ctx, c.Name, metav1.DeleteOptions{}); activities.IgnoreNotFound(err) != nil {
			return result, fmt.Errorf("delete VolumeSnapshotContent %s in %s: %w", c.Name, in.Cluster.Name, err)
		}
		result.Deleted = append(result.Deleted, fmt.Sprintf("%s/volumesnapshotcontent/%s", in.Cluster.Name, c.Name))
	}
	return result, nil
}
