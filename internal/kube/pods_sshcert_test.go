package kube_test

import (
	"path"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// mountedFiles maps each file a pod's container sees from a Secret volume to
// the Secret key it comes from.
func mountedFiles(t *testing.T, pod *corev1.Pod) map[string]string {
	t.Helper()
	volumes := map[string]*corev1.SecretVolumeSource{}
	for _, v := range pod.Spec.Volumes {
		if v.Secret != nil {
			volumes[v.Name] = v.Secret
		}
	}
	files := map[string]string{}
	for _, m := range pod.Spec.Containers[0].VolumeMounts {
		if s := volumes[m.Name]; s != nil {
			for _, item := range s.Items {
				files[path.Join(m.MountPath, item.Path)] = item.Key
			}
		}
	}
	return files
}

// The sync and check pods read a per-operation key and certificate and the
// pinned host keys, and never mount the cluster-pair private key.
func TestDRPodsMountOperationIdentityOnly(t *testing.T) {
	sync := kube.SyncPod(kube.SyncPodOptions{Name: "sync-1", Namespace: "app", Image: "mover:dev", Claim: "data",
		AgentAddr: "10.0.0.1:2222", Target: kube.MountTarget("app", "mount-1"), SSHSecret: "op", CredentialsSecret: "op"})
	files := mountedFiles(t, sync)
	env := moverEnv(t, sync)
	assert.Equal(t, kube.SecretKeyOpKey, files[env["DRSYNCER_CLIENT_KEY"]])
	assert.Equal(t, kube.SecretKeyOpCert, files[env["DRSYNCER_CLIENT_CERT"]])
	assert.Equal(t, kube.SecretKeyAgentHostKey, files[env["DRSYNCER_AGENT_HOST_KEY_PUB"]])

	check := kube.ConnectivityPod(kube.ConnectivityPodOptions{Name: "check", Namespace: "x", Image: "img", KeySecret: "op", Timeout: "5s", Agents: []string{"10.0.0.1:2222"}})
	checkFiles := mountedFiles(t, check)
	cmd := check.Spec.Containers[0].Command
	for flag, key := range map[string]string{"--client-key": kube.SecretKeyOpKey, "--client-cert": kube.SecretKeyOpCert, "--host-key": kube.SecretKeyAgentHostKey} {
		i := indexOf(cmd, flag)
		require.GreaterOrEqual(t, i, 0, flag)
		assert.Equal(t, key, checkFiles[cmd[i+1]], flag)
	}
	for _, f := range []map[string]string{files, checkFiles} {
		for file, key := range f {
			assert.NotEqual(t, kube.SecretKeyClusterKey, key, file)
		}
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
