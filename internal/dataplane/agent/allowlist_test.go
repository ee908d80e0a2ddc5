package agent

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAllowListParsing(t *testing.T) {
	l, err := ParseAllowList([]byte("10.0.0.1:873 # mount pod\n\n[fd00::1]:8873\n::ffff:10.0.0.2:1\n"))
	require.Error(t, err, "unbracketed v6 is ambiguous")
	l, err = ParseAllowList([]byte("10.0.0.1:873 # mount pod\n\n[fd00::1]:8873\n[::ffff:10.0.0.2]:1\n"))
	require.NoError(t, err)
	assert.True(t, l.Allowed("10.0.0.1", 873))
	assert.True(t, l.Allowed("fd00::1", 8873))
	assert.True(t, l.Allowed("10.0.0.2", 1), "v4-mapped entries match plain v4")
	assert.False(t, l.Allowed("10.0.0.1", 874))
	assert.False(t, l.Allowed("10.0.0.1", 873+65536), "port overflow")
	assert.False(t, l.Allowed("host.example", 873))
	_, err = ParseAllowList([]byte("mountpod.svc:873\n"))
	require.Error(t, err)
	_, err = ParseAllowList([]byte("10.0.0.1:0\n"))
	require.Error(t, err)

	missing := NewFileAllowList(filepath.Join(t.TempDir(), "nope"), nil)
	assert.False(t, missing.Allowed("10.0.0.1", 873))
	require.Error(t, missing.Check())
}
