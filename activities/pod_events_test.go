package activities

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// Twenty syncs waiting on one batch sync pod list its events once per
// check interval between them, not once each: every list reads all the
// namespace's events from etcd.
func TestSyncsWaitingOnOnePodListItsEventsOncePerCheck(t *testing.T) {
	old := podTickEvery
	podTickEvery = 200 * time.Millisecond
	t.Cleanup(func() { podTickEvery = old })
	pod := pendingPod("drs-batch-sync")
	cs := fake.NewClientset(pod, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: "app", Name: "e1"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: pod.Name, UID: pod.UID},
		Reason:         "FailedMount", Message: "MountVolume.SetUp failed for volume \"data\"",
	})
	lists := func() (n int) {
		for _, a := range cs.Actions() {
			if a.GetVerb() == "list" && a.GetResource().Resource == "events" {
				n++
			}
		}
		return n
	}
	check := func() {
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				problem, _ := PodProblem(context.Background(), cs, pod)
				assert.Contains(t, problem, "FailedMount", "each wait still sees the pod's events")
			}()
		}
		wg.Wait()
	}
	check()
	assert.Equal(t, 1, lists(), "one list for twenty waits")
	time.Sleep(podTickEvery)
	check()
	assert.Equal(t, 2, lists(), "a check interval later, the events are listed again")
}
