package filewatch

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func upper(b []byte) (string, error) {
	if strings.Contains(string(b), "bad") {
		return "", errors.New("bad content")
	}
	return strings.ToUpper(string(b)), nil
}

// replace writes content the way the kubelet updates a Secret volume: a new
// file renamed over the old name.
func replace(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, path))
}

func TestFileFollowsChanges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	replace(t, path, "one")
	reloads := 0
	f := New(path, upper, Options[string]{OnReload: func(string) { reloads++ }})

	v, err := f.Get()
	require.NoError(t, err)
	assert.Equal(t, "ONE", v)
	_, _ = f.Get()
	assert.Equal(t, 1, reloads, "unchanged file is not re-parsed")

	replace(t, path, "two") // same size, new inode
	v, err = f.Get()
	require.NoError(t, err)
	assert.Equal(t, "TWO", v)

	replace(t, path, "bad")
	_, err = f.Get()
	require.ErrorIs(t, err, ErrUnreadable, "a broken file fails closed")

	require.NoError(t, os.Remove(path))
	_, err = f.Get()
	require.ErrorIs(t, err, ErrUnreadable)

	replace(t, path, "three")
	v, err = f.Get()
	require.NoError(t, err)
	assert.Equal(t, "THREE", v)
}

func TestFileMaxAgeCatchesInPlaceRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, []byte("aaa"), 0o600))
	now := time.Now()
	f := New(path, upper, Options[string]{MaxAge: time.Minute, Now: func() time.Time { return now }})
	_, err := f.Get()
	require.NoError(t, err)

	// Same size, same inode, and force the same mtime: only MaxAge notices.
	fi, _ := os.Stat(path)
	require.NoError(t, os.WriteFile(path, []byte("bbb"), 0o600))
	require.NoError(t, os.Chtimes(path, fi.ModTime(), fi.ModTime()))
	v, _ := f.Get()
	assert.Equal(t, "AAA", v)
	now = now.Add(2 * time.Minute)
	v, _ = f.Get()
	assert.Equal(t, "BBB", v)
}
