package kube_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// updateGolden rewrites testdata/*.golden.json from the builders as they
// are: go test ./internal/kube -run TestSingleClaimPodsGolden -update-golden.
// Only do that for a change to the pods that is meant; the files pin the
// single-claim pods that running syncs and their retries re-create.
var updateGolden = flag.Bool("update-golden", false, "rewrite the single-claim pods' golden files")

// The files were written by the builders of before the batch pods existed:
// the single-claim pods must not change by a byte while batching is added
// next to them.
func TestSingleClaimPodsGolden(t *testing.T) {
	resources, err := kube.DataPodResources("200m", "512Mi", "1", "1Gi")
	require.NoError(t, err)
	for name, pod := range map[string]*corev1.Pod{
		"mountpod.golden.json": kube.MountPod(kube.MountPodOptions{
			Name: "mount-1", Namespace: "app", Node: "src-1", Claim: "data", Image: "dp:dev", PullPolicy: corev1.PullNever,
			Labels: map[string]string{"op": "1"}, CredentialsSecret: "creds", HostsAllow: []string{"10.0.0.7", "10.0.0.8"},
		}),
		"mountpod-resources.golden.json": kube.MountPod(kube.MountPodOptions{
			Name: "mount-1", Namespace: "app", Node: "src-1", Claim: "data", Image: "dp:dev",
			CredentialsSecret: "creds", Resources: resources,
		}),
		"syncpod.golden.json": kube.SyncPod(kube.SyncPodOptions{
			Name: "sync-1", Namespace: "app", Node: "dr-1", Claim: "data", Image: "dp:dev", PullPolicy: corev1.PullIfNotPresent,
			Labels: map[string]string{"op": "1"}, AgentAddr: "10.0.0.1:2222", Target: kube.MountTarget("app", "mount-1"),
			SSHSecret: "keys", CredentialsSecret: "creds", SyncConfigJSON: `{"parallelStreams":2}`,
		}),
		"syncpod-accept.golden.json": kube.SyncPod(kube.SyncPodOptions{
			Name: "sync-1", Namespace: "app", Claim: "data", Image: "dp:dev",
			AgentAddr: "10.0.0.1:2222", Target: "10.1.0.5:8873", SSHSecret: "keys", CredentialsSecret: "creds",
			AcceptSourceChange: true, Resources: resources,
		}),
	} {
		got, err := json.MarshalIndent(pod, "", "  ")
		require.NoError(t, err)
		file := filepath.Join("testdata", name)
		if *updateGolden {
			require.NoError(t, os.WriteFile(file, append(got, '\n'), 0o644))
			continue
		}
		want, err := os.ReadFile(file)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got)+"\n", name)
	}
}
