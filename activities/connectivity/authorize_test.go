package connectivity

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// The connectivity check copies the pair's private key into DR and runs a
// pod there: a forged start must not choose another key, cluster or image
// than its ClusterMapping resolves to.
func TestConnectivityCheckInputMustMatchItsMapping(t *testing.T) {
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: "ops", Name: name} }
	control := fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(
		&drv1.RemoteCluster{ObjectMeta: meta("prod")}, &drv1.RemoteCluster{ObjectMeta: meta("dr")},
		&drv1.ClusterMapping{ObjectMeta: meta("prod-to-dr"), Spec: drv1.ClusterMappingSpec{SourceCluster: "prod", TargetCluster: "dr"}},
	).Build()
	a := &ConnectivityActivities{Control: control}
	ctx := context.Background()
	mapping := contract.ObjectRef{Namespace: "ops", Name: "prod-to-dr"}
	want, err := resolve.ConnectivityCheck(ctx, control, "", mapping)
	require.NoError(t, err)
	genuine := contract.ConnectivityCheckInput{DR: want.DR, ClusterKey: want.ClusterKey, AgentHostKey: want.AgentHostKey,
		Image: want.Image, Agents: []string{"10.0.0.1:2222"}, TimeoutSeconds: 30, Mapping: &mapping}
	require.NoError(t, a.checkInput(ctx, genuine), "what the ClusterMapping reconciler starts passes")

	refused := func(t *testing.T, in contract.ConnectivityCheckInput, says string) {
		t.Helper()
		err := a.checkInput(ctx, in)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "got %v", err)
		assert.Equal(t, contract.ErrTypeInputMismatch, appErr.Type())
		assert.True(t, appErr.NonRetryable())
		assert.Contains(t, appErr.Error(), says)
	}
	forged := genuine
	forged.Image.Reference = "attacker.example/miner:latest"
	refused(t, forged, "does not match ClusterMapping ops/prod-to-dr: image is")
	forged = genuine
	forged.ClusterKey = contract.SecretRef{Namespace: "tenant-b", Name: "their-pair"}
	refused(t, forged, "cluster key Secret is {Namespace:tenant-b Name:their-pair}")
	forged = genuine
	forged.DR = contract.ClusterRef{Namespace: "ops", Name: "prod"}
	refused(t, forged, "DR cluster is")
	forged = genuine
	forged.Mapping = nil
	refused(t, forged, "names no ClusterMapping")
	forged.Mapping = &contract.ObjectRef{Namespace: "ops", Name: "invented"}
	refused(t, forged, "ClusterMapping ops/invented not found")
}
