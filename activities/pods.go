package activities

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// PollInterval is how often pod state is re-read while waiting.
const PollInterval = 500 * time.Millisecond

// Sleep waits one PollInterval, or until ctx is done.
func Sleep(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(PollInterval):
		return nil
	}
}

// CreateOrGetPod creates pod, or returns the pod of that name an earlier
// attempt created. A leftover from another run is replaced.
func CreateOrGetPod(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) (*corev1.Pod, error) {
	pods := cs.CoreV1().Pods(pod.Namespace)
	existing, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
	if err == nil && PodReusable(existing, pod) {
		return existing, nil
	}
	if err == nil {
		if err := DeletePodAndWait(ctx, cs, existing); err != nil {
			return nil, err
		}
	} else if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("get pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return created, nil
}

// PodReusable says whether CreateOrGetPod keeps existing instead of
// replacing it with want: a pod of the same run that has not failed.
func PodReusable(existing, want *corev1.Pod) bool {
	return existing.Labels[kube.LabelRun] == want.Labels[kube.LabelRun] && existing.Status.Phase != corev1.PodFailed
}

// WaitPodReady waits until the pod is ready, heartbeating what it waits for,
// and fails with the pod's problem when waiting cannot help.
func WaitPodReady(ctx context.Context, cs kubernetes.Interface, namespace, name string) (*corev1.Pod, error) {
	return waitPod(ctx, cs, namespace, name, kube.PodReady)
}

// waitPod waits until done says the pod is where the caller wants it,
// heartbeating what it waits for, and fails with the pod's problem when
// waiting cannot help.
func waitPod(ctx context.Context, cs kubernetes.Interface, namespace, name string, done func(*corev1.Pod) bool) (*corev1.Pod, error) {
	return WaitPodWith(ctx, cs, namespace, name, done, statusHeartbeat(ctx, namespace, name))
}

// statusHeartbeat heartbeats a pod wait's problem, or what it waits for.
func statusHeartbeat(ctx context.Context, namespace, name string) func(*corev1.Pod, string) {
	return func(pod *corev1.Pod, problem string) {
		status := problem
		if status == "" {
			status = fmt.Sprintf("waiting for pod %s/%s (%s)", namespace, name, pod.Status.Phase)
		}
		activity.RecordHeartbeat(ctx, status)
	}
}

// WaitPodWith waits until done says the pod is where the caller wants it,
// telling heartbeat what it waits for (problem is empty while nothing is
// wrong), and fails with the pod's problem when waiting cannot help. A pod
// that is gone, or was never there, fails the wait. heartbeat is called
// from a goroutine of its own (so a slow List does not hold it up), one
// call at a time, and not after WaitPodWith returns.
func WaitPodWith(ctx context.Context, cs kubernetes.Interface, namespace, name string, done func(*corev1.Pod) bool,
	heartbeat func(pod *corev1.Pod, problem string)) (*corev1.Pod, error) {
	var (
		mu      sync.Mutex // problem is written by tick, read by beat
		problem string
	)
	pod, err := watchPod(ctx, cs, namespace, name, podWait{
		done: func(p *corev1.Pod) bool { return p == nil || done(p) },
		tick: func(p *corev1.Pod) error {
			found, permanent := PodProblem(ctx, cs, p)
			if permanent {
				return NonRetryable(contract.ErrTypePodFailed, "%s", found)
			}
			mu.Lock()
			defer mu.Unlock()
			problem = found
			return nil
		},
		// The heartbeat tells the problem the last check found ("" until
		// one ran), with the pod as last seen.
		beat: func(p *corev1.Pod) {
			mu.Lock()
			current := problem
			mu.Unlock()
			heartbeat(p, current)
		},
	})
	switch {
	case err != nil && problem != "" && ctx.Err() != nil:
		return nil, fmt.Errorf("%s: %w", problem, err)
	case err != nil:
		return nil, err
	case pod == nil:
		return nil, fmt.Errorf("get pod %s/%s: %w", namespace, name, apierrors.NewNotFound(corev1.Resource("pods"), name))
	}
	return pod, nil
}

// WaitPodTerminated waits until the pod's container has terminated,
// heartbeating what it waits for, and fails with the pod's problem when
// waiting cannot help.
func WaitPodTerminated(ctx context.Context, cs kubernetes.Interface, namespace, name string) (*corev1.ContainerStateTerminated, error) {
	return WaitPodTerminatedWith(ctx, cs, namespace, name, "", statusHeartbeat(ctx, namespace, name))
}

// WaitPodTerminatedWith is WaitPodTerminated for the pod's container named
// container ("" for whichever ends first, as in a pod of one container),
// with the caller's heartbeat (see WaitPodWith). Another container of the
// pod ending does not end the wait.
func WaitPodTerminatedWith(ctx context.Context, cs kubernetes.Interface, namespace, name, container string,
	heartbeat func(pod *corev1.Pod, problem string)) (*corev1.ContainerStateTerminated, error) {
	pod, err := WaitPodWith(ctx, cs, namespace, name, func(p *corev1.Pod) bool { return kube.ContainerTerminated(p, container) != nil }, heartbeat)
	if err != nil {
		return nil, err
	}
	return kube.ContainerTerminated(pod, container), nil
}

// PodProblem is what keeps the pod from running, read from its status and
// events (see kube.PodProblem); permanent says waiting cannot help.
func PodProblem(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) (string, bool) {
	items, _ := podEvents.of(ctx, cs, pod) // without events, the pod's status still tells
	return kube.PodProblem(pod, items)
}

// DeletePodAndWait deletes a pod and waits until it is gone, so its volume is
// released before another pod mounts it.
func DeletePodAndWait(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) error {
	if err := DeletePod(ctx, cs, pod); err != nil {
		return err
	}
	return WaitPodGone(ctx, cs, pod)
}

// DeletePod deletes this very pod (by UID: a pod re-created under its name
// is not touched); gone already is fine.
func DeletePod(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) error {
	err := cs.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}

// WaitPodGone waits until pod is gone (or replaced by another of its name).
func WaitPodGone(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod) error {
	_, err := watchPod(ctx, cs, pod.Namespace, pod.Name, podWait{
		done: func(current *corev1.Pod) bool { return current == nil || current.UID != pod.UID },
		tick: func(*corev1.Pod) error { return nil },
	})
	return err
}
