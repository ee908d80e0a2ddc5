package pointintime

import (
	"context"
	"fmt"
	"sort"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	"go.temporal.io/sdk/activity"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

const roleRestorePoint = "restore-point"

// TakeRestorePoint snapshots a DR PVC right after a good sync and waits
// until the snapshot is ready. Until then it carries the operation's label,
// so a sync that fails or is cancelled here leaves nothing that counts: its
// cleanup deletes it. Once ready the label goes and the restore point is
// kept; it records the Replication, the run, the source's identity and the
// instant of the source the copy holds.
func (a *SnapshotActivities) TakeRestorePoint(ctx context.Context, in contract.RestorePointInput) (contract.RestorePoint, error) {
	cs, err := a.Clusters.Clientset(ctx, in.PVC.Cluster.Namespace, in.PVC.Cluster.Name)
	if err != nil {
		return contract.RestorePoint{}, activities.Classify(err)
	}
	pvc, err := activities.GetPVC(ctx, cs, in.PVC)
	if err != nil {
		return contract.RestorePoint{}, err
	}
	driver, err := driverOf(ctx, cs, pvc)
	if err != nil {
		return contract.RestorePoint{}, err
	}
	class, problem, err := a.snapshotClass(ctx, in.PVC.Cluster, driver, kube.StorageClassOf(pvc), in.RestorePoints.VolumeSnapshotClassName)
	if err != nil {
		return contract.RestorePoint{}, err
	}
	if problem != "" {
		return contract.RestorePoint{}, activities.NonRetryable(contract.ErrTypeNoSnapshotClass,
			"restore point of DR PVC %s in cluster %s: %s (or set pvcConfig.restorePoints.keep to 0)", in.PVC, in.PVC.Cluster.Name, problem)
	}
	snaps, err := a.snapshots(ctx, in.PVC.Cluster)
	if err != nil {
		return contract.RestorePoint{}, err
	}
	lbl := in.Op.Labels(roleRestorePoint)
	lbl[kube.LabelRestorePointOf] = kube.OperationID(in.Replication)
	lbl[kube.LabelCopiedAt] = in.CopiedAt.UTC().Format("20060102T150405Z")
	if uid := pvc.Annotations[kube.AnnotationSourceUID]; uid != "" {
		lbl[kube.LabelSourceUID] = uid
	}
	ann := map[string]string{
		kube.AnnotationReplication: in.Replication,
		kube.AnnotationCopiedAt:    in.CopiedAt.UTC().Format(time.RFC3339Nano),
	}
	for _, k := range []string{kube.AnnotationSource, kube.AnnotationSourceCluster, kube.AnnotationSourceNamespace,
		kube.AnnotationSourcePVC, kube.AnnotationSourceUID} {
		if v := pvc.Annotations[k]; v != "" {
			ann[k] = v
		}
	}
	want := kube.VolumeSnapshot(in.PVC.Namespace, restorePointName(in.PVC.Name, in.CopiedAt, in.Op.RunID), in.PVC.Name, class, lbl, ann)
	if _, err := createSnapshot(ctx, snaps, want); err != nil {
		return contract.RestorePoint{}, err
	}
	s, err := waitSnapshot(ctx, snaps, in.PVC.Cluster, want.Namespace, want.Name, kube.SnapshotReady, "ready to use")
	if err != nil {
		return contract.RestorePoint{}, err
	}
	// Ready: from now on it is a restore point, which no cleanup deletes.
	keep := kube.RemoveLabelsPatch(kube.LabelOperation)
	if s, err = snaps.SnapshotV1().VolumeSnapshots(s.Namespace).Patch(ctx, s.Name, types.MergePatchType, keep, metav1.PatchOptions{}); err != nil {
		return contract.RestorePoint{}, fmt.Errorf("keep restore point %s/%s in %s: %w", want.Namespace, want.Name, in.PVC.Cluster.Name, err)
	}
	return restorePointOf(s), nil
}

// PruneRestorePoints deletes a DR PVC's restore points beyond the newest
// Keep, and returns those kept, newest first. Only complete restore points
// count and only they are ever deleted here.
func (a *SnapshotActivities) PruneRestorePoints(ctx context.Context, in contract.PruneRestorePointsInput) ([]contract.RestorePoint, error) {
	if in.Keep < 1 {
		return nil, activities.InvalidSpec("pruning restore points of %s to keep %d: keep must be at least 1", in.PVC, in.Keep)
	}
	points, err := a.restorePoints(ctx, in.PVC.Cluster, in.PVC.Namespace, in.Replication, in.PVC.Name)
	if err != nil {
		return nil, err
	}
	snaps, err := a.snapshots(ctx, in.PVC.Cluster)
	if err != nil {
		return nil, err
	}
	for _, old := range points[min(len(points), int(in.Keep)):] {
		activity.RecordHeartbeat(ctx, "deleting restore point "+old.Name)
		err := snaps.SnapshotV1().VolumeSnapshots(in.PVC.Namespace).Delete(ctx, old.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("delete restore point %s/%s in %s: %w", in.PVC.Namespace, old.Name, in.PVC.Cluster.Name, err)
		}
	}
	return points[:min(len(points), int(in.Keep))], nil
}

// ListRestorePoints lists a Replication's complete restore points in DR,
// newest first, of one DR PVC or of all.
func (a *SnapshotActivities) ListRestorePoints(ctx context.Context, in contract.ListRestorePointsInput) ([]contract.RestorePoint, error) {
	return a.restorePoints(ctx, in.Cluster, in.Namespace, in.Replication, in.PVC)
}

func (a *SnapshotActivities) restorePoints(ctx context.Context, cluster contract.ClusterRef, namespace, replication, pvc string) ([]contract.RestorePoint, error) {
	snaps, err := a.snapshots(ctx, cluster)
	if err != nil {
		return nil, err
	}
	complete, _ := labels.NewRequirement(kube.LabelOperation, selection.DoesNotExist, nil)
	selector := labels.SelectorFromSet(labels.Set{kube.LabelRestorePointOf: kube.OperationID(replication)}).Add(*complete)
	list, err := snaps.SnapshotV1().VolumeSnapshots(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
	if apierrors.IsNotFound(err) {
		return nil, nil // no VolumeSnapshot API in this cluster: no restore points
	}
	if err != nil {
		return nil, fmt.Errorf("list restore points of %s in %s/%s: %w", replication, cluster.Name, namespace, err)
	}
	var points []contract.RestorePoint
	for i := range list.Items {
		s := &list.Items[i]
		if s.Annotations[kube.AnnotationReplication] != replication || !kube.SnapshotReady(s) || s.DeletionTimestamp != nil {
			continue
		}
		if p := restorePointOf(s); pvc == "" || p.PVC == pvc {
			points = append(points, p)
		}
	}
	sort.Slice(points, func(i, j int) bool {
		if !points[i].CopiedAt.Equal(points[j].CopiedAt) {
			return points[i].CopiedAt.After(points[j].CopiedAt)
		}
		return points[i].Name > points[j].Name
	})
	return points, nil
}

func restorePointOf(s *snapv1.VolumeSnapshot) contract.RestorePoint {
	p := contract.RestorePoint{Name: s.Name, Size: kube.SnapshotRestoreSize(s), Run: s.Labels[kube.LabelRun]}
	if s.Spec.Source.PersistentVolumeClaimName != nil {
		p.PVC = *s.Spec.Source.PersistentVolumeClaimName
	}
	if t, err := time.Parse(time.RFC3339Nano, s.Annotations[kube.AnnotationCopiedAt]); err == nil {
		p.CopiedAt = t
	} else {
		p.CopiedAt = kube.SnapshotTime(s)
	}
	return p
}

// restorePointName is "<pvc>-rp-<UTC time of the copy>-<run>": sorted by
// name is sorted by age, a retried step finds what it created, and two runs
// within one second never share one.
func restorePointName(pvc string, copiedAt time.Time, runID string) string {
	if len(pvc) > 200 {
		pvc = pvc[:200]
	}
	return fmt.Sprintf("%s-rp-%s-%s", pvc, copiedAt.UTC().Format("20060102-150405"), kube.OperationID(runID)[:6])
}
