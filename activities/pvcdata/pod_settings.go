package pvcdata

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// PodSettings are the worker's settings of the mount and sync pods.
type PodSettings struct {
	// Resources are the pods' requests and limits; zero means
	// kube.DefaultDataPodResources.
	Resources corev1.ResourceRequirements
	// AnyMountClient lets a mount pod's rsync daemon accept any address (the
	// per-operation credentials still apply), for a CNI where a host-network
	// agent reaches local pods from an address kube.AgentSourceAddresses does
	// not know.
	AnyMountClient bool
}

// dataPodResources are the resources of each data container: the
// worker's, or kube.DefaultDataPodResources when it sets none.
func (a *PVCActivities) dataPodResources() corev1.ResourceRequirements {
	return kube.OrDefaultResources(a.Pods.Resources)
}

// mountClients are the addresses the mount pod on node admits: those of
// the agent pods on that node, or nil (any) when the worker allows any.
func (a *PVCActivities) mountClients(ctx context.Context, cs kubernetes.Interface, in contract.MountPodInput) ([]string, error) {
	if a.Pods.AnyMountClient {
		return nil, nil
	}
	agents, err := cs.CoreV1().Pods(contract.AgentNamespace).List(ctx, metav1.ListOptions{
		LabelSelector: kube.AgentSelector,
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", in.Node).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("list agent pods on node %s of %s: %w", in.Node, in.PVC.Cluster.Name, err)
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, in.Node, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get node %s of %s: %w", in.Node, in.PVC.Cluster.Name, err)
	}
	allow, err := kube.AgentSourceAddresses(agents.Items, node)
	if err != nil {
		return nil, fmt.Errorf("mount pod for %s (agent namespace %s): %w", in.PVC, contract.AgentNamespace, err)
	}
	return allow, nil
}
