package dataplane

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/test/testtree"
)

// flipByteKeepingTime changes one byte of the file at path under the same
// size and modification time: a change rsync's quick check cannot see.
func flipByteKeepingTime(t *testing.T, path string, offset int) {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[offset] ^= 0xff
	require.NoError(t, os.WriteFile(path, data, info.Mode().Perm()))
	require.NoError(t, os.Chtimes(path, info.ModTime(), info.ModTime()))
}

// A no-change resync runs its pre-flight only: the DR copy already is the
// source. Any change the copy would make, to content or not (a mode, a
// directory's time, a hard link, a deletion), still runs the copy, and the
// DR copy ends byte- and metadata-identical.
func TestResyncRunsNoCopyWhenNothingChanged(t *testing.T) {
	t.Parallel()
	p := syncedPath(t, rsyncargs.Config{})
	ctx := context.Background()

	sum := p.syncAccepting(ctx, rsyncargs.Config{}, false)
	requireSuccess(t, sum)
	assert.Zero(t, sum.Streams, "no copy ran")
	assert.Equal(t, "the pre-flight found nothing to change", sum.Outcome.Reason)
	require.NotNil(t, sum.Guard, "the data guard judged it")
	assert.Positive(t, sum.Stats.NumFiles, "the summary still counts the source")
	assert.Equal(t, sum.Stats.TotalFileSize, sum.Progress.BytesDone)
	assert.Equal(t, sum.Progress.BytesTotal, sum.Progress.BytesDone, "complete")
	p.requireIdentical(testtree.Options{})

	long := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	changes := []struct {
		name   string
		change func() error
	}{
		{"a file's mode", func() error { return os.Chmod(filepath.Join(p.src, "top00"), 0o600) }},
		{"a directory's time", func() error { return os.Chtimes(filepath.Join(p.src, "b", "sub1"), long, long) }},
		{"a new hard link", func() error { return os.Link(filepath.Join(p.src, "top01"), filepath.Join(p.src, "hard")) }},
		{"a deletion", func() error { return os.Remove(filepath.Join(p.src, "top02")) }},
	}
	for _, c := range changes {
		require.NoError(t, c.change(), c.name)
		sum := p.syncAccepting(ctx, rsyncargs.Config{}, false)
		requireSuccess(t, sum)
		assert.Equal(t, 1, sum.Streams, "%s: the copy ran", c.name)
		p.requireIdentical(testtree.Options{})
	}
}

// With full verification the copy compares every file by checksum, which
// the pre-flight does not: a file changed under the same size and time is
// found by the copy alone, so the copy always runs.
func TestFullVerificationCopiesAChangeUnderTheSameSizeAndTime(t *testing.T) {
	t.Parallel()
	cfg := rsyncargs.Config{VerificationMode: rsyncargs.VerifyFull}
	p := syncedPath(t, cfg)
	flipByteKeepingTime(t, filepath.Join(p.src, "top03"), 0)

	sum := p.syncAccepting(context.Background(), cfg, false)
	requireSuccess(t, sum)
	assert.Equal(t, 1, sum.Streams, "the copy ran")
	p.requireIdentical(testtree.Options{})
}
