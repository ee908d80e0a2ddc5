package pvcdata

import (
	"context"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// MountPodTimeout bounds one attempt of EnsureMountPod: as long as the mover
// waits for the mount pod to become reachable.
const MountPodTimeout = mover.DefaultTargetWait

// EnsureMountPod creates (or finds) the mount pod on the source node and
// waits until its rsync daemon is ready.
func (a *PVCActivities) EnsureMountPod(ctx context.Context, in contract.MountPodInput) (contract.MountPod, error) {
	if err := a.checkMountPod(ctx, in); err != nil {
		return contract.MountPod{}, err
	}
	cs, err := a.Clusters.Clientset(ctx, in.PVC.Cluster.Namespace, in.PVC.Cluster.Name)
	if err != nil {
		return contract.MountPod{}, activities.Classify(err)
	}
	pod, err := a.mountPod(ctx, cs, in)
	if err != nil {
		return contract.MountPod{}, err
	}
	if _, err := activities.CreateOrGetPod(ctx, cs, pod); err != nil {
		return contract.MountPod{}, err
	}
	ready, err := activities.WaitPodReady(ctx, cs, pod.Namespace, pod.Name)
	if err != nil {
		return contract.MountPod{}, fmt.Errorf("mount pod for %s: %w", in.PVC, err)
	}
	return contract.MountPod{Name: ready.Name, Target: net.JoinHostPort(ready.Status.PodIP, strconv.Itoa(kube.MountServerPort))}, nil
}

// mountPod is the mount pod of in, admitting only the agent's addresses.
func (a *PVCActivities) mountPod(ctx context.Context, cs kubernetes.Interface, in contract.MountPodInput) (*corev1.Pod, error) {
	opts, err := a.mountPodOptions(ctx, cs, in)
	if err != nil {
		return nil, err
	}
	return kube.MountPod(opts), nil
}

// mountPodOptions are the mount pod of in: the solo sync's, and a batch's
// but for its claims.
func (a *PVCActivities) mountPodOptions(ctx context.Context, cs kubernetes.Interface, in contract.MountPodInput) (kube.MountPodOptions, error) {
	allow, err := a.mountClients(ctx, cs, in)
	if err != nil {
		return kube.MountPodOptions{}, err
	}
	return kube.MountPodOptions{
		Name: in.PodName(), Namespace: in.PVC.Namespace, Node: in.Node, Claim: in.PVC.Name,
		Image: in.Image.Reference, PullPolicy: in.Image.PullPolicy,
		Labels: in.Op.Labels("mount"), CredentialsSecret: in.Credentials,
		Resources: a.Pods.Resources, HostsAllow: allow,
	}, nil
}
