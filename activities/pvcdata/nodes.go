package pvcdata

import (
	"context"
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-helpers/storage/volume"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// ChooseNodes picks the source node that can mount the PVC and the DR node
// that best matches it.
func (a *PVCActivities) ChooseNodes(ctx context.Context, in contract.ChooseNodesInput) (contract.NodePlan, error) {
	src, err := a.Clusters.Clientset(ctx, in.Source.Cluster.Namespace, in.Source.Cluster.Name)
	if err != nil {
		return contract.NodePlan{}, activities.Classify(err)
	}
	dst, err := a.Clusters.Clientset(ctx, in.Destination.Namespace, in.Destination.Name)
	if err != nil {
		return contract.NodePlan{}, activities.Classify(err)
	}
	pvc, err := activities.GetPVC(ctx, src, in.Source)
	if err != nil {
		return contract.NodePlan{}, err
	}
	var pv *corev1.PersistentVolume
	if pvc.Spec.VolumeName != "" {
		if pv, err = src.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{}); err != nil {
			return contract.NodePlan{}, fmt.Errorf("get PV %s of %s: %w", pvc.Spec.VolumeName, in.Source, err)
		}
	}
	pods, err := src.CoreV1().Pods(in.Source.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return contract.NodePlan{}, fmt.Errorf("list pods in %s/%s: %w", in.Source.Cluster.Name, in.Source.Namespace, err)
	}
	srcNodes, err := src.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return contract.NodePlan{}, fmt.Errorf("list nodes of %s: %w", in.Source.Cluster.Name, err)
	}
	source, err := kube.ChooseSourceNode(pvc, pv, pods.Items, srcNodes.Items)
	if err != nil {
		return contract.NodePlan{}, err
	}
	var sourceNode *corev1.Node
	for i := range srcNodes.Items {
		if srcNodes.Items[i].Name == source.Node {
			sourceNode = &srcNodes.Items[i]
		}
	}
	address := kube.InternalIP(sourceNode)
	if address == "" {
		return contract.NodePlan{}, fmt.Errorf("source node %s has no InternalIP address for its agent", source.Node)
	}
	dstNodes, err := dst.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return contract.NodePlan{}, fmt.Errorf("list nodes of %s: %w", in.Destination.Name, err)
	}
	target, err := kube.ChooseTargetNode(sourceNode, dstNodes.Items)
	if err != nil {
		return contract.NodePlan{}, err
	}
	limit, err := attachLimit(ctx, src, dst, source.Node, target.Node, pvc, pv, in.TargetStorageClass)
	if err != nil {
		return contract.NodePlan{}, err
	}
	if in.TargetName != "" {
		provisionAhead(ctx, dst, in.TargetNamespace, in.TargetName, target.Node)
	}
	return contract.NodePlan{Source: source, SourceAddress: address, Target: target, AttachLimit: limit}, nil
}

// provisionAhead selects node for a new DR claim whose class binds on first
// consumer, as the scheduler does once a pod that uses it is placed
// (volume.kubernetes.io/selected-node, which the claim's provisioner acts
// on): its volume is then made while the sync's pods are, not after its
// sync pod is scheduled. The scheduler waits for a claim it had provisioned
// by looking every second, so that cost a first sync at least a second
// before its mover started. The sync pod is pinned to node, so this is the
// node the scheduler would have selected. A claim that is bound, being
// deleted, or already has a node selected is left alone; the patch carries
// the claim's resourceVersion, so it changes nothing that moved meanwhile.
// It only saves time: a failure is logged, and the scheduler provisions
// the claim as before.
func provisionAhead(ctx context.Context, dst kubernetes.Interface, namespace, name, node string) {
	claims := dst.CoreV1().PersistentVolumeClaims(namespace)
	pvc, err := claims.Get(ctx, name, metav1.GetOptions{})
	if err == nil && (pvc.Spec.VolumeName != "" || pvc.DeletionTimestamp != nil || pvc.Annotations[volume.AnnSelectedNode] != "" ||
		pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "") {
		return
	}
	var class *storagev1.StorageClass
	if err == nil {
		class, err = dst.StorageV1().StorageClasses().Get(ctx, *pvc.Spec.StorageClassName, metav1.GetOptions{})
	}
	if err == nil && (class.VolumeBindingMode == nil || *class.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer) {
		return
	}
	if err == nil {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"resourceVersion": pvc.ResourceVersion,
			"annotations":     map[string]string{volume.AnnSelectedNode: node},
		}})
		_, err = claims.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	}
	if err != nil {
		activity.GetLogger(ctx).Warn("could not provision the DR claim ahead of its sync pod; the scheduler will",
			"claim", namespace+"/"+name, "node", node, "error", err)
	}
}
