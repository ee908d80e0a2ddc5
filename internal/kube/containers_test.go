package kube

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
)

func TestContainerStateByName(t *testing.T) {
	pod := BatchSyncPod(BatchSyncPodOptions{Claims: []SyncPodClaim{{Claim: "a"}, {Claim: "b"}, {Claim: "c"}}})
	ended := &corev1.ContainerStateTerminated{ExitCode: 1}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: BatchMoverContainer(0), State: corev1.ContainerState{Terminated: ended}},
		{Name: BatchMoverContainer(1), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: BatchMoverContainer(2), State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
	}
	assert.True(t, HasContainer(pod, BatchMoverContainer(2)))
	assert.False(t, HasContainer(pod, BatchMoverContainer(3)))
	assert.False(t, HasContainer(pod, MoverContainer), "a batch pod has no solo mover")

	assert.True(t, ContainerStarted(pod, BatchMoverContainer(0)), "one that ran has started")
	assert.True(t, ContainerStarted(pod, BatchMoverContainer(1)))
	assert.False(t, ContainerStarted(pod, BatchMoverContainer(2)), "the others running say nothing of it")
	assert.True(t, ContainerStarted(pod, ""), "any container")

	assert.Same(t, ended, ContainerTerminated(pod, BatchMoverContainer(0)))
	assert.Nil(t, ContainerTerminated(pod, BatchMoverContainer(1)), "mover-0 ending says nothing of mover-1")
	assert.Same(t, ended, ContainerTerminated(pod, ""), "the first that ended")
	assert.Nil(t, ContainerTerminated(pod, BatchMoverContainer(3)))
}
