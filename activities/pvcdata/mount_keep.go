package pvcdata

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// mountCheckEvery is how often a running Transfer looks at its mount pod.
// The mover waits minutes for its target, so a lost mount pod found this
// quickly is back before the mover gives up.
const mountCheckEvery = 2 * time.Second

// keepMountPod watches the transfer's mount pod until ctx ends and creates
// it again whenever it is lost: gone, failed, being deleted, or replaced by
// another run's pod of that name. A pod not created yet is left to
// EnsureMountPod, which may be starting it at this moment; from the first
// time the pod is seen, or on a retry, its absence means it was lost.
// Errors are passed on to report and the watch goes on: an API server that
// is briefly unreachable must not end the transfer.
func keepMountPod(ctx context.Context, cs kubernetes.Interface, want *corev1.Pod, retry bool, report func(string)) {
	seen := retry
	ticker := time.NewTicker(mountCheckEvery)
	defer ticker.Stop()
	for {
		restored, exists, err := restoreMountPod(ctx, cs, want, seen)
		switch {
		case err != nil && ctx.Err() == nil:
			report(fmt.Sprintf("mount pod %s/%s: %v", want.Namespace, want.Name, err))
		case restored:
			report(fmt.Sprintf("mount pod %s/%s was lost; created it again", want.Namespace, want.Name))
		}
		seen = seen || exists
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// restoreMountPod creates want again when the pod of its name is unusable,
// or missing and missing counts as lost; exists says a usable pod is there.
func restoreMountPod(ctx context.Context, cs kubernetes.Interface, want *corev1.Pod, missingIsLost bool) (restored, exists bool, err error) {
	current, err := cs.CoreV1().Pods(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if !missingIsLost {
			return false, false, nil
		}
	case err != nil:
		return false, false, fmt.Errorf("get: %w", err)
	case mountPodUsable(current, want):
		return false, true, nil
	default:
		if err := activities.DeletePodAndWait(ctx, cs, current); err != nil {
			return false, false, err
		}
	}
	if _, err := activities.CreateOrGetPod(ctx, cs, want); err != nil {
		if apierrors.IsAlreadyExists(err) { // EnsureMountPod was quicker
			return false, true, nil
		}
		return false, false, err
	}
	return true, true, nil
}

// mountPodUsable: this run's pod, not on its way out. A pending pod is
// usable (it is starting); a finished one never serves again.
func mountPodUsable(current, want *corev1.Pod) bool {
	return current.DeletionTimestamp == nil &&
		current.Labels[kube.LabelRun] == want.Labels[kube.LabelRun] &&
		current.Status.Phase != corev1.PodFailed && current.Status.Phase != corev1.PodSucceeded
}
