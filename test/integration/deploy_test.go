package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// `kubectl apply -k deploy/` is how users install dr-syncer; every object
// must pass a real API server's validation.
func TestDeployKustomizationApplies(t *testing.T) {
	kubectl := testenv.Binary(t, "kubectl")
	cluster := testenv.StartCluster(t, "install")
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, cluster.Kubeconfig, 0o600))

	cmd := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "--server-side", "-k", filepath.Join(testenv.RepoRoot(), "deploy"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kubectl apply -k deploy: %s", out)
	for _, want := range []string{
		"namespace/dr-syncer-system serverside-applied",
		"customresourcedefinition.apiextensions.k8s.io/replications.dr-syncer.io serverside-applied",
		"clusterrole.rbac.authorization.k8s.io/dr-syncer-controller serverside-applied",
		"deployment.apps/dr-syncer-controller serverside-applied",
		"deployment.apps/dr-syncer-worker serverside-applied",
	} {
		assert.Contains(t, string(out), want)
	}
}

// docker-compose.yml cannot run here (no docker engine), so check what can
// be checked: pinned images, and dr-syncer pointed at the compose Temporal.
func TestDockerComposeIsPinnedAndWired(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docker-compose.yml"))
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Image       string            `json:"image"`
			Environment map[string]string `json:"environment"`
		} `json:"services"`
	}
	require.NoError(t, yaml.Unmarshal(data, &compose))
	for _, name := range []string{"postgresql", "temporal", "temporal-ui", "temporal-admin-tools", "worker", "controller"} {
		require.Contains(t, compose.Services, name)
	}
	for name, svc := range compose.Services {
		_, tag, ok := strings.Cut(svc.Image, ":")
		assert.True(t, ok && tag != "" && tag != "latest", "service %s: image %q must carry a version tag", name, svc.Image)
	}
	for _, name := range []string{"worker", "controller"} {
		assert.Equal(t, "temporal:7233", compose.Services[name].Environment["DRSYNCER_TEMPORAL_ADDRESS"], name)
	}

	if docker, err := exec.LookPath("docker"); err == nil {
		if out, err := exec.Command(docker, "compose", "version").CombinedOutput(); err == nil {
			cfg := exec.Command(docker, "compose", "-f", "docker-compose.yml", "config", "--quiet")
			cfg.Dir = testenv.RepoRoot()
			out, err = cfg.CombinedOutput()
			assert.NoError(t, err, "docker compose config: %s", out)
		}
	}
}
