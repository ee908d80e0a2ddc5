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
	sourceNode := nodeNamed(srcNodes.Items, source.Node)
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
	room, err := moverRoom(ctx, dst, nodeNamed(dstNodes.Items, target.Node), a.dataPodResources())
	if err != nil {
		return contract.NodePlan{}, err
	}
	if in.TargetName != "" {
		provisionAhead(ctx, dst, in.TargetNamespace, in.TargetName, target.Node)
	}
	return contract.NodePlan{Source: source, SourceAddress: address, Target: target, AttachLimit: limit, MoverRoom: room}, nil
}

// nodeNamed is the node of nodes called name; nil if none is.
func nodeNamed(nodes []corev1.Node, name string) *corev1.Node {
	for i := range nodes {
		if nodes[i].Name == name {
			return &nodes[i]
		}
	}
	return nil
}

// annProvisionedAhead records the node provisionAhead selected on a claim,
// so that a later run, or a retry, that chooses another node while the
// claim is still unbound can tell its own choice from the scheduler's.
const annProvisionedAhead = "dr-syncer.io/provisioned-ahead-on"

// provisionAhead selects node for a new DR claim whose class binds on first
// consumer, as the scheduler does once a pod that uses it is placed
// (volume.kubernetes.io/selected-node, which the claim's provisioner acts
// on): its volume is then made while the sync's pods are, not after its
// sync pod is scheduled. The scheduler waits for a claim it had provisioned
// by looking every second, so that cost a first sync at least a second
// before its mover started. The sync pod is pinned to node.
//
// Only a claim dr-syncer made (kube.IsCopy), unbound and not being
// deleted, of a class with a provisioner and no allowed topologies (the
// scheduler weighs those; a class without a provisioner binds pre-made
// volumes, which a selected node would stop), is changed. A node selected
// by anyone else is left alone; one this selected earlier is moved to
// node, since a run that chooses another node would otherwise find its
// pinned pod unplaceable: the scheduler only places a pod of an unbound
// claim on its selected node. The patch carries the claim's
// resourceVersion, so it changes nothing that moved meanwhile. It only
// saves time: a failure is logged, and the pod's scheduling provisions the
// claim as before.
func provisionAhead(ctx context.Context, dst kubernetes.Interface, namespace, name, node string) {
	claims := dst.CoreV1().PersistentVolumeClaims(namespace)
	pvc, err := claims.Get(ctx, name, metav1.GetOptions{})
	if err == nil && !ownsSelection(pvc, node) {
		return
	}
	var class *storagev1.StorageClass
	if err == nil {
		class, err = dst.StorageV1().StorageClasses().Get(ctx, *pvc.Spec.StorageClassName, metav1.GetOptions{})
	}
	if err == nil && (class.VolumeBindingMode == nil || *class.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer ||
		class.Provisioner == volume.NotSupportedProvisioner || len(class.AllowedTopologies) > 0) {
		return
	}
	if err == nil {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
			"resourceVersion": pvc.ResourceVersion,
			"annotations":     map[string]string{volume.AnnSelectedNode: node, annProvisionedAhead: node},
		}})
		_, err = claims.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
	}
	if err != nil {
		activity.GetLogger(ctx).Warn("could not provision the DR claim ahead of its sync pod; the scheduler will",
			"claim", namespace+"/"+name, "node", node, "error", err)
	}
}

// ownsSelection says provisionAhead may select node on pvc: a copy that is
// unbound, not being deleted and of a named class, with no node selected,
// or with another node that provisionAhead itself selected.
func ownsSelection(pvc *corev1.PersistentVolumeClaim, node string) bool {
	if !kube.IsCopy(pvc.Labels) || pvc.Spec.VolumeName != "" || pvc.DeletionTimestamp != nil ||
		pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" {
		return false
	}
	selected := pvc.Annotations[volume.AnnSelectedNode]
	return selected == "" || selected != node && selected == pvc.Annotations[annProvisionedAhead]
}
