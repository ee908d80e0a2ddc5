package testtree

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompareDetectsDifferences(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	Nasty(t, a)
	// cp -a is an independent copier; the comparator must accept its copy.
	require.NoError(t, exec.Command("cp", "-a", "--sparse=always", a, b).Run())
	diffs, err := Compare(a, b, Options{})
	require.NoError(t, err)
	assert.Empty(t, diffs)

	require.NoError(t, os.WriteFile(filepath.Join(b, "links/original"), []byte("shared inode!\n"), 0o644))
	require.NoError(t, os.Remove(filepath.Join(b, "links/pair-b")))
	require.NoError(t, os.WriteFile(filepath.Join(b, "links/pair-b"), []byte("x"), 0o600))
	require.NoError(t, os.Chmod(filepath.Join(b, "bin/tool.sh"), 0o700))
	require.NoError(t, os.Remove(filepath.Join(b, "sym/relative")))
	require.NoError(t, os.Symlink("elsewhere", filepath.Join(b, "sym/relative")))
	require.NoError(t, os.Mkdir(filepath.Join(b, "extra"), 0o755))
	require.NoError(t, os.Remove(filepath.Join(b, "empty")))
	diffs, err = Compare(a, b, Options{})
	require.NoError(t, err)
	joined := ""
	for _, d := range diffs {
		joined += d + "\n"
	}
	for _, want := range []string{`"links/original": sha256`, `not linked in copy`, `"bin/tool.sh": mode`,
		`"sym/relative": symlink target`, `"extra": extra in copy`, `"empty": missing in copy`} {
		assert.Contains(t, joined, want)
	}
}
