package agent

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/agentdeploy"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// A RemoteCluster that says nothing of metrics rolls out an agent serving
// them at 2223; one that turns them off, an agent without; and two
// RemoteClusters of one cluster that differ only in the metrics port
// cannot share the agent (ApplyAgent refuses on a checksum mismatch).
func TestAgentMetricsRollOutAndConflict(t *testing.T) {
	rc := func(m *drv1.AgentMetricsSpec) *drv1.RemoteCluster {
		return &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "prod"},
			Spec: drv1.RemoteClusterSpec{PVCSync: &drv1.PVCSyncSpec{Enabled: true, Metrics: m}}}
	}
	render := func(r *drv1.RemoteCluster) (string, agentdeploy.Values) {
		values, err := AgentValues(resolve.AgentConfig(r), "fp")
		require.NoError(t, err)
		out, err := agentdeploy.Render(values)
		require.NoError(t, err)
		return string(out), values
	}
	out, byDefault := render(rc(nil))
	assert.Contains(t, out, "--metrics-addr=:2223")
	assert.Contains(t, out, "name: metrics")

	off := false
	out, disabled := render(rc(&drv1.AgentMetricsSpec{Enabled: &off}))
	assert.NotContains(t, out, "--metrics-addr")
	assert.NotContains(t, out, "name: metrics")

	_, moved := render(rc(&drv1.AgentMetricsSpec{Port: 9464}))
	checksum := func(v agentdeploy.Values) string { return v.PodAnnotations[contract.AnnotationAgentChecksum] }
	assert.NotEqual(t, checksum(byDefault), checksum(moved), "another metrics port is another agent")
	assert.NotEqual(t, checksum(byDefault), checksum(disabled), "metrics off is another agent")
	_, again := render(rc(&drv1.AgentMetricsSpec{Port: 2223}))
	assert.Equal(t, checksum(byDefault), checksum(again), "the default written out is the same agent")
}
