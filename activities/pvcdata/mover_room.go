package pvcdata

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// moverRoom is how many mover containers of the worker's data-pod requests
// the DR node has room for: its allocatable CPU and memory less the
// requests of the pods bound to it, for the scarcer of the two. A batch's
// sync pod asks the scheduler for all its movers at once, so a batch past
// this room is a pod the node can never take: in the lab, a sync pod of 20
// movers at 100m each stayed Pending ("Insufficient cpu") on a 2-CPU node
// that an agent's 100m shared, and its run waited for good.
//
// dr-syncer's own working pods (those of a sync or batch operation) are not
// counted: they end within the run, and counting the batch that moves data
// now would shrink the next one to nothing. The room is at least 1, so a
// full node gets a batch of one, which waits for room as any pod does; 0
// when the node reports no allocatable resources or the movers request
// none. An identity that may not list pods cluster-wide gets the room of
// the node's allocatable alone and a warning.
func moverRoom(ctx context.Context, cs kubernetes.Interface, node *corev1.Node, mover corev1.ResourceRequirements) (int, error) {
	if node == nil {
		return 0, nil
	}
	free := node.Status.Allocatable.DeepCopy()
	// From the API server's cache ("0"), by the node index the kubelets use.
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{ResourceVersion: "0",
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node.Name).String()})
	switch {
	case apierrors.IsForbidden(err):
		activity.GetLogger(ctx).Warn("cannot list the DR node's pods; batches are sized to its whole allocatable CPU and memory. "+
			"Apply deploy/rbac/remotecluster, which grants list on pods", "node", node.Name, "error", err)
	case err != nil:
		return 0, fmt.Errorf("list pods on DR node %s: %w", node.Name, err)
	default:
		for _, p := range pods.Items {
			if p.Spec.NodeName != node.Name || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed ||
				(p.Labels[kube.LabelManagedBy] == kube.ManagedBy && p.Labels[kube.LabelOperation] != "") {
				continue
			}
			// What the scheduler counts: containers, native sidecars, the
			// largest init container, pod-level requests and overhead.
			for name, used := range resourcehelper.PodRequests(&p, resourcehelper.PodResourcesOptions{}) {
				if q, ok := free[name]; ok {
					q.Sub(used)
					free[name] = q
				}
			}
		}
	}
	room := 0
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		each, asked := requestOf(mover, name)
		left, known := free[name]
		if !asked || !known || each.IsZero() {
			continue
		}
		n := int(max(left.MilliValue()/each.MilliValue(), 1))
		if room == 0 || n < room {
			room = n
		}
	}
	return room, nil
}

// requestOf is a container's request of name: its request, or its limit
// when it sets only that (the API server then defaults the request to it).
func requestOf(r corev1.ResourceRequirements, name corev1.ResourceName) (resource.Quantity, bool) {
	if q, ok := r.Requests[name]; ok {
		return q, true
	}
	q, ok := r.Limits[name]
	return q, ok
}
