package agent

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/agentdeploy"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// spec.pvcSync.deployment.allowedSourceCIDRs reaches the rendered manifests
// as a NetworkPolicy, and taking the value away removes the policy again.
func TestAllowedSourceCIDRsRollOutAndBack(t *testing.T) {
	rc := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "prod"},
		Spec: drv1.RemoteClusterSpec{PVCSync: &drv1.PVCSyncSpec{Enabled: true,
			Deployment: &drv1.AgentDeploymentSpec{AllowedSourceCIDRs: []string{"10.1.0.0/16"}}}}}
	values, err := AgentValues(resolve.AgentConfig(rc), "fp")
	require.NoError(t, err)
	assert.Equal(t, []string{"10.1.0.0/16"}, values.AllowedSourceCIDRs)
	manifests, err := agentdeploy.Render(values)
	require.NoError(t, err)
	objs, err := decodeManifests(manifests)
	require.NoError(t, err)
	last := objs[len(objs)-1]
	assert.Equal(t, "NetworkPolicy", last.GetKind())
	assert.Contains(t, agentResources, "NetworkPolicy", "ApplyAgent knows how to apply it")

	ctx := context.Background()
	cs := fake.NewClientset(&networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: contract.AgentNamespace, Name: last.GetName()}})
	require.NoError(t, removeUnwantedNetworkPolicy(ctx, cs, values))
	_, err = cs.NetworkingV1().NetworkPolicies(contract.AgentNamespace).Get(ctx, last.GetName(), metav1.GetOptions{})
	require.NoError(t, err, "a policy the settings ask for stays")

	rc.Spec.PVCSync.Deployment.AllowedSourceCIDRs = nil
	values, err = AgentValues(resolve.AgentConfig(rc), "fp")
	require.NoError(t, err)
	require.NoError(t, removeUnwantedNetworkPolicy(ctx, cs, values))
	_, err = cs.NetworkingV1().NetworkPolicies(contract.AgentNamespace).Get(ctx, last.GetName(), metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "the unset value takes the policy away, got %v", err)
	require.NoError(t, removeUnwantedNetworkPolicy(ctx, cs, values), "and stays idempotent")
}
