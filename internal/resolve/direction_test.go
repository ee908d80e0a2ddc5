package resolve

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

// resolvedShop is a Replication of namespace shop from prod to dr (DR
// namespace shop-dr) with every direction-dependent setting set, so each
// test sees what its direction changes.
func resolvedShop(drPVCSync bool) *Resolved {
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "dr-syncer-system", Name: name}
	}
	prod := &drv1.RemoteCluster{ObjectMeta: meta("prod"), Spec: drv1.RemoteClusterSpec{
		PVCSync: &drv1.PVCSyncSpec{Enabled: true, SSH: &drv1.SSHSpec{Port: 2022}, GlobalConcurrencyLimit: 4}}}
	dr := &drv1.RemoteCluster{ObjectMeta: meta("dr")}
	if drPVCSync {
		dr.Spec.PVCSync = &drv1.PVCSyncSpec{Enabled: true, SSH: &drv1.SSHSpec{Port: 2222,
			KeySecretRef: &drv1.SecretRef{Name: "dr-host-key"}}, GlobalConcurrencyLimit: 7}
	}
	repl := &drv1.Replication{ObjectMeta: meta("shop"), Spec: drv1.ReplicationSpec{
		SourceNamespace: "shop", DestinationNamespace: "shop-dr",
		ResourceTypes: []string{"configmaps", "pvc", "Deployment", "widgets"},
		PVCConfig: &drv1.PVCConfig{SyncData: true,
			StorageClassMappings:  []drv1.Mapping{{From: "standard", To: "fast"}, {From: "premium", To: "fast"}},
			AccessModeMappings:    []drv1.AccessModeMapping{{From: "ReadWriteOnce", To: "ReadWriteMany"}},
			SyncPersistentVolumes: true,
			RestorePoints:         &drv1.RestorePointsConfig{Keep: 3, VolumeSnapshotClassName: "dr-snapclass"},
			DataSyncConfig: &drv1.DataSyncConfig{CopyMethod: drv1.CopySnapshot, VolumeSnapshotClassName: "prod-snapclass",
				Hooks: &drv1.ConsistencyHooks{Freeze: &drv1.HookCommand{Command: []string{"sync"}}}}},
	}}
	repl.Annotations = map[string]string{drv1.AnnotationAcceptChanges: "pending-1"}
	return &Resolved{Replication: repl, Source: prod, Destination: dr,
		ClusterKey: contract.SecretRef{Namespace: "dr-syncer-system", Name: "prod-to-dr-ssh-key"}}
}

func TestPlanForwardIsThePlan(t *testing.T) {
	res := resolvedShop(true)
	want, err := res.Plan()
	require.NoError(t, err)
	got, err := res.PlanFor(contract.PlanRequest{Replication: contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"}, Trigger: "manual-1"})
	require.NoError(t, err)
	assert.Equal(t, want, got, "a forward run's plan is exactly what it was before directions")
	assert.Equal(t, "prod", got.Source.Name)
	assert.Equal(t, "shop-dr", got.DestinationNamespace)
	assert.Equal(t, "pending-1", got.AcceptChanges)
	assert.Equal(t, contract.SecretRef{Namespace: "dr-syncer-system", Name: contract.AgentHostKeySecretName("prod")}, got.DataPlane.AgentHostKey)
	assert.Empty(t, got.Direction)
}

func TestPlanReverse(t *testing.T) {
	res := resolvedShop(true)
	forward, err := res.Plan()
	require.NoError(t, err)
	got, err := res.PlanFor(contract.PlanRequest{Direction: contract.DirectionReverse, Trigger: "failback/dr-syncer-system/shop/1"})
	require.NoError(t, err)

	assert.Equal(t, contract.DirectionReverse, got.Direction)
	assert.Equal(t, contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}, got.Source, "DR is read")
	assert.Equal(t, contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}, got.Destination, "the source is written")
	assert.Equal(t, "shop-dr", got.SourceNamespace)
	assert.Equal(t, "shop", got.DestinationNamespace)
	assert.Equal(t, "failback:failback/dr-syncer-system/shop/1", got.AcceptChanges, "the failback is the acknowledgement, not the pending annotation")

	dp := got.DataPlane
	assert.Equal(t, int32(2222), dp.AgentPort, "the agent runs in DR")
	assert.Equal(t, contract.SecretRef{Namespace: "dr-syncer-system", Name: "dr-host-key"}, dp.AgentHostKey)
	assert.Equal(t, int32(7), dp.GlobalConcurrencyLimit)
	assert.Equal(t, forward.DataPlane.ClusterKey, dp.ClusterKey, "the same cluster-pair key")

	pc := got.Spec.PVCConfig
	assert.Equal(t, contract.RestorePoints{}, pc.RestorePoints, "no restore points of the source's claims")
	assert.Equal(t, []contract.Mapping{{From: "fast", To: "standard"}}, pc.StorageClassMappings, "DR's classes map back; the first source wins")
	assert.Equal(t, []contract.Mapping{{From: "ReadWriteMany", To: "ReadWriteOnce"}}, pc.AccessModeMappings)
	assert.False(t, pc.SyncPersistentVolumes, "the source's PVs are never written over")
	assert.NotNil(t, pc.DataSyncConfig.Hooks, "the application runs in DR: its pods are frozen")
	assert.Equal(t, "dr-snapclass", pc.DataSyncConfig.VolumeSnapshotClassName, "snapshots are taken in DR, with DR's class")
	assert.Equal(t, forward.Spec.ResourceTypes, got.Spec.ResourceTypes)
	assert.Equal(t, forward.DataSync, got.DataSync)
	assert.Equal(t, forward.Generation, got.Generation)

	again, err := res.Plan()
	require.NoError(t, err)
	assert.Equal(t, forward, again, "deriving a direction leaves the Replication as it was")
}

func TestPlanDrill(t *testing.T) {
	res := resolvedShop(true)
	got, err := res.PlanFor(contract.PlanRequest{Direction: contract.DirectionDrill, DrillNamespace: "shop-dr-drill-1234abcd", Trigger: "drill-1"})
	require.NoError(t, err)

	dr := contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}
	assert.Equal(t, contract.DirectionDrill, got.Direction)
	assert.Equal(t, dr, got.Source)
	assert.Equal(t, dr, got.Destination)
	assert.Equal(t, "shop-dr", got.SourceNamespace)
	assert.Equal(t, "shop-dr-drill-1234abcd", got.DestinationNamespace)
	assert.Empty(t, got.AcceptChanges, "a drill takes no person's acceptance")
	assert.Equal(t, int32(2222), got.DataPlane.AgentPort)
	assert.Equal(t, "prod-to-dr-ssh-key", got.DataPlane.ClusterKey.Name)

	s := got.Spec
	assert.Equal(t, []string{"configmaps", "deployments", "widgets"}, s.ResourceTypes, "no PVCs: the drill makes its own; unknown names still reported")
	assert.True(t, s.ScaleToZero)
	assert.True(t, s.NamespaceConfig.CreateNamespace)
	assert.Nil(t, s.PVCConfig.DataSyncConfig.Hooks, "no application runs in DR")
	assert.Equal(t, contract.RestorePoints{}, s.PVCConfig.RestorePoints)
	assert.Empty(t, s.PVCConfig.StorageClassMappings)
	assert.Empty(t, s.PVCConfig.AccessModeMappings)
	assert.False(t, s.PVCConfig.SyncPersistentVolumes)
	assert.True(t, s.PVCConfig.SyncData)

	// Every kind, spelled out without PVCs: empty would mean all of them.
	res.Replication.Spec.ResourceTypes = nil
	got, err = res.PlanFor(contract.PlanRequest{Direction: contract.DirectionDrill, DrillNamespace: "scratch"})
	require.NoError(t, err)
	assert.NotEmpty(t, got.Spec.ResourceTypes)
	assert.NotContains(t, got.Spec.ResourceTypes, "persistentvolumeclaims")
	assert.Contains(t, got.Spec.ResourceTypes, "statefulsets")
}

func TestPlanDirectionProblems(t *testing.T) {
	tests := []struct {
		name      string
		drAgent   bool
		syncData  bool
		types     []string
		req       contract.PlanRequest
		wantError string
	}{
		{"failback without an agent in DR", false, true, nil, contract.PlanRequest{Direction: contract.DirectionReverse},
			"enable spec.pvcSync on RemoteCluster dr so the agent rolls out there; failback copies DR's data back through it"},
		{"drill without an agent in DR", false, true, nil, contract.PlanRequest{Direction: contract.DirectionDrill, DrillNamespace: "scratch"},
			"enable spec.pvcSync on RemoteCluster dr"},
		{"drill without a namespace", true, true, nil, contract.PlanRequest{Direction: contract.DirectionDrill}, "needs a scratch namespace"},
		{"drill into the DR namespace", true, true, nil, contract.PlanRequest{Direction: contract.DirectionDrill, DrillNamespace: "shop-dr"},
			"the drill namespace shop-dr is the DR namespace itself"},
		{"drill of PVCs only", true, true, []string{"pvc"}, contract.PlanRequest{Direction: contract.DirectionDrill, DrillNamespace: "scratch"},
			"select nothing but PersistentVolumeClaims"},
		{"unknown direction", true, true, nil, contract.PlanRequest{Direction: "Sideways"}, `direction "Sideways"`},
		{"failback of objects only needs no agent", false, false, nil, contract.PlanRequest{Direction: contract.DirectionReverse}, ""},
		{"drill of objects only needs no agent", false, false, nil, contract.PlanRequest{Direction: contract.DirectionDrill, DrillNamespace: "scratch"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := resolvedShop(tc.drAgent)
			res.Replication.Spec.PVCConfig.SyncData = tc.syncData
			if tc.types != nil {
				res.Replication.Spec.ResourceTypes = tc.types
			}
			_, err := res.PlanFor(tc.req)
			if tc.wantError == "" {
				require.NoError(t, err)
				return
			}
			p, ok := IsProblem(err)
			require.True(t, ok, "a Problem a user fixes, got %v", err)
			assert.Contains(t, p.Message, tc.wantError)
		})
	}
}
