package dataplane

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/test/testtree"
)

// guardTreeFiles is the number of regular files guardTree writes.
const guardTreeFiles = 330

// guardTree writes 100 files in each of three top-level directories (so
// parallel streams split it) and 30 at the top, plus a symlink.
func guardTree(t *testing.T, root string) {
	w := testtree.NewWriter(t, root, 3)
	for _, d := range []string{"a", "b", "c"} {
		for i := range 100 {
			w.File(fmt.Sprintf("%s/sub%d/f%03d", d, i%4, i), w.Random(200+i), 0o644)
		}
	}
	for i := range 30 {
		w.File(fmt.Sprintf("top%02d", i), w.Random(64), 0o644)
	}
	w.Symlink("a/sub0/f000", "link")
	w.Finish()
}

// emptySource makes the source look like a re-created, empty volume.
func emptySource(t *testing.T, root string) {
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	for _, e := range entries {
		require.NoError(t, os.RemoveAll(filepath.Join(root, e.Name())))
	}
	require.NoError(t, os.Mkdir(filepath.Join(root, "lost+found"), 0o700))
}

// removeShare deletes every file of guardTree whose index ends in 0, 1 or 2
// (30% of them, spread over all streams' directories).
func removeShare(t *testing.T, root string) int {
	w := testtree.NewWriter(t, root, 4)
	removed := 0
	for _, d := range []string{"a", "b", "c"} {
		for i := range 100 {
			if i%10 < 3 {
				w.Remove(fmt.Sprintf("%s/sub%d/f%03d", d, i%4, i))
				removed++
			}
		}
	}
	for i := range 30 {
		if i%10 < 3 {
			w.Remove(fmt.Sprintf("top%02d", i))
			removed++
		}
	}
	w.Finish()
	return removed
}

// scan returns the tree's entries: content by SHA-256 plus all metadata and
// inode numbers, so an unchanged scan means nothing was rewritten either.
func scan(t *testing.T, root string) map[string]testtree.Entry {
	entries, _, err := testtree.Scan(root)
	require.NoError(t, err)
	return entries
}

func regularCount(entries map[string]testtree.Entry) int {
	n := 0
	for _, e := range entries {
		if e.Type == 0 {
			n++
		}
	}
	return n
}

func (p *path) syncAccepting(ctx context.Context, cfg rsyncargs.Config, accept bool) progress.Summary {
	var out bytes.Buffer
	o := p.options(cfg, &out)
	o.AcceptSourceChange = accept
	return mover.Run(ctx, o)
}

var streamConfigs = map[string]rsyncargs.Config{"one stream": {}, "two streams": {ParallelStreams: 2}}

// syncedPath returns a path whose DR copy holds guardTree: the first sync
// ran, into an empty DR copy, so without a pre-flight.
func syncedPath(t *testing.T, cfg rsyncargs.Config) *path {
	p := newPath(t)
	guardTree(t, p.src)
	first := p.syncAccepting(context.Background(), cfg, false)
	requireSuccess(t, first)
	require.Nil(t, first.Guard, "the first sync into an empty DR copy runs no pre-flight")
	return p
}

// forEachStreamConfig runs test in parallel on a synced path per stream
// configuration: with parallel streams the allowance is split.
func forEachStreamConfig(t *testing.T, test func(t *testing.T, p *path, cfg rsyncargs.Config)) {
	t.Parallel()
	for name, cfg := range streamConfigs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, syncedPath(t, cfg), cfg)
		})
	}
}

// The rule: a source that was emptied must not wipe the last good DR copy.
func TestGuardRefusesEmptiedSource(t *testing.T) {
	forEachStreamConfig(t, func(t *testing.T, p *path, cfg rsyncargs.Config) {
		before := scan(t, p.dst)
		require.Equal(t, guardTreeFiles, regularCount(before))

		emptySource(t, p.src)
		sum := p.syncAccepting(context.Background(), cfg, false)
		assert.Equal(t, rsyncargs.ClassPermanent, sum.Outcome.Class)
		assert.Equal(t, rsyncargs.NotRun, sum.Outcome.ExitCode)
		assert.Contains(t, sum.Error, mover.ErrSourceShrank.Error())
		require.NotNil(t, sum.Guard)
		assert.Equal(t, progress.GuardVerdict{Reason: progress.GuardSourceShrank, SourceFiles: 0, DRFiles: guardTreeFiles,
			Deletions: sum.Guard.Deletions}, *sum.Guard)
		assert.Greater(t, sum.Guard.Deletions, int64(guardTreeFiles), "files, directories and the link")
		assert.Zero(t, sum.Stats, "no copy ran")
		assert.Equal(t, before, scan(t, p.dst), "DR copy unchanged, checksums and metadata")

		// Refused again on the next run: nothing changed the decision.
		again := p.syncAccepting(context.Background(), cfg, false)
		assert.Equal(t, progress.GuardSourceShrank, again.Guard.Reason)
		assert.Equal(t, before, scan(t, p.dst))
	})
}

// With a person's acknowledgement the change goes through: the DR copy
// mirrors the empty source, and the verdict records what was accepted.
func TestGuardAcknowledgedEmptySourceEmptiesCopy(t *testing.T) {
	forEachStreamConfig(t, func(t *testing.T, p *path, cfg rsyncargs.Config) {
		emptySource(t, p.src)
		sum := p.syncAccepting(context.Background(), cfg, true)
		requireSuccess(t, sum)
		require.NotNil(t, sum.Guard)
		assert.Equal(t, progress.GuardVerdict{SourceFiles: 0, DRFiles: guardTreeFiles, Deletions: sum.Guard.Deletions,
			Acknowledged: true}, *sum.Guard, "no reason, no limit")
		assert.Zero(t, regularCount(scan(t, p.dst)), "DR copy is empty")
		p.requireIdentical(testtree.Options{})
	})
}

// An ordinary change (30% of the files deleted) passes the guard within
// its allowance, and the DR copy matches the source.
func TestGuardAllowsPartialDeletion(t *testing.T) {
	forEachStreamConfig(t, func(t *testing.T, p *path, cfg rsyncargs.Config) {
		removed := removeShare(t, p.src)
		sum := p.syncAccepting(context.Background(), cfg, false)
		requireSuccess(t, sum)
		require.NotNil(t, sum.Guard)
		g := *sum.Guard
		assert.Empty(t, g.Reason)
		assert.Equal(t, int64(guardTreeFiles), g.DRFiles)
		assert.Equal(t, int64(guardTreeFiles-removed), g.SourceFiles)
		assert.Equal(t, int64(removed), g.Deletions)
		require.NotNil(t, g.MaxDelete)
		assert.Equal(t, int64(removed+4), *g.MaxDelete, "deletions seen + 1% of 330, rounded up")
		assert.Equal(t, int64(removed), sum.Stats.DeletedFiles)
		p.requireIdentical(testtree.Options{})
		src, dst := scan(t, p.src), scan(t, p.dst)
		for name, e := range src {
			assert.Equal(t, e.SHA256, dst[name].SHA256, name)
		}
		assert.Equal(t, regularCount(src), regularCount(dst))
	})
}

// The user's own --max-delete is stricter than the change: the dry run
// trips it, nothing is copied, and retrying cannot help.
func TestGuardUserMaxDeleteIsPermanent(t *testing.T) {
	t.Parallel()
	p := syncedPath(t, rsyncargs.Config{})
	before := scan(t, p.dst)
	removeShare(t, p.src)
	sum := p.syncAccepting(context.Background(), rsyncargs.Config{RsyncOptions: []string{"--max-delete=1"}}, false)
	assert.Equal(t, rsyncargs.ClassPermanent, sum.Outcome.Class)
	assert.Equal(t, rsyncargs.ExitMaxDelete, sum.Outcome.ExitCode)
	assert.Contains(t, sum.Outcome.Reason, "rsyncOptions")
	assert.Equal(t, before, scan(t, p.dst), "only the dry run ran")
}

// The source is wiped after the pre-flight passed and before the copy: the
// guard's --max-delete stops rsync after the small margin, the outcome is
// retryable, and the next run's pre-flight refuses.
func TestGuardSourceWipedAfterPreflight(t *testing.T) {
	t.Parallel()
	p := syncedPath(t, rsyncargs.Config{})
	// One new file, so the copy has something to do and runs.
	require.NoError(t, os.WriteFile(filepath.Join(p.src, "new"), []byte("new"), 0o644))

	// An rsync that empties the source right after the dry run.
	wrapper := filepath.Join(t.TempDir(), "rsync")
	script := fmt.Sprintf(`#!/bin/sh
for a in "$@"; do
	if [ "$a" = --dry-run ]; then
		%[1]q "$@"; rc=$?
		find %[2]q -mindepth 1 -delete
		exit $rc
	fi
done
exec %[1]q "$@"
`, p.rsync, p.src)
	require.NoError(t, os.WriteFile(wrapper, []byte(script), 0o755))
	var out bytes.Buffer
	o := p.options(rsyncargs.Config{}, &out)
	o.RsyncPath = wrapper
	sum := mover.Run(context.Background(), o)

	require.NotNil(t, sum.Guard)
	require.NotNil(t, sum.Guard.MaxDelete)
	assert.Equal(t, int64(4), *sum.Guard.MaxDelete, "nothing to delete at the pre-flight: the margin only")
	assert.Equal(t, rsyncargs.ClassRetryable, sum.Outcome.Class, "%+v %s", sum.Outcome, sum.Error)
	assert.Equal(t, rsyncargs.ExitMaxDelete, sum.Outcome.ExitCode)
	assert.Contains(t, sum.Outcome.Reason, "source changed")
	assert.LessOrEqual(t, sum.Stats.DeletedFiles, int64(4))
	assert.GreaterOrEqual(t, regularCount(scan(t, p.dst)), guardTreeFiles-4, "rsync deleted no more than allowed")

	next := p.syncAccepting(context.Background(), rsyncargs.Config{}, false)
	require.NotNil(t, next.Guard)
	assert.Equal(t, progress.GuardSourceShrank, next.Guard.Reason)
}
