package dataplane

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/test/testtree"
)

func requireSuccess(t *testing.T, sum progress.Summary) {
	t.Helper()
	require.Equal(t, rsyncargs.ClassSuccess, sum.Outcome.Class, "outcome %+v error %s", sum.Outcome, sum.Error)
}

// TestLoopbackNastyTree is the end-to-end test of the data path: agent,
// mount server (real rsync daemon) and mover (real rsync client) copy a
// hostile tree; the copy is compared with an independent comparator; then
// the source changes (including deletions) and a second sync must mirror it.
func TestLoopbackNastyTree(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	testtree.Nasty(t, p.src)

	sum, events := p.sync(context.Background(), rsyncargs.Config{})
	requireSuccess(t, sum)
	p.requireIdentical(testtree.Options{})

	// Progress: JSON lines, then exactly one summary as the last line.
	require.NotEmpty(t, events)
	last := events[len(events)-1]
	require.Equal(t, progress.TypeSummary, last.Type)
	assert.Equal(t, sum.Stats, last.Summary.Stats)
	assert.Positive(t, sum.Stats.RegularFilesTransferred)
	assert.Equal(t, sum.Progress.FilesTotal, sum.Progress.FilesDone)
	assert.True(t, sum.Progress.ScanComplete)
	var sawProgress bool
	for _, e := range events[:len(events)-1] {
		sawProgress = sawProgress || (e.Type == progress.TypeProgress && e.Progress.BytesDone > 0)
	}
	assert.True(t, sawProgress, "no live progress line")

	// The agent logged the connection with key, target and bytes.
	closed := p.agentLogs.FilterMessage("connection closed").All()
	require.Len(t, closed, 1)
	fields := closed[0].ContextMap()
	assert.Positive(t, fields["bytes_to_client"])
	assert.NotEmpty(t, fields["key_fingerprint"])
	assert.Equal(t, p.target, p.agentLogs.FilterMessage("channel closed").All()[0].ContextMap()["target"])

	testtree.MutateNasty(t, p.src)
	sum, _ = p.sync(context.Background(), rsyncargs.Config{})
	requireSuccess(t, sum)
	assert.Positive(t, sum.Stats.DeletedFiles, "deletions mirrored")
	p.requireIdentical(testtree.Options{})
	_, err := os.Lstat(filepath.Join(p.dst, "plain.txt"))
	assert.True(t, os.IsNotExist(err), "file deleted at the source survived in the copy")
}

func TestParallelStreamsIdenticalCopy(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	testtree.Nasty(t, p.src)
	cfg := rsyncargs.Config{ParallelStreams: 2}
	sum, _ := p.sync(context.Background(), cfg)
	requireSuccess(t, sum)
	assert.Equal(t, 2, sum.Streams)
	p.requireIdentical(testtree.Options{IgnoreHardLinksAcross: true})

	// Two rsync processes, one SSH connection with several channels.
	closed := p.agentLogs.FilterMessage("connection closed").All()
	require.Len(t, closed, 1)
	assert.GreaterOrEqual(t, closed[0].ContextMap()["channels"], int64(3), "list + 2 streams + root pass")

	testtree.MutateNasty(t, p.src)
	sum, _ = p.sync(context.Background(), cfg)
	requireSuccess(t, sum)
	p.requireIdentical(testtree.Options{IgnoreHardLinksAcross: true})
}

// TestResumeAfterKill interrupts a bandwidth-limited transfer of a large
// file, then syncs again: thanks to --partial --inplace the second run sends
// only what is missing.
func TestResumeAfterKill(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	const size = 6 << 20
	data := make([]byte, size)
	_, _ = rand.Read(data)
	require.NoError(t, os.WriteFile(filepath.Join(p.src, "big.bin"), data, 0o644))

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan progress.Summary, 1)
	go func() {
		sum, _ := p.sync(ctx, rsyncargs.Config{BandwidthLimitKiB: 2048})
		done <- sum
	}()
	partial := filepath.Join(p.dst, "big.bin")
	require.Eventually(t, func() bool {
		fi, err := os.Stat(partial)
		return err == nil && fi.Size() >= 2<<20
	}, 20*time.Second, 20*time.Millisecond, "transfer never got going")
	cancel()
	first := <-done
	require.Equal(t, rsyncargs.ClassRetryable, first.Outcome.Class, "an interrupted sync is retryable: %+v", first.Outcome)
	fi, err := os.Stat(partial)
	require.NoError(t, err, "--partial/--inplace keeps the partial file")
	kept := fi.Size()
	require.Less(t, kept, int64(size))

	second, _ := p.sync(context.Background(), rsyncargs.Config{})
	requireSuccess(t, second)
	p.requireIdentical(testtree.Options{})
	t.Logf("kept %d of %d bytes; second run: literal %d matched %d received %d",
		kept, size, second.Stats.LiteralData, second.Stats.MatchedData, second.Stats.BytesReceived)
	assert.Positive(t, second.Stats.MatchedData, "the partial file was used as the basis")
	assert.Less(t, second.Stats.BytesReceived, int64(size)-kept/2, "far fewer bytes the second time")
	assert.LessOrEqual(t, second.Stats.LiteralData, int64(size)-kept+128<<10)
}

func TestSampleVerificationDetectsCorruption(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	w := testtree.NewWriter(t, p.src, 1)
	for _, name := range []string{"a/one", "a/two", "b/three", "c/four"} {
		w.File(name, w.Random(10000), 0o644)
	}
	w.Finish()
	sum, _ := p.sync(context.Background(), rsyncargs.Config{VerificationMode: rsyncargs.VerifySample, SamplePercent: 100})
	requireSuccess(t, sum)
	require.NotNil(t, sum.Verification)
	assert.Equal(t, 4, sum.Verification.FilesChecked)
	assert.Zero(t, sum.Verification.MismatchCount)

	// Silent corruption on the DR side: same size, same mtime.
	victim := filepath.Join(p.dst, "b/three")
	flipByteKeepingTime(t, victim, 5000)

	// The quick check alone does not notice ...
	sum, _ = p.sync(context.Background(), rsyncargs.Config{})
	requireSuccess(t, sum)
	// ... sample verification finds it, copies it again and says so ...
	sum, _ = p.sync(context.Background(), rsyncargs.Config{VerificationMode: rsyncargs.VerifySample, SamplePercent: 100})
	requireSuccess(t, sum)
	require.NotNil(t, sum.Verification)
	assert.Equal(t, []string{"b/three"}, sum.Verification.Repaired)
	assert.Zero(t, sum.Verification.MismatchCount)
	assert.Zero(t, sum.Verification.SkippedLiveCount, "the source did not change: no live file")
	p.requireIdentical(testtree.Options{})

	// ... and full verification (--checksum) repairs it too.
	flipByteKeepingTime(t, victim, 5000)
	sum, _ = p.sync(context.Background(), rsyncargs.Config{VerificationMode: rsyncargs.VerifyFull})
	requireSuccess(t, sum)
	p.requireIdentical(testtree.Options{})
}

// TestSampleVerificationLiveVolume copies a volume an application writes
// while the sync runs: one file is rewritten once right after the copy read
// it, another is appended to all the time. Neither is damage: the first is
// copied again and then verified, the second is reported as live.
func TestSampleVerificationLiveVolume(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	once, live, big := filepath.Join(p.src, "a-once"), filepath.Join(p.src, "b-live"), filepath.Join(p.src, "z-big")
	require.NoError(t, os.WriteFile(once, []byte("first version\n"), 0o644))
	require.NoError(t, os.WriteFile(live, []byte("log start\n"), 0o644))
	big0 := make([]byte, 300<<10)
	_, err := rand.Read(big0)
	require.NoError(t, err)
	// Copied last (rsync goes in name order) and slowly: the rewrite of
	// a-once lands after the copy read it and before the verification.
	require.NoError(t, os.WriteFile(big, big0, 0o644))

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	rewritten := make(chan struct{})
	go func() {
		defer close(rewritten)
		for ctx.Err() == nil {
			if src, err := os.Stat(once); err == nil {
				if dst, err := os.Stat(filepath.Join(p.dst, "a-once")); err == nil && dst.ModTime().Equal(src.ModTime()) {
					_ = os.WriteFile(once, []byte("second, longer version\n"), 0o644)
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	appending := make(chan struct{})
	go func() {
		defer close(appending)
		f, err := os.OpenFile(live, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		for i := 0; ctx.Err() == nil; i++ {
			_, _ = fmt.Fprintf(f, "line %d\n", i)
			time.Sleep(2 * time.Millisecond)
		}
	}()

	sum, _ := p.sync(context.Background(), rsyncargs.Config{
		VerificationMode: rsyncargs.VerifySample, SamplePercent: 100, BandwidthLimitKiB: 150,
	})
	stop()
	<-rewritten
	<-appending
	requireSuccess(t, sum)
	v := sum.Verification
	require.NotNil(t, v)
	assert.Equal(t, 3, v.FilesChecked)
	assert.Zero(t, v.MismatchCount, "no file is damage: %+v", v)
	assert.Equal(t, []string{"a-once"}, v.Repaired, "the file rewritten once was copied again")
	assert.Equal(t, []string{"b-live"}, v.SkippedLive, "the file written all the time is live, not damage")
	got, err := os.ReadFile(filepath.Join(p.dst, "a-once"))
	require.NoError(t, err)
	assert.Equal(t, "second, longer version\n", string(got), "the DR copy holds the rewrite")
}

func TestSecurityMoverRefusesWrongHostKey(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	_, otherPub, err := keys.GenerateHostKey("impostor")
	require.NoError(t, err)
	p.hostKey, err = keys.ParsePublicKey(otherPub)
	require.NoError(t, err)
	sum, _ := p.sync(context.Background(), rsyncargs.Config{})
	assert.Equal(t, rsyncargs.ClassPermanent, sum.Outcome.Class)
	assert.Contains(t, sum.Error, mover.ErrHostKeyMismatch.Error())
}

func TestSecurityMoverWithWrongKeyIsRefused(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	stranger, err := keys.GenerateClusterPairKey("stranger")
	require.NoError(t, err)
	p.client = signer(t, stranger)
	sum, _ := p.sync(context.Background(), rsyncargs.Config{})
	assert.Contains(t, sum.Error, mover.ErrAuthRefused.Error())
	assert.Zero(t, sum.Stats.TotalTransferredFileSize, "nothing crosses without an authorized key")
	// Retried with backoff: a key rotation reaches the agent a little later.
	assert.Equal(t, rsyncargs.ClassRetryable, sum.Outcome.Class)
}

func TestSecurityTargetNotAllowedCopiesNothing(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	testtree.NewWriter(t, p.src, 1).File("f", []byte("x"), 0o644)
	p.allow("127.0.0.1:1") // the mount server is no longer allowed
	sum, _ := p.sync(context.Background(), rsyncargs.Config{})
	assert.NotEqual(t, rsyncargs.ClassSuccess, sum.Outcome.Class)
	entries, err := os.ReadDir(p.dst)
	require.NoError(t, err)
	assert.Empty(t, entries)
	require.NotEmpty(t, p.agentLogs.FilterMessage("refused channel: target not allowed").All())
}

// A sync pod starts together with its mount pod and names it; the agent
// knows the name only once the pod has an IP, and the mover waits for that.
func TestMoverWaitsForNamedMountPod(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	testtree.NewWriter(t, p.src, 1).File("f", bytes.Repeat([]byte("data"), 4096), 0o644)
	server := netip.MustParseAddrPort(p.target)
	p.target = fmt.Sprintf("app/mount-x:%d", server.Port())
	time.AfterFunc(300*time.Millisecond, func() { p.names.names.Store("app/mount-x", server.Addr()) })

	sum, _ := p.sync(context.Background(), rsyncargs.Config{})
	require.Equal(t, rsyncargs.ClassSuccess, sum.Outcome.Class, sum.Error)
	p.requireIdentical(testtree.Options{})
	assert.NotEmpty(t, p.agentLogs.FilterMessage("named target not ready").All(), "the mover asked before the name was known")
	assert.Empty(t, p.agentLogs.FilterMessage("refused channel: target not allowed").All(), "waiting is no refusal")
	forwarded := p.agentLogs.FilterMessage("channel closed").All()
	require.NotEmpty(t, forwarded)
	assert.Equal(t, p.target, forwarded[0].ContextMap()["target_name"])
}

func TestMoverGivesUpOnAMountPodThatNeverAppears(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	testtree.NewWriter(t, p.src, 1).File("f", []byte("x"), 0o644)
	p.target = "app/never:8873"
	var out bytes.Buffer
	o := p.options(rsyncargs.Config{}, &out)
	o.TargetWait = 500 * time.Millisecond
	sum := mover.Run(context.Background(), o)
	assert.Equal(t, rsyncargs.ClassRetryable, sum.Outcome.Class, "the mount pod may still come: the activity retries")
	assert.Equal(t, "mount pod not reachable through the agent", sum.Outcome.Reason)
	assert.Contains(t, sum.Error, "still not reachable through the agent after 500ms")
	entries, err := os.ReadDir(p.dst)
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// A mount pod that ended will not come back: the mover fails at once and
// the activity's retry starts over.
func TestMoverDoesNotWaitForAFinishedMountPod(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	testtree.NewWriter(t, p.src, 1).File("f", []byte("x"), 0o644)
	p.target = "app/finished:8873"
	p.names.finished.Store("app/finished", struct{}{})
	start := time.Now()
	sum, _ := p.sync(context.Background(), rsyncargs.Config{})
	assert.Less(t, time.Since(start), 10*time.Second, "no wait for a target the agent refuses")
	assert.Equal(t, rsyncargs.ClassRetryable, sum.Outcome.Class)
	assert.Contains(t, sum.Error, "no running mount pod on the agent's node")
	require.NotEmpty(t, p.agentLogs.FilterMessage("refused channel: target not allowed").All())
}

func TestSecurityInvalidConfigRejectedBeforeConnecting(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	for _, cfg := range []rsyncargs.Config{
		{ExcludePaths: []string{"../../etc"}},
		{ExcludePaths: []string{"/etc"}},
		{RsyncOptions: []string{"--rsh=/bin/sh -c 'id'"}},
		{RsyncOptions: []string{"--copy-links"}},
	} {
		sum, _ := p.sync(context.Background(), cfg)
		assert.Equal(t, rsyncargs.ClassPermanent, sum.Outcome.Class, "%+v", cfg)
		assert.Equal(t, rsyncargs.NotRun, sum.Outcome.ExitCode)
		assert.Contains(t, sum.Error, rsyncargs.ErrInvalidConfig.Error())
	}
	assert.Empty(t, p.agentLogs.FilterMessage("connection opened").All(), "no connection for an invalid config")
}
