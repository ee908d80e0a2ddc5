package pvcdata

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	return contract.NodePlan{Source: source, SourceAddress: address, Target: target, AttachLimit: limit}, nil
}
