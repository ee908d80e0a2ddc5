package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// The committed deepcopy code, CRDs and RBAC must be what controller-gen
// makes of the current markers, and the chart's copies of them and of the
// alert rules must match; otherwise `make generate` was forgotten.
func TestGeneratedFilesAreUpToDate(t *testing.T) {
	testenv.Binary(t, "controller-gen")
	root := testenv.RepoRoot()
	out := t.TempDir()
	cmd := exec.Command(filepath.Join(root, "hack", "generate.sh"), out)
	cmd.Dir = root
	output, err := cmd.CombinedOutput()
	require.NoError(t, err, "hack/generate.sh: %s", output)

	generated := 0
	err = filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, path)
		want, err := os.ReadFile(path)
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(root, rel))
		require.NoError(t, err, "%s is generated but not committed: run `make generate`", rel)
		assert.Equal(t, string(want), string(got), "%s is stale: run `make generate` and commit the result", rel)
		generated++
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 12, generated, "deepcopy, three CRDs and two roles, and the Helm chart's copies of the CRDs, the roles and the alert rules")
}
