package pvcdata

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// newOneMoverCluster holds a batch sync pod of today's shape: one mover
// container fills both claims.
func newOneMoverCluster(t *testing.T, state corev1.ContainerState) *batchCluster {
	t.Helper()
	pod := kube.BatchSyncPod(kube.BatchSyncPodOptions{
		SyncPodOptions: kube.SyncPodOptions{Name: batchPod, Namespace: "app", Image: "mover:1"},
		Claims:         []kube.SyncPodClaim{{Claim: "data-a"}, {Claim: "data-b"}},
		OneMover:       true,
	})
	pod.UID = "uid-batch"
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: kube.BatchMoversContainer, State: state}}
	return newClusterWith(t, pod)
}

// claimsLog is the one mover's log: both claims' lines interleaved, claim 0
// ending first, with a summary each, then both summaries again at the end.
func claimsLog(t *testing.T, summaries [2]*progress.Summary) string {
	t.Helper()
	var out strings.Builder
	r := [2]*progress.Reporter{}
	for i := range r {
		r[i] = progress.NewReporter(&out, progress.ReporterOptions{Interval: time.Nanosecond, Claim: kube.BatchModule(i)})
	}
	require.NoError(t, r[0].Progress(progress.Snapshot{BytesDone: 10, BytesTotal: 999}))
	require.NoError(t, r[1].Progress(progress.Snapshot{BytesDone: 50, BytesTotal: 100}))
	require.NoError(t, r[0].Progress(progress.Snapshot{BytesDone: 999, BytesTotal: 999}))
	for i, s := range summaries {
		if s != nil {
			require.NoError(t, r[i].Summary(*s))
		}
		out.WriteString(`{"level":"info","ts":1,"msg":"sync finished","claim":"` + kube.BatchModule(i) + `"}` + "\n")
	}
	require.NoError(t, r[1].Progress(progress.Snapshot{BytesDone: 100, BytesTotal: 100}))
	for i, s := range summaries {
		if s != nil {
			require.NoError(t, r[i].Summary(*s))
		}
	}
	return out.String()
}

// A Transfer that follows mover-1 in a pod of one mover follows claim-1's
// lines in it: its progress and summary, never claim-0's, which ended
// first and failed. The pod decides: a sync of older code, which knows
// only mover-1, follows claim-1 too, rather than taking pods of its own
// while the batch's mover fills its claim.
func TestFollowOneClaimOfABatchsOneMover(t *testing.T) {
	failed := &progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassPermanent, ExitCode: 23, Reason: "partial transfer"}}
	success := &progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassSuccess}, Streams: 1,
		Stats: progress.Stats{TotalTransferredFileSize: 100, NumFiles: 2}}
	b := newOneMoverCluster(t, corev1.ContainerState{Running: &corev1.ContainerStateRunning{}})
	b.logs[kube.BatchMoversContainer] = claimsLog(t, [2]*progress.Summary{failed, success})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	m, err := followedMover(ctx, b.cs, followed(1))
	require.NoError(t, err)
	assert.Equal(t, kube.BatchMoversContainer, m.container)
	assert.Equal(t, kube.BatchModule(1), m.claim)
	assert.True(t, m.followed)

	heartbeat, beats := recordHeartbeats()
	sum, seen, err := followMover(ctx, b.cs, m, heartbeat)
	require.NoError(t, err)
	require.True(t, seen)
	assert.Equal(t, *success, sum, "its own summary, not its batch-mate's that came first")
	for _, beat := range beats() {
		assert.LessOrEqual(t, beat.BytesDone, int64(100), "claim-0's figures are not its own: %+v", beat)
	}

	// In a pod that an older worker made with a mover per claim, mover-1
	// is followed as it is.
	old, err := followedMover(ctx, newBatchCluster(t).cs, followed(1))
	require.NoError(t, err)
	assert.Equal(t, followed(1), old)
	// A pod that is gone is lost, as when following it.
	_, err = followedMover(ctx, newClusterWith(t, &corev1.Pod{}).cs, followed(1))
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, contract.ErrTypeFollowedMoverLost, appErr.Type())
}

// Once the one mover has ended, a claim's summary is read from the log's
// tail (its termination message is only a note); a claim whose summary is
// not there is lost, and its sync takes pods of its own.
func TestSummaryOfOneClaimOfABatchsOneMover(t *testing.T) {
	success := &progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassSuccess}, Streams: 1,
		Stats: progress.Stats{TotalTransferredFileSize: 100, NumFiles: 2}}
	other := &progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassSuccess}, Streams: 1,
		Stats: progress.Stats{TotalTransferredFileSize: 999, NumFiles: 9}}
	ended := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
		Message: "summaries are in the log, one per claim: claim-0 success claim-1 success"}}
	heartbeat, _ := recordHeartbeats()
	ctx := context.Background()

	b := newOneMoverCluster(t, ended)
	b.logs[kube.BatchMoversContainer] = claimsLog(t, [2]*progress.Summary{other, success})
	m, err := followedMover(ctx, b.cs, followed(1))
	require.NoError(t, err)
	s, err := moverSummary(ctx, b.cs, m, heartbeat)
	require.NoError(t, err)
	assert.Equal(t, success.Stats, s.Stats, "claim-1's own")
	reads := b.logReads()
	require.Len(t, reads, 1)
	require.NotNil(t, reads[0].TailLines)
	assert.EqualValues(t, claimsTailLines, *reads[0].TailLines)

	// A termination message that does parse as a summary (a mover of one
	// volume writes its own there) is not a claim's: the log's is read.
	note, err := progress.EncodeTerminationMessage(*other)
	require.NoError(t, err)
	wholeSummary := *ended.Terminated
	wholeSummary.Message = string(note)
	b = newOneMoverCluster(t, corev1.ContainerState{Terminated: &wholeSummary})
	b.logs[kube.BatchMoversContainer] = claimsLog(t, [2]*progress.Summary{other, success})
	m, err = followedMover(ctx, b.cs, followed(1))
	require.NoError(t, err)
	s, err = moverSummary(ctx, b.cs, m, heartbeat)
	require.NoError(t, err)
	assert.Equal(t, success.Stats, s.Stats, "claim-1's own, from the log, not the message's")

	b = newOneMoverCluster(t, ended)
	b.logs[kube.BatchMoversContainer] = claimsLog(t, [2]*progress.Summary{other, nil})
	m, err = followedMover(ctx, b.cs, followed(1))
	require.NoError(t, err)
	_, err = moverSummary(ctx, b.cs, m, heartbeat)
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, contract.ErrTypeFollowedMoverLost, appErr.Type(), "claim-0's summary is not claim-1's")
	assert.Contains(t, err.Error(), "claim claim-1 of container movers of sync pod app/op-sync")
}
