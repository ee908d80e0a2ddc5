package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// A staged batch's sync pod is placed ahead of its release, once every
// sync pod before it that may start has started its movers and its node
// has room for it, with room kept for the movers of the pods there to
// fall back to pods of their own: a staged pod neither takes the DR node's
// room from one the scheduler has still to place, nor from a member of
// the batch before it that falls back, nor slows the start of that batch,
// nor waits in the scheduler's backoff for room.
func TestPlaceStagedSyncPod(t *testing.T) {
	steps := newPVCSteps(t)
	env, acts, dr := steps.env, steps.acts, steps.dr
	ctx := context.Background()
	const ns = "place-dr"
	testenv.EnsureNamespace(t, env.DR.Client, ns)
	batch := func(i int) contract.Operation {
		return contract.Operation{WorkflowID: fmt.Sprintf("replication/ops/shop/manual-1/batch-%d", i), RunID: "run-1"}
	}
	gated := func(op contract.Operation) *corev1.Pod {
		pod := unscheduledPod(ns, op.Name("sync"), op.Labels("sync"))
		pod.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: kube.StagedGate}}
		return pod
	}
	gates := func(op contract.Operation) []corev1.PodSchedulingGate {
		var pod corev1.Pod
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: op.Name("sync")}, &pod))
		return pod.Spec.SchedulingGates
	}
	// The DR node has room for both sync pods, but not for both and the
	// reserve for the first one's movers.
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "dr-place-1"}}
	create(t, env.DR.Client, node)
	node.Status.Allocatable = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")}
	require.NoError(t, env.DR.Client.Status().Update(ctx, node))
	requests := corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("400m")}}
	moving, staged, next := batch(0), batch(1), batch(2)
	movingPod := unscheduledPod(ns, moving.Name("sync"), moving.Labels("sync")) // released, not yet placed
	movingPod.Spec.Containers[0].Resources = requests
	create(t, env.DR.Client, movingPod)
	stagedPod := gated(staged)
	stagedPod.Spec.Containers[0].Resources = requests
	stagedPod.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node.Name}}},
		}}},
	}}
	create(t, env.DR.Client, stagedPod)
	create(t, env.DR.Client, gated(next)) // gated too: it competes for nothing
	place := contract.ReleaseBatchInput{Op: staged, Destination: dr, DestinationNamespace: ns}

	var placed bool
	done := make(chan error, 1)
	go func() { done <- runActivity(t, acts, acts.PlaceStagedSyncPod, place, &placed) }()
	stillGated := func(why string) {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("placed the staged sync pod while %s (err %v)", why, err)
		case <-time.After(time.Second):
		}
		assert.Equal(t, []corev1.PodSchedulingGate{{Name: kube.StagedGate}}, gates(staged), why)
	}
	stillGated("the pod before it waits for a node")

	require.NoError(t, env.DR.Client.SubResource("binding").Create(ctx, movingPod, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: movingPod.Name},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node.Name},
	}), "the scheduler places the pod before it")
	stillGated("the pod before it has not started its movers")

	require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKeyFromObject(movingPod), movingPod))
	movingPod.Status.Phase = corev1.PodRunning
	movingPod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}
	require.NoError(t, env.DR.Client.Status().Update(ctx, movingPod), "the kubelet starts its mover")
	stillGated("its node has no room for it beside the pod before it and a pod of its own for each of that one's movers")

	movingPod.Status.Phase = corev1.PodSucceeded
	require.NoError(t, env.DR.Client.Status().Update(ctx, movingPod), "the batch before it ends")
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the staged sync pod was not placed 10 s after its node had room")
	}
	assert.True(t, placed, "it reports the pod placed")
	assert.Empty(t, gates(staged), "placed ahead of the release")
	assert.Equal(t, []corev1.PodSchedulingGate{{Name: kube.StagedGate}}, gates(next), "only its own gate is removed")

	t.Run("a pod already ungated or gone is left as it is", func(t *testing.T) {
		for _, in := range []contract.ReleaseBatchInput{place, {Op: batch(9), Destination: dr, DestinationNamespace: ns}} {
			placed := true
			require.NoError(t, runActivity(t, acts, acts.PlaceStagedSyncPod, in, &placed))
			assert.False(t, placed, "%s reported placed", in.Op.WorkflowID)
		}
	})
}
