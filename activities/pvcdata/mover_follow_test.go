package pvcdata

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// batchCluster is a DR cluster (the fake clientset) holding a batch sync
// pod, whose containers' logs the test sets.
type batchCluster struct {
	cs *fake.Clientset

	mu   sync.Mutex
	logs map[string]string // by container
	read []corev1.PodLogOptions
}

const batchPod = "op-sync"

// newBatchCluster holds a batch sync pod with a mover container per claim,
// as workers made them before kube.BatchMoversContainer: a Transfer
// started by an older worker's run may still follow one.
func newBatchCluster(t *testing.T) *batchCluster {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: batchPod, Namespace: "app", UID: "uid-batch"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: kube.BatchMoverContainer(0)}, {Name: kube.BatchMoverContainer(1)}}}}
	pod.Status.Phase = corev1.PodRunning
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{
		{Name: kube.BatchMoverContainer(0), State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}},
		{Name: kube.BatchMoverContainer(1), State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}},
	}
	return newClusterWith(t, pod)
}

func newClusterWith(t *testing.T, pod *corev1.Pod) *batchCluster {
	t.Helper()
	b := &batchCluster{cs: fake.NewClientset(pod), logs: map[string]string{}}
	// The fake clientset answers every log request with "fake logs"
	// unless a reactor says otherwise.
	b.cs.PrependReactor("get", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "log" {
			return false, nil, nil
		}
		opts := action.(k8stesting.GenericAction).GetValue().(*corev1.PodLogOptions)
		b.mu.Lock()
		defer b.mu.Unlock()
		b.read = append(b.read, *opts)
		return true, &runtime.Unknown{Raw: []byte(b.logs[opts.Container])}, nil
	})
	return b
}

// setState sets the state of one container of the batch pod, as the kubelet does.
func (b *batchCluster) setState(t *testing.T, container string, state corev1.ContainerState) {
	t.Helper()
	ctx := context.Background()
	pod, err := b.cs.CoreV1().Pods("app").Get(ctx, batchPod, metav1.GetOptions{})
	require.NoError(t, err)
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == container {
			pod.Status.ContainerStatuses[i].State = state
		}
	}
	_, err = b.cs.CoreV1().Pods("app").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	require.NoError(t, err)
}

func (b *batchCluster) logReads() []corev1.PodLogOptions {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]corev1.PodLogOptions(nil), b.read...)
}

// waitWatching blocks until a wait watches the pod, so the change the test
// makes next reaches it through the watch.
func (b *batchCluster) waitWatching(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, a := range b.cs.Actions() {
			if a.GetVerb() == "watch" {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond)
}

func followed(index int) moverRef {
	return moverRef{namespace: "app", pod: batchPod, container: kube.BatchMoverContainer(index), followed: true}
}

func terminated(t *testing.T, summary *progress.Summary, exitCode int32) corev1.ContainerState {
	t.Helper()
	message := ""
	if summary != nil {
		b, err := progress.EncodeTerminationMessage(*summary)
		require.NoError(t, err)
		message = string(b)
	}
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: exitCode, Reason: "Completed", Message: message}}
}

// moverLog is a mover's stdout (progress lines, then its summary) with its
// closing stderr lines after it, as the container's log has them.
func moverLog(t *testing.T, done int64, summary *progress.Summary) string {
	t.Helper()
	var out strings.Builder
	r := progress.NewReporter(&out, progress.ReporterOptions{Interval: time.Nanosecond})
	require.NoError(t, r.Progress(progress.Snapshot{BytesDone: done / 2, BytesTotal: done}))
	require.NoError(t, r.Progress(progress.Snapshot{BytesDone: done, BytesTotal: done}))
	if summary != nil {
		require.NoError(t, r.Summary(*summary))
	}
	out.WriteString(`{"level":"info","ts":1,"msg":"sync finished","class":"success"}` + "\n")
	return out.String()
}

func recordHeartbeats() (func(contract.TransferProgress), func() []contract.TransferProgress) {
	var mu sync.Mutex
	var beats []contract.TransferProgress
	return func(p contract.TransferProgress) {
			mu.Lock()
			defer mu.Unlock()
			beats = append(beats, p)
		}, func() []contract.TransferProgress {
			mu.Lock()
			defer mu.Unlock()
			return append([]contract.TransferProgress(nil), beats...)
		}
}

// Following mover-1: its start is awaited (mover-0 running already does
// not count), and the progress comes from mover-1's log.
func TestFollowMoverWaitsForItsContainerAndReadsItsProgress(t *testing.T) {
	b := newBatchCluster(t)
	b.logs[kube.BatchMoverContainer(0)] = moverLog(t, 999, nil)
	b.logs[kube.BatchMoverContainer(1)] = moverLog(t, 100, nil)
	heartbeat, beats := recordHeartbeats()
	done := make(chan error, 1)
	go func() {
		_, seen, err := followMover(context.Background(), b.cs, followed(1), heartbeat)
		assert.False(t, seen, "a log without a summary")
		done <- err
	}()
	b.waitWatching(t)
	select {
	case err := <-done:
		t.Fatalf("another container running ended the wait for mover-1: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	b.setState(t, kube.BatchMoverContainer(1), corev1.ContainerState{Running: &corev1.ContainerStateRunning{}})
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("mover-1 runs, and its transfer was not followed")
	}
	reads := b.logReads()
	require.Len(t, reads, 1)
	assert.Equal(t, kube.BatchMoverContainer(1), reads[0].Container)
	assert.True(t, reads[0].Follow)
	got := beats()
	require.NotEmpty(t, got)
	last := got[len(got)-1]
	assert.Equal(t, contract.TransferTransferring, last.Phase)
	assert.EqualValues(t, 100, last.BytesDone, "mover-1's figures, not mover-0's")
}

// The summary line ends the follow: the transfer does not wait for the
// kubelet to show the container terminated (here it never does). A summary
// cut short is no summary; the status is read for it then.
func TestFollowMoverTakesTheSummaryFromTheLog(t *testing.T) {
	success := &progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassSuccess}, Streams: 1,
		Stats: progress.Stats{TotalTransferredFileSize: 4096, NumFiles: 3}}
	b := newBatchCluster(t)
	b.logs[kube.BatchMoverContainer(0)] = moverLog(t, 4096, success)
	heartbeat, beats := recordHeartbeats()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sum, seen, err := followMover(ctx, b.cs, followed(0), heartbeat)
	require.NoError(t, err)
	require.True(t, seen, "the log holds the summary")
	assert.Equal(t, *success, sum)
	got := beats()
	require.NotEmpty(t, got)
	assert.EqualValues(t, 4096, got[len(got)-1].BytesDone, "the last progress line is reported")

	cut := moverLog(t, 4096, nil) + `{"type":"summary","time":"2026-12-06T00:00:00Z","summary":{"outcome":{}}}` + "\n"
	b.logs[kube.BatchMoverContainer(0)] = cut
	_, seen, err = followMover(ctx, b.cs, followed(0), heartbeat)
	require.NoError(t, err)
	assert.False(t, seen, "a summary without an outcome")
}

func TestMoverSummaryOfAFollowedContainer(t *testing.T) {
	success := &progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassSuccess}, Streams: 1,
		Stats: progress.Stats{TotalTransferredFileSize: 4096, NumFiles: 3}}
	fromLog := &progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassSuccess}, Streams: 1,
		Stats: progress.Stats{TotalTransferredFileSize: 8192, NumFiles: 5}}
	message, err := progress.EncodeTerminationMessage(*success)
	require.NoError(t, err)
	// The kubelet keeps the tail of a message over a container's share.
	cut := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
		Message: string(message[len(message)/2:])}}

	t.Run("from the termination message, without reading the log", func(t *testing.T) {
		b := newBatchCluster(t)
		b.logs[kube.BatchMoverContainer(1)] = moverLog(t, 8192, fromLog)
		b.setState(t, kube.BatchMoverContainer(1), terminated(t, success, 0))
		heartbeat, _ := recordHeartbeats()
		s, err := moverSummary(context.Background(), b.cs, followed(1), heartbeat)
		require.NoError(t, err)
		assert.Equal(t, success.Stats, s.Stats)
		assert.Empty(t, b.logReads())
	})

	for _, m := range []moverRef{followed(1), {namespace: "app", pod: batchPod, container: kube.BatchMoverContainer(1)}} {
		t.Run("from the log's last lines when the message is cut, followed="+map[bool]string{true: "yes", false: "no"}[m.followed], func(t *testing.T) {
			b := newBatchCluster(t)
			b.logs[kube.BatchMoverContainer(1)] = moverLog(t, 8192, fromLog)
			b.setState(t, kube.BatchMoverContainer(1), cut)
			heartbeat, _ := recordHeartbeats()
			s, err := moverSummary(context.Background(), b.cs, m, heartbeat)
			require.NoError(t, err)
			assert.Equal(t, fromLog.Stats, s.Stats)
			reads := b.logReads()
			require.Len(t, reads, 1)
			assert.Equal(t, kube.BatchMoverContainer(1), reads[0].Container)
			assert.False(t, reads[0].Follow)
			require.NotNil(t, reads[0].TailLines)
			assert.EqualValues(t, summaryTailLines, *reads[0].TailLines)
		})
	}

	t.Run("neither message nor log has one: the sync takes its own pods, as a mover killed before its summary", func(t *testing.T) {
		b := newBatchCluster(t)
		b.logs[kube.BatchMoverContainer(1)] = moverLog(t, 8192, nil)
		b.setState(t, kube.BatchMoverContainer(1), corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled", Message: "{garbled"}})
		heartbeat, _ := recordHeartbeats()
		_, err := moverSummary(context.Background(), b.cs, followed(1), heartbeat)
		require.Error(t, err)
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, contract.ErrTypeFollowedMoverLost, appErr.Type(), "a retry would read the same ended container")
		assert.Contains(t, err.Error(), "container mover-1 of sync pod app/op-sync ended (OOMKilled, exit 137) without a summary")
	})

	t.Run("another container ending does not end the wait", func(t *testing.T) {
		b := newBatchCluster(t)
		b.setState(t, kube.BatchMoverContainer(1), corev1.ContainerState{Running: &corev1.ContainerStateRunning{}})
		heartbeat, _ := recordHeartbeats()
		type outcome struct {
			s   progress.Summary
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			s, err := moverSummary(context.Background(), b.cs, followed(1), heartbeat)
			done <- outcome{s, err}
		}()
		b.waitWatching(t)
		b.setState(t, kube.BatchMoverContainer(0), terminated(t, &progress.Summary{
			Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassPermanent, ExitCode: 23}}, 1))
		select {
		case got := <-done:
			t.Fatalf("mover-0 ending ended the wait for mover-1: %+v", got)
		case <-time.After(200 * time.Millisecond):
		}
		b.setState(t, kube.BatchMoverContainer(1), terminated(t, success, 0))
		select {
		case got := <-done:
			require.NoError(t, got.err)
			assert.Equal(t, success.Stats, got.s.Stats)
		case <-time.After(5 * time.Second):
			t.Fatal("mover-1 ended, and the wait went on")
		}
	})
}

// A followed container's outcome maps to the errors of an own sync pod's:
// a permanent failure is TransferFailed. An interruption, which an own sync
// pod retries with a new pod, ends a followed container's transfer as
// FollowedMoverLost: a retry would only read the same ended container.
func TestFollowedContainerOutcome(t *testing.T) {
	a := &PVCActivities{}
	follow := &contract.FollowedMover{Pod: batchPod, Container: kube.BatchMoverContainer(1)}
	for _, tc := range []struct {
		class     rsyncargs.Class
		exitCode  int32
		follow    *contract.FollowedMover
		errType   string
		retryable bool
	}{
		{rsyncargs.ClassPermanent, 1, follow, contract.ErrTypeTransferFailed, false},
		{rsyncargs.ClassRetryable, 75, follow, contract.ErrTypeFollowedMoverLost, false},
		{rsyncargs.ClassRetryable, 75, nil, "", true},
		{rsyncargs.ClassSuccess, 0, follow, "", false},
	} {
		in := contract.TransferInput{PVC: contract.PVCRef{Cluster: contract.ClusterRef{Namespace: "dr-syncer", Name: "dr"}, Namespace: "app", Name: "data-b"},
			Follow: tc.follow}
		b := newBatchCluster(t)
		b.setState(t, kube.BatchMoverContainer(0), terminated(t, &progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassSuccess}}, 0))
		b.setState(t, kube.BatchMoverContainer(1), terminated(t, &progress.Summary{
			Outcome: rsyncargs.Outcome{Class: tc.class, ExitCode: 12, Reason: "protocol data stream"}, Error: "connection reset"}, tc.exitCode))
		heartbeat, _ := recordHeartbeats()
		s, err := moverSummary(context.Background(), b.cs, followed(1), heartbeat)
		require.NoError(t, err)
		_, err = a.transferOutcome(context.Background(), b.cs, in, s, 0)
		if tc.class == rsyncargs.ClassSuccess {
			assert.NoError(t, err)
			continue
		}
		require.Error(t, err, tc.class)
		assert.Contains(t, err.Error(), "rsync exit 12")
		var appErr *temporal.ApplicationError
		if tc.retryable {
			assert.False(t, errors.As(err, &appErr), "an own sync pod's interruption is a plain, retryable error: %v", err)
			continue
		}
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, tc.errType, appErr.Type())
		assert.True(t, appErr.NonRetryable())
		if tc.errType == contract.ErrTypeFollowedMoverLost {
			assert.Contains(t, err.Error(), "transfer of dr/app/data-b interrupted")
			assert.Contains(t, err.Error(), "container mover-1 of batch sync pod app/op-sync has ended and does not run again, so the sync retries with its own pods")
		}
	}
}

// A followed pod that is gone, or lacks the container, ends the transfer
// for good: only the run could make it again. An own sync pod that is gone
// stays retryable, as before: the retry creates it again.
func TestFollowedMoverLost(t *testing.T) {
	ctx := context.Background()
	heartbeat, _ := recordHeartbeats()
	lostType := func(t *testing.T, err error) {
		t.Helper()
		var appErr *temporal.ApplicationError
		require.ErrorAs(t, err, &appErr)
		assert.Equal(t, contract.ErrTypeFollowedMoverLost, appErr.Type())
		assert.True(t, appErr.NonRetryable())
	}
	b := newBatchCluster(t)
	gone := followed(1)
	gone.pod = "op-sync-gone"
	_, _, err := followMover(ctx, b.cs, gone, heartbeat)
	lostType(t, err)
	_, err = moverSummary(ctx, b.cs, gone, heartbeat)
	lostType(t, err)

	_, _, err = followMover(ctx, b.cs, followed(7), heartbeat)
	lostType(t, err)
	assert.Contains(t, err.Error(), "sync pod app/op-sync has no container mover-7")

	own := gone
	own.followed = false
	_, _, err = followMover(ctx, b.cs, own, heartbeat)
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	assert.False(t, errors.As(err, &appErr), "%v", err)
}
