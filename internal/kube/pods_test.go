package kube_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

func moverEnv(t *testing.T, pod *corev1.Pod) map[string]string {
	t.Helper()
	require.Len(t, pod.Spec.Containers, 1)
	return envOf(pod.Spec.Containers[0])
}

// The data guard's acknowledgement reaches the mover only as
// DRSYNCER_ACCEPT_SOURCE_CHANGE=true, and only when a person gave it.
func TestSyncPodAcceptSourceChange(t *testing.T) {
	opts := kube.SyncPodOptions{Name: "sync-1", Namespace: "app", Node: "dr-1", Claim: "data", Image: "mover:dev",
		AgentAddr: "10.0.0.1:2222", Target: kube.MountTarget("app", "mount-1"), SSHSecret: "keys",
		CredentialsSecret: "creds", SyncConfigJSON: `{"parallelStreams":2}`}

	env := moverEnv(t, kube.SyncPod(opts))
	assert.NotContains(t, env, "DRSYNCER_ACCEPT_SOURCE_CHANGE", "no acknowledgement, no variable")
	assert.Equal(t, "10.0.0.1:2222", env["DRSYNCER_AGENT_ADDR"])
	assert.Equal(t, "app/mount-1:8873", env["DRSYNCER_TARGET"])
	assert.Equal(t, `{"parallelStreams":2}`, env["DRSYNCER_SYNC_CONFIG"])

	opts.AcceptSourceChange = true
	env = moverEnv(t, kube.SyncPod(opts))
	assert.Equal(t, "true", env["DRSYNCER_ACCEPT_SOURCE_CHANGE"])
	assert.Equal(t, "10.0.0.1:2222", env["DRSYNCER_AGENT_ADDR"], "the other variables stay")
}
