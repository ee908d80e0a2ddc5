package pvcdata

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Cleanup deletes every pod, Secret, temporary PVC and VolumeSnapshot of the
// operation, from this run or an earlier crashed one, in both clusters, and
// waits until the pods and claims are gone so the volumes are free. It never
// touches anything else: it selects by the operation label only (a restore
// point loses that label once it is complete), and with in.Leftovers also
// by the member label, which only batches' pods and Secrets carry.
func (a *PVCActivities) Cleanup(ctx context.Context, in contract.CleanupInput) (contract.CleanupResult, error) {
	selector, selectors := cleanupSelectors(in)
	var result contract.CleanupResult
	sides := cleanupSides(in)
	// The pods of both sides are deleted first and then waited for
	// together: each takes its grace period to stop, and one after the
	// other those added up on every sync.
	type deleting struct {
		side int
		pod  corev1.Pod
	}
	var pods []deleting
	for i := range sides {
		s := &sides[i]
		cs, err := a.Clusters.Clientset(ctx, s.cluster.Namespace, s.cluster.Name)
		if err != nil {
			return result, activities.Classify(err)
		}
		s.cs = cs
		for _, sel := range selectors {
			list, err := cs.CoreV1().Pods(s.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
			if err != nil {
				return result, fmt.Errorf("list pods of %s in %s/%s: %w", in.Op.WorkflowID, s.cluster.Name, s.namespace, err)
			}
			for _, pod := range list.Items {
				if err := activities.DeletePod(ctx, cs, &pod); err != nil {
					return result, err
				}
				pods = append(pods, deleting{i, pod})
			}
		}
	}
	for _, d := range pods {
		s := sides[d.side]
		activity.RecordHeartbeat(ctx, "waiting for pod "+d.pod.Name+" to go")
		if err := activities.WaitPodGone(ctx, s.cs, &d.pod); err != nil {
			return result, err
		}
		result.Deleted = append(result.Deleted, fmt.Sprintf("%s/pod/%s/%s", s.cluster.Name, s.namespace, d.pod.Name))
	}
	for _, s := range sides {
		for _, sel := range selectors {
			deleted, err := deleteSecrets(ctx, s.cs, s.cluster, s.namespace, sel)
			result.Deleted = append(result.Deleted, deleted...)
			if err != nil {
				return result, fmt.Errorf("secrets of %s: %w", in.Op.WorkflowID, err)
			}
		}
		snaps, err := a.Clusters.Snapshots(ctx, s.cluster.Namespace, s.cluster.Name)
		if err != nil {
			return result, activities.Classify(err)
		}
		deleted, err := activities.DeleteClaimsAndSnapshots(ctx, s.cs, snaps, s.cluster, s.namespace, selector)
		result.Deleted = append(result.Deleted, deleted...)
		if err != nil {
			return result, err
		}
	}
	return result, nil
}

// cleanupSide is one cluster's namespace that a cleanup searches.
type cleanupSide struct {
	cluster   contract.ClusterRef
	namespace string
	cs        kubernetes.Interface
}

func cleanupSides(in contract.CleanupInput) []cleanupSide {
	return []cleanupSide{{cluster: in.Source, namespace: in.SourceNamespace}, {cluster: in.Destination, namespace: in.DestinationNamespace}}
}

// cleanupSelectors are the operation's selector, which every kind is
// searched with, and the selectors pods and Secrets are searched with.
func cleanupSelectors(in contract.CleanupInput) (string, []string) {
	selector := kube.OperationSelector(in.Op.WorkflowID)
	if in.Leftovers {
		return selector, []string{selector, kube.MemberSelector(in.Op.WorkflowID)}
	}
	return selector, []string{selector}
}

// FindWorkingObjects lists what Cleanup with the same input would delete,
// and deletes nothing. Most syncs find nothing before they start, and a
// batched one nothing of its own at its end; the workflow runs this
// read-only step locally and the Cleanup activity only when it finds
// something (a Cleanup costs the run an activity task and a workflow task).
// It reads as Cleanup does, from etcd, so it sees what the sync made a
// moment ago.
func (a *PVCActivities) FindWorkingObjects(ctx context.Context, in contract.CleanupInput) (contract.WorkingObjects, error) {
	var found contract.WorkingObjects
	selector, selectors := cleanupSelectors(in)
	for _, s := range cleanupSides(in) {
		cs, err := a.Clusters.Clientset(ctx, s.cluster.Namespace, s.cluster.Name)
		if err != nil {
			return found, activities.Classify(err)
		}
		snaps, err := a.Clusters.Snapshots(ctx, s.cluster.Namespace, s.cluster.Name)
		if err != nil {
			return found, activities.Classify(err)
		}
		type search struct {
			kind      string
			selectors []string
			list      func(metav1.ListOptions) ([]string, error)
		}
		ns := s.namespace
		searches := []search{
			{"pod", selectors, func(o metav1.ListOptions) ([]string, error) { return kube.Names(cs.CoreV1().Pods(ns).List(ctx, o)) }},
			{"secret", selectors, func(o metav1.ListOptions) ([]string, error) { return kube.Names(cs.CoreV1().Secrets(ns).List(ctx, o)) }},
			// Claims and snapshots serve no other operation.
			{"pvc", []string{selector}, func(o metav1.ListOptions) ([]string, error) {
				return kube.Names(cs.CoreV1().PersistentVolumeClaims(ns).List(ctx, o))
			}},
			{"volumesnapshot", []string{selector}, func(o metav1.ListOptions) ([]string, error) {
				names, err := kube.Names(snaps.SnapshotV1().VolumeSnapshots(ns).List(ctx, o))
				if apierrors.IsNotFound(err) {
					return nil, nil // no VolumeSnapshot API in this cluster
				}
				return names, err
			}},
		}
		for _, search := range searches {
			for _, sel := range search.selectors {
				names, err := search.list(metav1.ListOptions{LabelSelector: sel})
				if err != nil {
					return found, fmt.Errorf("list %ss of %s in %s/%s: %w", search.kind, in.Op.WorkflowID, s.cluster.Name, ns, err)
				}
				for _, name := range names {
					found.Objects = append(found.Objects, fmt.Sprintf("%s/%s/%s/%s", s.cluster.Name, search.kind, ns, name))
				}
			}
		}
	}
	return found, nil
}

// deleteSecrets deletes the Secrets selector selects in one namespace, and
// lists them as cluster/secret/namespace/name.
func deleteSecrets(ctx context.Context, cs kubernetes.Interface, cluster contract.ClusterRef, namespace, selector string) ([]string, error) {
	secrets, err := cs.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list in %s/%s: %w", cluster.Name, namespace, err)
	}
	var deleted []string
	for _, sec := range secrets.Items {
		if err := cs.CoreV1().Secrets(namespace).Delete(ctx, sec.Name, metav1.DeleteOptions{}); activities.IgnoreNotFound(err) != nil {
			return deleted, fmt.Errorf("delete %s/%s in %s: %w", namespace, sec.Name, cluster.Name, err)
		}
		deleted = append(deleted, fmt.Sprintf("%s/secret/%s/%s", cluster.Name, namespace, sec.Name))
	}
	return deleted, nil
}
