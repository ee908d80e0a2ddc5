package pvcdata

import (
	"context"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// placePoll is how often PlaceStagedSyncPod looks at the sync pods before
// its own: each look is one list from the API server's cache.
const placePoll = 250 * time.Millisecond

// roomPoll is how often it looks again while the pod does not fit: each
// look is three reads, and room comes back only when a pod on the node
// ends, which for a batch before it is about when the release comes.
const roomPoll = time.Second

// PlaceStagedSyncPod removes kube.StagedGate from a staged batch's sync
// pod before the batch is released, once every other sync pod dr-syncer
// made in the DR namespace that may start has started all its movers, and
// the pod fits on its node beside the pods there. Its
// movers then start while the batch before it moves data, and wait for
// their mount pod, which stays held until ReleaseBatchPods: no data moves
// before the release, so concurrentSyncs still bounds the syncs moving
// data. Starting a pod took most of each batch's turn, and now overlaps
// the transfers before it.
//
// Why wait for the others: a staged sync pod placed while a sync pod before
// it still waited for the scheduler could take the DR node's CPU that one
// needs, and the batch before would then wait for the staged one, which
// waits for it; and two pods starting at once slow each other, so the
// batch that moves data next would start later. Gated pods do not count
// (they compete for nothing), nor do finished or deleted ones. It also
// waits until the pod fits on its node (fitsNow).
//
// It reports whether it removed the gate, and returns false, changing
// nothing, when the pod is already ungated (the batch was released
// meanwhile) or gone: the release reports those. The run does not wait
// for it; if it fails, the release ungates the pod.
func (a *PVCActivities) PlaceStagedSyncPod(ctx context.Context, in contract.ReleaseBatchInput) (bool, error) {
	dst, err := a.Clusters.Clientset(ctx, in.Destination.Namespace, in.Destination.Name)
	if err != nil {
		return false, activities.Classify(err)
	}
	own := in.Op.Name("sync")
	selector := labels.SelectorFromSet(labels.Set{kube.LabelManagedBy: kube.ManagedBy, kube.LabelRole: "sync"}).String()
	for {
		list, err := dst.CoreV1().Pods(in.DestinationNamespace).List(ctx, metav1.ListOptions{LabelSelector: selector, ResourceVersion: "0"})
		if err != nil {
			return false, activities.Classify(err)
		}
		i := slices.IndexFunc(list.Items, func(p corev1.Pod) bool { return p.Name == own })
		if i < 0 || ungated(&list.Items[i]) {
			return false, nil
		}
		waiting, poll, err := notYet(ctx, dst, list.Items, i)
		if err != nil {
			return false, activities.Classify(err)
		}
		if waiting == "" {
			break
		}
		activity.RecordHeartbeat(ctx, "waiting for "+waiting)
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(poll):
		}
	}
	err = releaseBatchPod(ctx, dst, in.Op, in.DestinationNamespace, own, "sync", ungatePatch, ungated)
	return err == nil, err
}

// notYet says what the staged pod pods[own] waits for before it may be
// placed, another sync pod to start or room on its node ("" for nothing),
// and when to look again.
func notYet(ctx context.Context, cs kubernetes.Interface, pods []corev1.Pod, own int) (string, time.Duration, error) {
	for j, p := range pods {
		if j != own && starting(p) {
			return "sync pod " + p.Name + " to start", placePoll, nil
		}
	}
	fits, node, err := fitsNow(ctx, cs, &pods[own])
	if err != nil || fits {
		return "", 0, err
	}
	return "room on node " + node, roomPoll, nil
}

// fitsNow says the node pod is pinned to has the CPU and memory pod
// requests beside the pods bound there now, as the scheduler counts them,
// and beside a reserve: the requests of every dr-syncer sync pod there
// once more. Ungated without room, the pod would be tried, refused and
// backed off by the scheduler, and then placed later than at its release:
// a batch of 20 movers requests 2 CPUs, and the one before it holds them
// until its members leave. The reserve is for the batches moving data: a
// member whose mover is lost takes a sync pod of its own, which requests
// what its mover did, while the batch's pod keeps its requests until it
// ends. Placed into that room, the staged pod would leave such a member
// no place, and the batch before could not end, nor release the staged
// one. A node that is gone, or no pinned node, is the scheduler's to
// judge.
func fitsNow(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) (bool, string, error) {
	name := kube.PinnedNode(pod)
	if name == "" {
		return true, "", nil
	}
	node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{ResourceVersion: "0"})
	if apierrors.IsNotFound(err) {
		return true, name, nil
	}
	if err != nil {
		return false, name, err
	}
	bound, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + name, ResourceVersion: "0"})
	if err != nil {
		return false, name, err
	}
	requests := []corev1.ResourceList{resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})}
	for i := range bound.Items {
		p := &bound.Items[i]
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		r := resourcehelper.PodRequests(p, resourcehelper.PodResourcesOptions{})
		requests = append(requests, r)
		if p.Labels[kube.LabelManagedBy] == kube.ManagedBy && p.Labels[kube.LabelRole] == "sync" {
			requests = append(requests, r)
		}
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		have, ok := node.Status.Allocatable[r]
		if !ok {
			continue
		}
		var used resource.Quantity
		for _, req := range requests {
			used.Add(req[r])
		}
		if used.Cmp(have) > 0 {
			return false, name, nil
		}
	}
	return true, name, nil
}

// starting says pod may start and has not yet started all its movers: no
// gate holds it, it has no node or a container that never ran, and it
// neither ended nor is being deleted.
func starting(pod corev1.Pod) bool {
	if len(pod.Spec.SchedulingGates) > 0 || pod.DeletionTimestamp != nil ||
		pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return false
	}
	ran := 0
	for _, c := range pod.Status.ContainerStatuses {
		if c.State.Running != nil || c.State.Terminated != nil || c.LastTerminationState.Terminated != nil {
			ran++
		}
	}
	return pod.Spec.NodeName == "" || ran < len(pod.Spec.Containers)
}
