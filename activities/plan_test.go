package activities

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// A paused mapping stops syncs to DR, not restores, failbacks or drills: a
// person pausing replication to restore from DR must still be able to.
func TestPausedMappingStopsForwardRunsOnly(t *testing.T) {
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "dr-syncer-system", Name: name}
	}
	control := fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(
		&drv1.RemoteCluster{ObjectMeta: meta("prod")}, &drv1.RemoteCluster{ObjectMeta: meta("dr")},
		&drv1.ClusterMapping{ObjectMeta: meta("prod-to-dr"), Spec: drv1.ClusterMappingSpec{SourceCluster: "prod", TargetCluster: "dr", Paused: true}},
		&drv1.Replication{ObjectMeta: meta("shop"), Spec: drv1.ReplicationSpec{SourceNamespace: "shop",
			ClusterMappingRef: &drv1.ObjectRef{Name: "prod-to-dr"}}},
	).Build()
	a := &PlanActivities{Control: control}
	ref := contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"}

	_, err := a.ResolveReplication(context.Background(), contract.PlanRequest{Replication: ref})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is paused", "syncs stop")

	// A failover pauses syncs on purpose; its failback and drills run anyway.
	back, err := a.ResolveReplication(context.Background(), contract.PlanRequest{Replication: ref, Direction: contract.DirectionReverse, Trigger: "fb-1"})
	require.NoError(t, err)
	assert.Equal(t, "dr", back.Source.Name)
	assert.Equal(t, "failback:fb-1", back.AcceptChanges)
	assert.False(t, back.DataPlane.BatchPods, "pods are shared only when the worker says so")
	batched, err := (&PlanActivities{Control: control, BatchPods: true}).ResolveReplication(context.Background(),
		contract.PlanRequest{Replication: ref, Direction: contract.DirectionReverse, Trigger: "fb-2"})
	require.NoError(t, err)
	assert.True(t, batched.DataPlane.BatchPods, "a --batch-pods worker's plans share pods")
	drill, err := a.ResolveReplication(context.Background(), contract.PlanRequest{Replication: ref, Direction: contract.DirectionDrill, DrillNamespace: "shop-drill"})
	require.NoError(t, err)
	assert.Equal(t, "shop-drill", drill.DestinationNamespace)
	_, err = a.ResolveReplication(context.Background(), contract.PlanRequest{Replication: ref, Direction: contract.DirectionDrill})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Replication dr-syncer-system/shop: a drill needs a scratch namespace")

	dr, err := a.LocateDRCopies(context.Background(), ref)
	require.NoError(t, err)
	assert.Equal(t, contract.DRLocation{Destination: contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}, Namespace: "shop"}, dr,
		"the DR namespace defaults to the source's")

	_, err = a.LocateDRCopies(context.Background(), contract.ObjectRef{Namespace: "dr-syncer-system", Name: "gone"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Replication dr-syncer-system/gone: not found")
}
