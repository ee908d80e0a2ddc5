package activities

import (
	"context"
	"fmt"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"go.temporal.io/sdk/activity"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/contract"
)

// DeleteClaimsAndSnapshots deletes an operation's temporary PVCs (a
// snapshot's restore or a clone), then its VolumeSnapshots (the source
// snapshot, an unfinished restore point), selected by the operation's
// labels, and waits until they are gone. A cluster without the
// VolumeSnapshot API has none. It returns what it deleted, as
// cluster/kind/namespace/name.
func DeleteClaimsAndSnapshots(ctx context.Context, cs kubernetes.Interface, snapClient snapclient.Interface,
	cluster contract.ClusterRef, namespace, selector string) ([]string, error) {
	var deleted []string
	claims := cs.CoreV1().PersistentVolumeClaims(namespace)
	list, err := claims.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return deleted, fmt.Errorf("list PVCs of the operation in %s/%s: %w", cluster.Name, namespace, err)
	}
	for _, c := range list.Items {
		activity.RecordHeartbeat(ctx, "deleting PVC "+c.Name)
		if err := claims.Delete(ctx, c.Name, metav1.DeleteOptions{}); IgnoreNotFound(err) != nil {
			return deleted, fmt.Errorf("delete PVC %s/%s in %s: %w", namespace, c.Name, cluster.Name, err)
		}
		if err := WaitGone(ctx, func() error { _, err := claims.Get(ctx, c.Name, metav1.GetOptions{}); return err }); err != nil {
			return deleted, fmt.Errorf("PVC %s/%s in %s: %w", namespace, c.Name, cluster.Name, err)
		}
		deleted = append(deleted, fmt.Sprintf("%s/pvc/%s/%s", cluster.Name, namespace, c.Name))
	}
	snaps := snapClient.SnapshotV1().VolumeSnapshots(namespace)
	snapList, err := snaps.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if apierrors.IsNotFound(err) {
		return deleted, nil // no VolumeSnapshot API in this cluster
	}
	if err != nil {
		return deleted, fmt.Errorf("list VolumeSnapshots of the operation in %s/%s: %w", cluster.Name, namespace, err)
	}
	for _, s := range snapList.Items {
		activity.RecordHeartbeat(ctx, "deleting VolumeSnapshot "+s.Name)
		if err := snaps.Delete(ctx, s.Name, metav1.DeleteOptions{}); IgnoreNotFound(err) != nil {
			return deleted, fmt.Errorf("delete VolumeSnapshot %s/%s in %s: %w", namespace, s.Name, cluster.Name, err)
		}
		if err := WaitGone(ctx, func() error { _, err := snaps.Get(ctx, s.Name, metav1.GetOptions{}); return err }); err != nil {
			return deleted, fmt.Errorf("VolumeSnapshot %s/%s in %s: %w", namespace, s.Name, cluster.Name, err)
		}
		deleted = append(deleted, fmt.Sprintf("%s/volumesnapshot/%s/%s", cluster.Name, namespace, s.Name))
	}
	return deleted, nil
}

// IgnoreNotFound treats "already gone" as done.
func IgnoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// WaitGone polls get until the object is not found.
func WaitGone(ctx context.Context, get func() error) error {
	for {
		err := get()
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := Sleep(ctx); err != nil {
			return fmt.Errorf("still there: %w", err)
		}
	}
}
