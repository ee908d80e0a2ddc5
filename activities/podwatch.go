package activities

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// ProblemCheckEvery is how often a pod wait looks for what keeps the pod
// from its goal (its Events: a List over the namespace's events each time)
// and heartbeats. The pod's own changes arrive at once through a watch.
// Polling every waiting pod and its events twice a second was most of the
// worker's Kubernetes requests (146 GETs per PVC with five syncs at once),
// and added half a poll to every wait.
const ProblemCheckEvery = 2 * time.Second

// podWait is one wait for a pod: done says the wait is over (pod is nil
// once the pod is gone: done must say whether that ends it), and tick,
// called every ProblemCheckEvery while the wait goes on, heartbeats and may
// end the wait with an error.
type podWait struct {
	done func(pod *corev1.Pod) bool
	tick func(pod *corev1.Pod) error
}

// watchPod lists the pod, then watches it from that list's version until
// w.done says so; a watch the server closes is taken up by a new list. It
// returns the pod as done last saw it (nil when it is gone).
func watchPod(ctx context.Context, cs kubernetes.Interface, namespace, name string, w podWait) (*corev1.Pod, error) {
	pods := cs.CoreV1().Pods(namespace)
	byName := fields.OneTermEqualSelector("metadata.name", name).String()
	ticker := time.NewTicker(ProblemCheckEvery)
	defer ticker.Stop()
	for {
		list, err := pods.List(ctx, metav1.ListOptions{FieldSelector: byName})
		if err != nil {
			return nil, fmt.Errorf("get pod %s/%s: %w", namespace, name, err)
		}
		var pod *corev1.Pod
		for i := range list.Items { // a fake clientset ignores the field selector
			if list.Items[i].Name == name {
				pod = &list.Items[i]
			}
		}
		if w.done(pod) {
			return pod, nil
		}
		watcher, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: byName, ResourceVersion: list.ResourceVersion})
		if err != nil {
			return nil, fmt.Errorf("watch pod %s/%s: %w", namespace, name, err)
		}
		pod, finished, err := followPod(ctx, watcher, name, pod, ticker.C, w)
		watcher.Stop()
		if finished || err != nil {
			return pod, err
		}
	}
}

// followPod applies the watch's events to pod until the wait is over, the
// watch ends (finished false: list again) or ctx is done.
func followPod(ctx context.Context, watcher watch.Interface, name string, pod *corev1.Pod, ticks <-chan time.Time, w podWait) (*corev1.Pod, bool, error) {
	for {
		select {
		case ev, open := <-watcher.ResultChan():
			if !open || ev.Type == watch.Error {
				return pod, false, nil
			}
			changed, ok := ev.Object.(*corev1.Pod)
			if !ok || changed.Name != name {
				continue
			}
			pod = changed
			if ev.Type == watch.Deleted {
				pod = nil
			}
			if w.done(pod) {
				return pod, true, nil
			}
		case <-ticks:
			if pod == nil { // gone, and done did not mind: nothing to check
				continue
			}
			if err := w.tick(pod); err != nil {
				return pod, true, err
			}
		case <-ctx.Done():
			return pod, true, ctx.Err()
		}
	}
}
