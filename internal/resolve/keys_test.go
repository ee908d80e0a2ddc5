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
