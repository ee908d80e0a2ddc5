package resolve

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

const system = "dr-syncer-system"

// tenantA is a Replication in namespace team-a from prod to dr over
// mapping prod-to-dr, with every object it names present; edit changes one
// of them before the resolver reads them.
func tenantA(edit func(repl *drv1.Replication, m *drv1.ClusterMapping, prod, dr *drv1.RemoteCluster)) client.Reader {
	meta := func(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
	repl := &drv1.Replication{ObjectMeta: meta("team-a", "shop"), Spec: drv1.ReplicationSpec{
		ClusterMappingRef: &drv1.ObjectRef{Name: "prod-to-dr"}, SourceNamespace: "shop", DestinationNamespace: "shop-dr"}}
	m := &drv1.ClusterMapping{ObjectMeta: meta("team-a", "prod-to-dr"),
		Spec: drv1.ClusterMappingSpec{SourceCluster: "prod", TargetCluster: "dr"}}
	rc := func(name string) *drv1.RemoteCluster {
		return &drv1.RemoteCluster{ObjectMeta: meta("team-a", name),
			Spec: drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Name: name + "-kubeconfig"}}}
	}
	prod, dr := rc("prod"), rc("dr")
	edit(repl, m, prod, dr)
	// The same mapping in the system namespace and in another tenant's, so
	// a refusal cannot be a mere "not found".
	shared, other := m.DeepCopy(), m.DeepCopy()
	shared.Namespace, other.Namespace = system, "team-b"
	return fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(repl, m, prod, dr, shared, other).Build()
}

// A tenant's Replication, ClusterMapping or RemoteCluster may refer into its
// own namespace or the system namespace, never into another tenant's: the
// controller's checks and the worker's ResolveReplication both go through
// References, so both refuse, naming the field and what to do.
func TestReferencesRefuseAnotherTenantsNamespace(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(repl *drv1.Replication, m *drv1.ClusterMapping, prod, dr *drv1.RemoteCluster)
		problem string // "" when allowed
	}{
		{"own namespace", func(*drv1.Replication, *drv1.ClusterMapping, *drv1.RemoteCluster, *drv1.RemoteCluster) {}, ""},
		{"mapping in the system namespace", func(r *drv1.Replication, _ *drv1.ClusterMapping, _, _ *drv1.RemoteCluster) {
			r.Spec.ClusterMappingRef.Namespace = system
		}, ""},
		{"key Secret in the system namespace", func(_ *drv1.Replication, m *drv1.ClusterMapping, _, _ *drv1.RemoteCluster) {
			m.Spec.SSHKeySecretRef = &drv1.SecretRef{Namespace: system, Name: "pair-key"}
		}, ""},
		{"mapping of another tenant", func(r *drv1.Replication, _ *drv1.ClusterMapping, _, _ *drv1.RemoteCluster) {
			r.Spec.ClusterMappingRef.Namespace = "team-b"
		}, "Replication team-a/shop: spec.clusterMappingRef.namespace points into namespace team-b"},
		{"key Secret of another tenant", func(_ *drv1.Replication, m *drv1.ClusterMapping, _, _ *drv1.RemoteCluster) {
			m.Spec.SSHKeySecretRef = &drv1.SecretRef{Namespace: "team-b", Name: "pair-key"}
		}, "ClusterMapping team-a/prod-to-dr: spec.sshKeySecretRef.namespace points into namespace team-b"},
		{"kubeconfig Secret of another tenant", func(_ *drv1.Replication, _ *drv1.ClusterMapping, _, dr *drv1.RemoteCluster) {
			dr.Spec.KubeconfigSecretRef.Namespace = "team-b"
		}, "RemoteCluster team-a/dr: spec.kubeconfigSecretRef.namespace points into namespace team-b"},
		{"host key Secret of another tenant", func(_ *drv1.Replication, _ *drv1.ClusterMapping, prod, _ *drv1.RemoteCluster) {
			prod.Spec.PVCSync = &drv1.PVCSyncSpec{Enabled: true, SSH: &drv1.SSHSpec{KeySecretRef: &drv1.SecretRef{Namespace: "team-b", Name: "host"}}}
		}, "RemoteCluster team-a/prod: spec.pvcSync.ssh.keySecretRef.namespace points into namespace team-b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tenantA(tc.edit)
			res, err := Replication(context.Background(), r, system, contract.ObjectRef{Namespace: "team-a", Name: "shop"})
			if tc.problem == "" {
				require.NoError(t, err)
				assert.Equal(t, "prod", res.Source.Name)
				return
			}
			p, ok := IsProblem(err)
			require.True(t, ok, "a Problem for the user to fix, not a retry: %v", err)
			assert.Contains(t, p.Message, tc.problem)
			assert.Contains(t, p.Message, "may only point into its own namespace team-a or the dr-syncer system namespace "+system)
			assert.Nil(t, res)
		})
	}
}

// With no system namespace configured, only the object's own namespace is allowed.
func TestReferencesWithoutSystemNamespace(t *testing.T) {
	r := tenantA(func(repl *drv1.Replication, _ *drv1.ClusterMapping, _, _ *drv1.RemoteCluster) {
		repl.Spec.ClusterMappingRef.Namespace = system
	})
	_, err := Replication(context.Background(), r, "", contract.ObjectRef{Namespace: "team-a", Name: "shop"})
	p, ok := IsProblem(err)
	require.True(t, ok, "%v", err)
	assert.Contains(t, p.Message, "may only point into its own namespace team-a;")
}

// An agent never authorizes the key of a mapping whose key Secret reference
// points into another tenant's namespace: that Secret is not read.
func TestAuthorizedKeysForSkipsForeignKeySecrets(t *testing.T) {
	k, err := keys.GenerateClusterPairKey("team-b's key")
	require.NoError(t, err)
	stolen := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "pair-key"},
		Data: map[string][]byte{contract.SecretKeyClusterPublic: k.AuthorizedKey}}
	m := &drv1.ClusterMapping{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "prod-to-dr"},
		Spec: drv1.ClusterMappingSpec{SourceCluster: "prod", TargetCluster: "dr",
			SSHKeySecretRef: &drv1.SecretRef{Namespace: "team-b", Name: "pair-key"}}}
	r := fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(stolen, m).Build()

	set, fps, err := AuthorizedKeysFor(context.Background(), r, system, "team-a", "prod")
	require.NoError(t, err)
	assert.Empty(t, fps)
	assert.Zero(t, set.Len())
}
