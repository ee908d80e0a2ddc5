package agentdeploy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// containerPorts maps the agent container's port names to the rendered port entries.
func containerPorts(t *testing.T, out []byte) (map[string]any, []any) {
	t.Helper()
	c := get(t, decodeAll(t, out)[3], "spec", "template", "spec", "containers", 0)
	ports := map[string]any{}
	for _, p := range get(t, c, "ports").([]any) {
		ports[p.(map[string]any)["name"].(string)] = p
	}
	return ports, get(t, c, "args").([]any)
}

// With a metrics port the agent serves /metrics there, and the pod names
// the port "metrics" so a PodMonitor finds it; on the host network it is
// also a host port, as the SSH port is.
func TestRenderAgentMetricsPort(t *testing.T) {
	out, err := Render(Values{Image: "x", Port: 2222, MetricsPort: 2223})
	require.NoError(t, err)
	ports, args := containerPorts(t, out)
	assert.Contains(t, args, "--metrics-addr=:2223")
	assert.Equal(t, map[string]any{"name": "metrics", "containerPort": 2223, "hostPort": 2223, "protocol": "TCP"}, ports["metrics"])
	assert.Equal(t, 2222, get(t, ports["ssh"], "containerPort"), "the SSH port is unchanged")
	assert.Len(t, ports, 2)

	out, err = Render(Values{Image: "x", MetricsPort: 9464, HostNetwork: ptr(false)})
	require.NoError(t, err)
	ports, args = containerPorts(t, out)
	assert.Contains(t, args, "--metrics-addr=:9464")
	assert.Equal(t, map[string]any{"name": "metrics", "containerPort": 9464, "protocol": "TCP"}, ports["metrics"],
		"off the host network no host port is taken")
}

// Zero serves no metrics: rollouts recorded before the setting existed
// (and RemoteClusters that turn it off) render no flag and no port.
func TestRenderAgentWithoutMetrics(t *testing.T) {
	out, err := Render(Values{Image: "x"})
	require.NoError(t, err)
	ports, args := containerPorts(t, out)
	assert.NotContains(t, ports, "metrics")
	for _, a := range args {
		assert.NotContains(t, a, "--metrics-addr")
	}
}

// A metrics port the agent cannot bind is refused before anything is
// applied, naming the field to change.
func TestRenderAgentRefusesMetricsPort(t *testing.T) {
	for _, tc := range []struct {
		v    Values
		says string
	}{
		{Values{Image: "x", MetricsPort: 2222}, "spec.pvcSync.metrics.port 2222 is also the agent's SSH port (spec.pvcSync.ssh.port)"},
		{Values{Image: "x", Port: 2300, MetricsPort: 2300}, "spec.pvcSync.metrics.port 2300 is also the agent's SSH port"},
		{Values{Image: "x", MetricsPort: 80}, "spec.pvcSync.metrics.port 80 must be 1024-65535"},
		{Values{Image: "x", MetricsPort: 70000}, "spec.pvcSync.metrics.port 70000 must be 1024-65535"},
	} {
		_, err := Render(tc.v)
		assert.ErrorContains(t, err, tc.says, "%+v", tc.v)
	}
}

// The NetworkPolicy keeps the SSH port to the DR CIDRs and admits the
// metrics port from this cluster's pods only (a Prometheus here), never
// from the DR CIDRs' rule or from outside.
func TestRenderAgentNetworkPolicyAdmitsMetricsFromTheCluster(t *testing.T) {
	out, err := Render(Values{Image: "x", MetricsPort: 2223, HostNetwork: ptr(false), AllowedSourceCIDRs: []string{"10.1.0.0/16"}})
	require.NoError(t, err)
	np := decodeAll(t, out)[4]
	require.Equal(t, "NetworkPolicy", np["kind"])
	assert.Equal(t, []any{
		map[string]any{
			"from":  []any{map[string]any{"ipBlock": map[string]any{"cidr": "10.1.0.0/16"}}},
			"ports": []any{map[string]any{"protocol": "TCP", "port": 2222}},
		},
		map[string]any{
			"from":  []any{map[string]any{"namespaceSelector": map[string]any{}}},
			"ports": []any{map[string]any{"protocol": "TCP", "port": 2223}},
		},
	}, get(t, np, "spec", "ingress"))
}
