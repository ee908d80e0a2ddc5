package agentdeploy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With allowedSourceCIDRs the agent's port admits only those sources;
// without, no policy is rendered (TestRenderAgent lists every kind).
func TestRenderAgentNetworkPolicy(t *testing.T) {
	out, err := Render(Values{Image: "x", Namespace: "dr-system", Port: 2300, HostNetwork: ptr(false),
		AllowedSourceCIDRs: []string{"10.1.0.0/16", "192.0.2.7/32", "2001:db8::/64"}})
	require.NoError(t, err)
	docs := decodeAll(t, out)
	require.Len(t, docs, 5)
	np, ds := docs[4], docs[3]
	assert.Equal(t, "NetworkPolicy", np["kind"])
	assert.Equal(t, "networking.k8s.io/v1", np["apiVersion"])
	assert.Equal(t, "dr-system", get(t, np, "metadata", "namespace"))
	assert.Equal(t, "dr-syncer-agent", get(t, np, "metadata", "name"))
	assert.Equal(t, get(t, ds, "spec", "selector", "matchLabels"), get(t, np, "spec", "podSelector", "matchLabels"),
		"the policy selects exactly the agent's pods")
	assert.Equal(t, []any{"Ingress"}, get(t, np, "spec", "policyTypes"))
	rule := get(t, np, "spec", "ingress", 0)
	assert.Equal(t, []any{
		map[string]any{"ipBlock": map[string]any{"cidr": "10.1.0.0/16"}},
		map[string]any{"ipBlock": map[string]any{"cidr": "192.0.2.7/32"}},
		map[string]any{"ipBlock": map[string]any{"cidr": "2001:db8::/64"}},
	}, get(t, rule, "from"))
	assert.Equal(t, []any{map[string]any{"protocol": "TCP", "port": 2300}}, get(t, rule, "ports"), "only the agent's port")
	assert.Len(t, get(t, np, "spec", "ingress"), 1, "no other ingress rule")

	for bad, says := range map[string]string{
		"10.1.0.0":     `"10.1.0.0" is not a CIDR`,
		"10.1.0.5/16":  "did you mean 10.1.0.0/16?",
		"0.0.0.0/0 -x": "is not a CIDR",
	} {
		_, err := Render(Values{Image: "x", AllowedSourceCIDRs: []string{bad}})
		assert.ErrorContains(t, err, says, bad)
	}
}
