package activities

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func pendingPod(name string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "app", UID: types.UID("uid-" + name)},
		Status: corev1.PodStatus{Phase: corev1.PodPending}}
}

// waitWatching blocks until the wait under test watches the pod, so a
// change the test makes next reaches it through the watch.
func waitWatching(t *testing.T, cs *fake.Clientset) {
	require.Eventually(t, func() bool {
		for _, a := range cs.Actions() {
			if a.GetVerb() == "watch" {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
}

func TestWaitPodWithSeesAChangeThroughTheWatch(t *testing.T) {
	cs := fake.NewClientset(pendingPod("mount"), pendingPod("other"))
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		_, err := WaitPodWith(ctx, cs, "app", "mount", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning },
			func(*corev1.Pod, string) {})
		done <- err
	}()
	waitWatching(t, cs)
	other := pendingPod("other")
	other.Status.Phase = corev1.PodRunning
	_, err := cs.CoreV1().Pods("app").UpdateStatus(ctx, other, metav1.UpdateOptions{})
	require.NoError(t, err)
	select {
	case err := <-done:
		t.Fatalf("another pod's change ended the wait: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	mount := pendingPod("mount")
	mount.Status.Phase = corev1.PodRunning
	_, err = cs.CoreV1().Pods("app").UpdateStatus(ctx, mount, metav1.UpdateOptions{})
	require.NoError(t, err)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(ProblemCheckEvery / 2):
		t.Fatal("the wait did not see the pod run before its first problem check: it polls instead of watching")
	}
	// One list and one watch; no Get per poll.
	verbs := map[string]int{}
	for _, a := range cs.Actions() {
		verbs[a.GetVerb()]++
	}
	assert.Equal(t, map[string]int{"list": 1, "watch": 1, "update": 2}, verbs)
}

func TestWaitPodWithFailsOnAPermanentProblemAndOnAGonePod(t *testing.T) {
	bad := pendingPod("mount")
	bad.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "mountserver", Image: "nope",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "InvalidImageName"}}}}
	cs := fake.NewClientset(bad)
	var problems []string
	_, err := WaitPodWith(context.Background(), cs, "app", "mount", func(*corev1.Pod) bool { return false },
		func(_ *corev1.Pod, problem string) {
			if problem != "" {
				problems = append(problems, problem)
			}
		})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "%v", err)
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, err.Error(), "InvalidImageName")
	// The heartbeat runs on its own, so it may beat once ("waiting for
	// pod") as the first check finds the problem, but never with it.
	assert.Empty(t, problems, "a permanent problem ends the wait instead of being heartbeated")

	cs = fake.NewClientset(pendingPod("mount"))
	done := make(chan error, 1)
	go func() {
		_, err := WaitPodWith(context.Background(), cs, "app", "mount", func(*corev1.Pod) bool { return false }, func(*corev1.Pod, string) {})
		done <- err
	}()
	waitWatching(t, cs)
	require.NoError(t, cs.CoreV1().Pods("app").Delete(context.Background(), "mount", metav1.DeleteOptions{}))
	select {
	case err := <-done:
		assert.True(t, apierrors.IsNotFound(err), "%v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the wait went on after the pod was deleted")
	}
}

// A List the API server is slow to answer (here the problem check's events
// List, blocked) does not hold up the heartbeats: they go on every tick,
// with the pod as last seen, and the wait ends as usual once the List does.
func TestWaitPodWithHeartbeatsWhileAListIsSlow(t *testing.T) {
	podTickEvery = 20 * time.Millisecond
	t.Cleanup(func() { podTickEvery = ProblemCheckEvery })
	cs := fake.NewClientset(pendingPod("mount"))
	listing, release := make(chan struct{}), make(chan struct{})
	var once, released sync.Once
	unblock := func() { released.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	cs.PrependReactor("list", "events", func(k8stesting.Action) (bool, runtime.Object, error) {
		once.Do(func() { close(listing) })
		<-release
		return false, nil, nil
	})
	type beat struct {
		pod     string
		phase   corev1.PodPhase
		problem string
	}
	beats := make(chan beat, 1000)
	done := make(chan error, 1)
	go func() {
		_, err := WaitPodWith(context.Background(), cs, "app", "mount", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning },
			func(p *corev1.Pod, problem string) {
				select {
				case beats <- beat{p.Name, p.Status.Phase, problem}:
				default:
				}
			})
		done <- err
	}()
	select {
	case <-listing:
	case <-time.After(2 * time.Second):
		t.Fatal("the wait did not check the pod's events")
	}
	for len(beats) > 0 { // before the List: not what is tested
		<-beats
	}
	for i := 0; i < 3; i++ {
		select {
		case b := <-beats:
			assert.Equal(t, beat{"mount", corev1.PodPending, ""}, b)
		case <-time.After(2 * time.Second):
			t.Fatalf("%d heartbeats while the List was blocked, want 3", i)
		}
	}

	unblock()
	running := pendingPod("mount")
	running.Status.Phase = corev1.PodRunning
	_, err := cs.CoreV1().Pods("app").UpdateStatus(context.Background(), running, metav1.UpdateOptions{})
	require.NoError(t, err)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(2 * time.Second):
		t.Fatal("the wait went on after the pod ran")
	}
}

func TestWaitPodGoneEndsWhenThePodIsDeletedOrReplaced(t *testing.T) {
	ctx := context.Background()
	for _, replace := range []bool{false, true} {
		pod := pendingPod("sync")
		cs := fake.NewClientset(pod)
		done := make(chan error, 1)
		go func() { done <- WaitPodGone(ctx, cs, pod) }()
		waitWatching(t, cs)
		require.NoError(t, cs.CoreV1().Pods("app").Delete(ctx, "sync", metav1.DeleteOptions{}))
		if replace {
			again := pendingPod("sync")
			again.UID = types.UID("another")
			_, err := cs.CoreV1().Pods("app").Create(ctx, again, metav1.CreateOptions{})
			require.NoError(t, err)
		}
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(5 * time.Second):
			t.Fatalf("replace=%v: still waiting", replace)
		}
	}
	// A pod that is already gone ends the wait at once.
	require.NoError(t, WaitPodGone(ctx, fake.NewClientset(), pendingPod("sync")))
}
