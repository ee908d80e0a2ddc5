package pvcdata

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

type recordedSignal struct {
	workflowID, runID, name string
	update                  contract.PVCProgressUpdate
}

type fakeSignaler struct {
	sent []recordedSignal
	err  error
}

func (f *fakeSignaler) SignalWorkflow(_ context.Context, workflowID, runID, name string, arg any) error {
	f.sent = append(f.sent, recordedSignal{workflowID, runID, name, arg.(contract.PVCProgressUpdate)})
	return f.err
}

func newTestReporter(s Signaler, clock *time.Time) *parentReporter {
	start := *clock
	return &parentReporter{signaler: s, log: log.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		target:  contract.ProgressTarget{WorkflowID: "replication/ops/shop/1", RunID: "run-1", PVC: "data"},
		attempt: 2, now: func() time.Time { return *clock }, started: start}
}

func transferAt(done int64) contract.TransferProgress {
	return contract.TransferProgress{Phase: "transferring", Snapshot: progress.Snapshot{BytesDone: done, BytesTotal: 1000}}
}

// The run hears of a transfer at once, then at most every reportEvery and
// only with news; the mover's last figures go out without waiting, and the
// figures survive the heartbeats that carry none.
func TestParentReporterSendsNewsAtMostEveryInterval(t *testing.T) {
	clock := time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)
	s := &fakeSignaler{}
	r := newTestReporter(s, &clock)
	ctx := context.Background()

	r.progress(ctx, transferAt(100), false)
	require.Len(t, s.sent, 1, "the first report goes at once")
	assert.Equal(t, recordedSignal{"replication/ops/shop/1", "run-1", contract.SignalPVCProgress,
		contract.PVCProgressUpdate{PVC: "data", Transfer: &contract.TransferProgress{Phase: "transferring",
			Snapshot: progress.Snapshot{BytesDone: 100, BytesTotal: 1000}}, Attempt: 2}}, s.sent[0])

	clock = clock.Add(time.Second)
	r.progress(ctx, transferAt(200), false)
	assert.Len(t, s.sent, 1, "within reportEvery: held back")
	clock = clock.Add(time.Second)
	r.progress(ctx, transferAt(300), false)
	require.Len(t, s.sent, 2)
	assert.EqualValues(t, 300, s.sent[1].update.Transfer.BytesDone)

	clock = clock.Add(10 * time.Second)
	r.progress(ctx, transferAt(300), false)
	assert.Len(t, s.sent, 2, "nothing new, nothing sent")

	r.progress(ctx, transferAt(1000), true)
	require.Len(t, s.sent, 3, "forced: the mover's last figures")
	clock = clock.Add(10 * time.Second)
	r.progress(ctx, contract.TransferProgress{Phase: "finishing"}, false)
	require.Len(t, s.sent, 4)
	assert.Equal(t, "finishing", s.sent[3].update.Transfer.Phase)
	assert.EqualValues(t, 1000, s.sent[3].update.Transfer.BytesDone, "a heartbeat without figures keeps the last ones")
}

// A failed attempt says why; a cancelled one, or one that succeeded, sends
// nothing; a signal that fails changes nothing for the transfer.
func TestParentReporterReportsFailures(t *testing.T) {
	clock := time.Now()
	s := &fakeSignaler{err: errors.New("workflow execution already completed")}
	r := newTestReporter(s, &clock)
	r.failed(context.Background(), nil)
	assert.Empty(t, s.sent)
	r.failed(context.Background(), errors.New("rsync exit 12: connection reset"))
	require.Len(t, s.sent, 1)
	assert.Equal(t, contract.PVCProgressUpdate{PVC: "data", Attempt: 2, LastFailure: "rsync exit 12: connection reset"}, s.sent[0].update)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	r.failed(cancelled, context.Canceled)
	assert.Len(t, s.sent, 1)

	var none *parentReporter
	none.progress(context.Background(), transferAt(1), true)
	none.failed(context.Background(), errors.New("x"))
}

// Long transfers report less often, so the run's history stays bounded.
func TestReportIntervalGrowsWithElapsedTime(t *testing.T) {
	assert.Equal(t, reportEvery, reportInterval(0))
	assert.Equal(t, reportEvery, reportInterval(2*time.Minute))
	assert.Equal(t, 5*time.Second, reportInterval(5*time.Minute), "within 5 s for five minutes")
	assert.Equal(t, time.Minute, reportInterval(time.Hour))
}
