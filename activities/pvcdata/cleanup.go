package pvcdata

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Cleanup deletes every pod, Secret, temporary PVC and VolumeSnapshot of the
// operation, from this run or an earlier crashed one, in both clusters, and
// waits until the pods and claims are gone so the volumes are free. It never
// touches anything else: it selects by the operation label only (a restore
// point loses that label once it is complete).
func (a *PVCActivities) Cleanup(ctx context.Context, in contract.CleanupInput) (contract.CleanupResult, error) {
	selector := kube.OperationSelector(in.Op.WorkflowID)
	var result contract.CleanupResult
	for _, side := range []struct {
		cluster   contract.ClusterRef
		namespace string
	}{{in.Source, in.SourceNamespace}, {in.Destination, in.DestinationNamespace}} {
		cs, err := a.Clusters.Clientset(ctx, side.cluster.Namespace, side.cluster.Name)
		if err != nil {
			return result, activities.Classify(err)
		}
		pods, err := cs.CoreV1().Pods(side.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return result, fmt.Errorf("list pods of %s in %s/%s: %w", in.Op.WorkflowID, side.cluster.Name, side.namespace, err)
		}
		for i := range pods.Items {
			pod := &pods.Items[i]
			activity.RecordHeartbeat(ctx, "deleting pod "+pod.Name)
			if err := activities.DeletePodAndWait(ctx, cs, pod); err != nil {
				return result, err
			}
			result.Deleted = append(result.Deleted, fmt.Sprintf("%s/pod/%s/%s", side.cluster.Name, side.namespace, pod.Name))
		}
		secrets, err := cs.CoreV1().Secrets(side.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return result, fmt.Errorf("list Secrets of %s in %s/%s: %w", in.Op.WorkflowID, side.cluster.Name, side.namespace, err)
		}
		for _, s := range secrets.Items {
			if err := cs.CoreV1().Secrets(side.namespace).Delete(ctx, s.Name, metav1.DeleteOptions{}); activities.IgnoreNotFound(err) != nil {
				return result, fmt.Errorf("delete Secret %s/%s in %s: %w", side.namespace, s.Name, side.cluster.Name, err)
			}
			result.Deleted = append(result.Deleted, fmt.Sprintf("%s/secret/%s/%s", side.cluster.Name, side.namespace, s.Name))
		}
		snaps, err := a.Clusters.Snapshots(ctx, side.cluster.Namespace, side.cluster.Name)
		if err != nil {
			return result, activities.Classify(err)
		}
		deleted, err := activities.DeleteClaimsAndSnapshots(ctx, cs, snaps, side.cluster, side.namespace, selector)
		result.Deleted = append(result.Deleted, deleted...)
		if err != nil {
			return result, err
		}
	}
	return result, nil
}
