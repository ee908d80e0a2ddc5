package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two RemoteClusters of one cluster share an agent only with equal
// checksums, so a differing metrics port must change it, like the SSH
// port does; and a config without a metrics port (every rollout recorded
// before the field existed) keeps the checksum it always had, or an
// upgrade would report drift and conflicts on settings nobody changed.
func TestAgentChecksumCoversTheMetricsPort(t *testing.T) {
	base := AgentConfig{Image: "registry.example/agent:v1", PullPolicy: "IfNotPresent", Port: 2222}
	sum := func(c AgentConfig) string {
		s, err := AgentChecksum(c, "SHA256:host")
		require.NoError(t, err)
		return s
	}
	// The JSON AgentConfig had before MetricsPort existed.
	before := sha256.Sum256([]byte(`{"image":"registry.example/agent:v1","pullPolicy":"IfNotPresent","port":2222}SHA256:host`))
	assert.Equal(t, hex.EncodeToString(before[:8]), sum(base), "the checksum of a config without metrics port changed")

	withMetrics := base
	withMetrics.MetricsPort = 2223
	otherMetrics := base
	otherMetrics.MetricsPort = 9464
	otherSSH := withMetrics
	otherSSH.Port = 2300
	sums := map[string]string{"none": sum(base), "2223": sum(withMetrics), "9464": sum(otherMetrics), "ssh 2300": sum(otherSSH)}
	seen := map[string]string{}
	for name, s := range sums {
		if prev, dup := seen[s]; dup {
			t.Errorf("configs %q and %q have the same checksum %s", prev, name, s)
		}
		seen[s] = name
	}
	assert.Equal(t, sum(withMetrics), sum(withMetrics), "deterministic")
}
