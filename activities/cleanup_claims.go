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
	claims := cs.CoreV1().PersistentVolumeClaims(namespace)
	claimList, err := claims.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list PVCs of the operation in %s/%s: %w", cluster.Name, namespace, err)
	}
	var names []string
	for _, c := range claimList.Items {
		names = append(names, c.Name)
	}
	deleted, err := deleteEachAndWait(ctx, cluster, namespace, "pvc", names,
		func(name string) error { return claims.Delete(ctx, name, metav1.DeleteOptions{}) },
		func(name string) error { _, err := claims.Get(ctx, name, metav1.GetOptions{}); return err })
	if err != nil {
		return deleted, err
	}
	snaps := snapClient.SnapshotV1().VolumeSnapshots(namespace)
	snapList, err := snaps.List(ctx, metav1.ListOptions{LabelSelector: selector})
	if apierrors.IsNotFound(err) {
		return deleted, nil // no VolumeSnapshot API in this cluster
	}
	if err != nil {
		return deleted, fmt.Errorf("list VolumeSnapshots of the operation in %s/%s: %w", cluster.Name, namespace, err)
	}
	names = names[:0]
	for _, s := range snapList.Items {
		names = append(names, s.Name)
	}
	more, err := deleteEachAndWait(ctx, cluster, namespace, "volumesnapshot", names,
		func(name string) error { return snaps.Delete(ctx, name, metav1.DeleteOptions{}) },
		func(name string) error { _, err := snaps.Get(ctx, name, metav1.GetOptions{}); return err })
	return append(deleted, more...), err
}

// deleteEachAndWait deletes the named objects of kind one after the other,
// waiting until each is gone, and returns them as cluster/kind/namespace/name.
func deleteEachAndWait(ctx context.Context, cluster contract.ClusterRef, namespace, kind string, names []string,
	del, get func(name string) error) ([]string, error) {
	var deleted []string
	for _, name := range names {
		activity.RecordHeartbeat(ctx, "deleting "+kind+" "+name)
		if err := del(name); IgnoreNotFound(err) != nil {
			return deleted, fmt.Errorf("delete %s %s/%s in %s: %w", kind, namespace, name, cluster.Name, err)
		}
		if err := WaitGone(ctx, func() error { return get(name) }); err != nil {
			return deleted, fmt.Errorf("%s %s/%s in %s: %w", kind, namespace, name, cluster.Name, err)
		}
		deleted = append(deleted, fmt.Sprintf("%s/%s/%s/%s", cluster.Name, kind, namespace, name))
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
