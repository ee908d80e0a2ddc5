package pvcdata

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

// Signaler sends a signal to a workflow run; the worker's Temporal client is one.
type Signaler interface {
	SignalWorkflow(ctx context.Context, workflowID, runID, signalName string, arg any) error
}

// Transfer reports reach the Replication run at most every reportEvery, and
// in a long transfer at most reportsPerElapsed times per its elapsed time:
// every report is an event in the run's history, which must stay bounded.
// A transfer of up to reportsPerElapsed x 5 s (five minutes) is never shown
// more than 5 s behind its heartbeats; a longer one falls behind by at most
// 1/reportsPerElapsed of its run time, for about 60 + 60·ln(T / 2 min) reports.
const (
	reportEvery       = 2 * time.Second
	reportsPerElapsed = 60
	// reportTimeout keeps a slow or unreachable server from stalling the
	// transfer's heartbeat loop.
	reportTimeout = 2 * time.Second
)

// reportInterval is the least time between two reports, elapsed into the transfer.
func reportInterval(elapsed time.Duration) time.Duration {
	return max(reportEvery, elapsed/reportsPerElapsed)
}

// parentReporter sends one transfer attempt's progress to the Replication run
// (contract.SignalPVCProgress). A nil reporter sends nothing. Reports are
// best effort: a failed signal (the run ended, the server is away) is
// dropped, never a reason to slow or fail the transfer.
type parentReporter struct {
	signaler Signaler
	log      log.Logger
	target   contract.ProgressTarget
	attempt  int32
	now      func() time.Time
	started  time.Time
	sentAt   time.Time
	sent     *contract.TransferProgress
	// bytes is the newest snapshot with figures: heartbeats while the pod
	// starts or the mover finishes carry none, and must not show 0 bytes.
	bytes progress.Snapshot
}

// reporter is the attempt's parentReporter; nil when the sync has no parent
// run or this worker was built without a Temporal client.
func (a *PVCActivities) reporter(ctx context.Context, in contract.TransferInput) *parentReporter {
	if a.Temporal == nil || in.Progress == nil {
		return nil
	}
	now := time.Now
	return &parentReporter{signaler: a.Temporal, log: activity.GetLogger(ctx), target: *in.Progress, attempt: activity.GetInfo(ctx).Attempt, now: now, started: now()}
}

// progress reports p when it says something new and reportInterval has
// passed since the last report (the first report goes at once); force skips
// the wait, for the mover's last figures.
func (r *parentReporter) progress(ctx context.Context, p contract.TransferProgress, force bool) {
	if r == nil {
		return
	}
	if p.Snapshot == (progress.Snapshot{}) {
		p.Snapshot = r.bytes
	} else {
		r.bytes = p.Snapshot
	}
	now := r.now()
	if r.sent != nil && *r.sent == p || !force && now.Sub(r.sentAt) < reportInterval(now.Sub(r.started)) {
		return
	}
	r.sent, r.sentAt = &p, now
	r.send(ctx, contract.PVCProgressUpdate{PVC: r.target.PVC, Transfer: &p, Attempt: r.attempt})
}

// failed reports why this attempt failed, so the run shows it while the
// next attempt waits for its retry. A cancelled attempt is not a failure.
func (r *parentReporter) failed(ctx context.Context, err error) {
	if r == nil || err == nil || ctx.Err() != nil {
		return
	}
	r.send(ctx, contract.PVCProgressUpdate{PVC: r.target.PVC, Attempt: r.attempt, LastFailure: err.Error()})
}

func (r *parentReporter) send(ctx context.Context, u contract.PVCProgressUpdate) {
	sctx, cancel := context.WithTimeout(ctx, reportTimeout)
	defer cancel()
	if err := r.signaler.SignalWorkflow(sctx, r.target.WorkflowID, r.target.RunID, contract.SignalPVCProgress, u); err != nil {
		r.log.Debug("progress report to the replication run dropped", "run", r.target.WorkflowID, "error", err)
	}
}
