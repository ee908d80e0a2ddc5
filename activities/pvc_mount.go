package activities

import (
	"context"
	"fmt"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Image is the data-plane image the mount and sync pods run.
type Image struct {
	Reference  string            `json:"reference"`
	PullPolicy corev1.PullPolicy `json:"pullPolicy"`
}

// MountPodInput places the source-side mount pod.
type MountPodInput struct {
	Op          Operation `json:"op"`
	PVC         PVCRef    `json:"pvc"`
	Node        string    `json:"node"`
	Image       Image     `json:"image"`
	Credentials string    `json:"credentials"`
}

// MountPod is a ready mount pod.
type MountPod struct {
	Name string `json:"name"`
	// Target is the rsync daemon's ip:port, as the agent on the node reaches it.
	Target string `json:"target"`
}

// MountPodTimeout bounds one attempt of EnsureMountPod: as long as the mover
// waits for the mount pod to become reachable.
const MountPodTimeout = mover.DefaultTargetWait

func (in MountPodInput) podName() string { return in.Op.Name("mount") }

// Target names the mount pod's rsync daemon before the pod exists; the agent
// resolves the name once the pod has an IP.
func (in MountPodInput) Target() string { return kube.MountTarget(in.PVC.Namespace, in.podName()) }

// EnsureMountPod creates (or finds) the mount pod on the source node and
// waits until its rsync daemon is ready.
func (a *PVCActivities) EnsureMountPod(ctx context.Context, in MountPodInput) (MountPod, error) {
	cs, err := a.Clusters.Clientset(ctx, in.PVC.Cluster.Namespace, in.PVC.Cluster.Name)
	if err != nil {
		return MountPod{}, classify(err)
	}
	pod := kube.MountPod(kube.MountPodOptions{
		Name: in.podName(), Namespace: in.PVC.Namespace, Node: in.Node, Claim: in.PVC.Name,
		Image: in.Image.Reference, PullPolicy: in.Image.PullPolicy,
		Labels: in.Op.Labels("mount"), CredentialsSecret: in.Credentials,
	})
	if _, err := createOrGetPod(ctx, cs, pod); err != nil {
		return MountPod{}, err
	}
	ready, err := waitPodReady(ctx, cs, pod.Namespace, pod.Name)
	if err != nil {
		return MountPod{}, fmt.Errorf("mount pod for %s: %w", in.PVC, err)
	}
	return MountPod{Name: ready.Name, Target: net.JoinHostPort(ready.Status.PodIP, strconv.Itoa(kube.MountServerPort))}, nil
}
