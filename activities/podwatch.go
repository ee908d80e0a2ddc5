package activities

import (
	"context"
	"fmt"
	"sync"
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

// podTickEvery is ProblemCheckEvery; tests shorten it.
var podTickEvery = ProblemCheckEvery

// podWait is one wait for a pod: done says the wait is over (pod is nil
// once the pod is gone: done must say whether that ends it), tick, called
// every ProblemCheckEvery while the wait goes on, may end the wait with an
// error, and beat (optional) heartbeats every ProblemCheckEvery with the pod
// as last seen.
//
// beat runs on its own goroutine, not the one that Lists, Watches and
// ticks: a List the API server is slow to answer (it is loaded) would
// otherwise hold up the heartbeats, and the activity would time out on its
// heartbeat timeout while its pod is fine. beat is never called after
// watchPod returns, nor before the pod was first seen.
type podWait struct {
	done func(pod *corev1.Pod) bool
	tick func(pod *corev1.Pod) error
	beat func(pod *corev1.Pod)
}

// seenPod is the pod as a wait last saw it, shared with its heartbeat.
type seenPod struct {
	mu  sync.Mutex
	pod *corev1.Pod
}

func (s *seenPod) set(pod *corev1.Pod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pod = pod
}

func (s *seenPod) get() *corev1.Pod {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pod
}

// beatPod calls beat with the pod last seen every podTickEvery, while
// there is one (a gone pod is not heartbeated), until stop is closed.
func beatPod(stop <-chan struct{}, seen *seenPod, beat func(*corev1.Pod)) {
	ticker := time.NewTicker(podTickEvery)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case <-ticker.C:
		}
		select {
		case <-stop: // both were ready: the wait is over, no beat after it
			return
		default:
		}
		if pod := seen.get(); pod != nil {
			beat(pod)
		}
	}
}

// watchPod lists the pod, then watches it from that list's version until
// w.done says so; a watch the server closes is taken up by a new list. It
// returns the pod as done last saw it (nil when it is gone).
func watchPod(ctx context.Context, cs kubernetes.Interface, namespace, name string, w podWait) (*corev1.Pod, error) {
	pods := cs.CoreV1().Pods(namespace)
	byName := fields.OneTermEqualSelector("metadata.name", name).String()
	seen := &seenPod{}
	if w.beat != nil {
		stop, stopped := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stopped)
			beatPod(stop, seen, w.beat)
		}()
		defer func() {
			close(stop)
			<-stopped
		}()
	}
	ticker := time.NewTicker(podTickEvery)
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
		seen.set(pod)
		if w.done(pod) {
			return pod, nil
		}
		watcher, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: byName, ResourceVersion: list.ResourceVersion})
		if err != nil {
			return nil, fmt.Errorf("watch pod %s/%s: %w", namespace, name, err)
		}
		pod, finished, err := followPod(ctx, watcher, name, pod, seen, ticker.C, w)
		watcher.Stop()
		if finished || err != nil {
			return pod, err
		}
	}
}

// followPod applies the watch's events to pod (and seen) until the wait is
// over, the watch ends (finished false: list again) or ctx is done.
func followPod(ctx context.Context, watcher watch.Interface, name string, pod *corev1.Pod, seen *seenPod, ticks <-chan time.Time, w podWait) (*corev1.Pod, bool, error) {
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
			seen.set(pod)
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
