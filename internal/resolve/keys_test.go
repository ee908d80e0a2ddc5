package resolve

import (
	"context"
	"testing"
	"time"

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

// The data plane is symmetric: a failback or a drill reads the DR cluster,
// so the agent there authorizes the pair's key as the source's agent does.
func TestAuthorizedKeysForBothClustersOfAMapping(t *testing.T) {
	const ns = "dr-syncer-system"
	mapping := func(name, source, target string) *drv1.ClusterMapping {
		return &drv1.ClusterMapping{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: drv1.ClusterMappingSpec{SourceCluster: source, TargetCluster: target}}
	}
	keySecret := func(m *drv1.ClusterMapping) (*corev1.Secret, string) {
		k, err := keys.GenerateClusterPairKey("dr-syncer " + m.Name)
		require.NoError(t, err)
		ref := ClusterKeySecret(m)
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name},
			Data: map[string][]byte{contract.SecretKeyClusterPublic: k.AuthorizedKey}}, k.Fingerprint
	}
	prodToDR, stageToDR, prodToStage := mapping("prod-to-dr", "prod", "dr"), mapping("stage-to-dr", "stage", "dr"), mapping("prod-to-stage", "prod", "stage")
	objs := []client.Object{prodToDR, stageToDR, prodToStage}
	fp := map[string]string{}
	for _, m := range []*drv1.ClusterMapping{prodToDR, stageToDR, prodToStage} {
		s, f := keySecret(m)
		objs = append(objs, s)
		fp[m.Name] = f
	}
	r := fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(objs...).Build()

	tests := []struct {
		cluster string
		want    []string
	}{
		{"prod", []string{fp["prod-to-dr"], fp["prod-to-stage"]}},
		{"dr", []string{fp["prod-to-dr"], fp["stage-to-dr"]}},
		{"stage", []string{fp["stage-to-dr"], fp["prod-to-stage"]}},
		{"elsewhere", nil},
	}
	for _, tc := range tests {
		t.Run(tc.cluster, func(t *testing.T) {
			set, fps, err := AuthorizedKeysFor(context.Background(), r, "dr-syncer-system", ns, tc.cluster)
			require.NoError(t, err)
			assert.ElementsMatch(t, tc.want, fps)
			assert.Equal(t, len(tc.want), set.Len())
		})
	}
}

// A mapping whose key Secret does not exist yet adds no key and is listed,
// with what the RemoteCluster reconciler needs to decide whether its key is
// about to come: its age and whether its own reconciler has run.
func TestClusterKeysForListsMappingsWithoutKey(t *testing.T) {
	const ns = "dr-syncer-system"
	created := metav1.NewTime(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	keyed := &drv1.ClusterMapping{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prod-to-dr"},
		Spec: drv1.ClusterMappingSpec{SourceCluster: "prod", TargetCluster: "dr"}}
	fresh := &drv1.ClusterMapping{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prod-to-stage", CreationTimestamp: created},
		Spec: drv1.ClusterMappingSpec{SourceCluster: "prod", TargetCluster: "stage"}}
	reconciled := &drv1.ClusterMapping{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stage-to-prod", CreationTimestamp: created},
		Spec:   drv1.ClusterMappingSpec{SourceCluster: "stage", TargetCluster: "prod"},
		Status: drv1.ClusterMappingStatus{ObservedGeneration: 1}}
	other := &drv1.ClusterMapping{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stage-to-dr"},
		Spec: drv1.ClusterMappingSpec{SourceCluster: "stage", TargetCluster: "dr"}}
	k, err := keys.GenerateClusterPairKey("dr-syncer prod-to-dr")
	require.NoError(t, err)
	ref := ClusterKeySecret(keyed)
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name},
		Data: map[string][]byte{contract.SecretKeyClusterPublic: k.AuthorizedKey}}
	r := fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(keyed, fresh, reconciled, other, secret).
		WithStatusSubresource(&drv1.ClusterMapping{}).Build()

	got, err := ClusterKeysFor(context.Background(), r, ns, ns, "prod")
	require.NoError(t, err)
	assert.Equal(t, []string{k.Fingerprint}, got.Fingerprints)
	assert.Equal(t, "dr-syncer "+ns+"/prod-to-dr", got.Comment(k.Fingerprint))
	assert.ElementsMatch(t, []UnkeyedMapping{
		{Mapping: contract.ObjectRef{Namespace: ns, Name: "prod-to-stage"}, Created: created.Time},
		{Mapping: contract.ObjectRef{Namespace: ns, Name: "stage-to-prod"}, Created: created.Time, Reconciled: true},
	}, normalized(got.Unkeyed), "stage-to-dr does not name prod")
}

// normalized drops the monotonic clock and location a round trip through
// the fake client may change.
func normalized(in []UnkeyedMapping) []UnkeyedMapping {
	out := make([]UnkeyedMapping, len(in))
	for i, u := range in {
		u.Created = u.Created.UTC()
		out[i] = u
	}
	return out
}
