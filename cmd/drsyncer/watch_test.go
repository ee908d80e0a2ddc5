package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

func TestProgressBlockShowsBarBytesRateAndETA(t *testing.T) {
	st := starter.RunState{Status: starter.StatusRunning,
		Progress: &contract.ReplicationProgress{Phase: contract.PhaseSyncPVCs, PVCsTotal: 3, PVCsDone: 1},
		PVCs: []starter.PVCProgress{
			{PVC: "data", Phase: contract.PhaseTransfer, Transfer: &contract.TransferProgress{Snapshot: progress.Snapshot{
				BytesDone: 256 << 20, BytesTotal: 1 << 30, Percent: 25.000000001, RateBytesPerSec: 64 << 20}}},
			{PVC: "logs", Phase: contract.PhaseMountPod, Attempt: 2, LastFailure: "mount pod lost"},
		}}
	assert.Equal(t, "SyncPVCs: 1 of 3 PVCs done\n"+
		"  data [#####---------------]  25.0%  256.0 MiB of 1.0 GiB  64.0 MiB/s  ETA 12s\n"+
		"  logs EnsureMountPod  (attempt 2, last failure: mount pod lost)\n", progressBlock(st))
}

func TestResultLineSaysHowTheRunEnded(t *testing.T) {
	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	ok := starter.RunState{WorkflowID: "replication/ops/shop/manual-1", Status: starter.StatusCompleted, Start: start, Close: start.Add(90 * time.Second),
		Result: &contract.ReplicationResult{PVCs: []contract.PVCOutcome{{PVC: "data", Result: &contract.PVCSyncResult{
			Transfer: contract.TransferResult{Stats: progress.Stats{TotalTransferredFileSize: 3 << 29}}}}}}}
	assert.Equal(t, "✓ replication/ops/shop/manual-1 completed in 1m30s: 1 PVCs synced, 1.5 GiB copied", resultLine(ok))
	failed := starter.RunState{WorkflowID: "replication/ops/shop/manual-2", Status: starter.StatusFailed, Start: start, Close: start.Add(10 * time.Second),
		Error: "1 of 1 PVC syncs failed: data: rsync exit 23"}
	assert.Equal(t, "✗ replication/ops/shop/manual-2 failed after 10s: 1 of 1 PVC syncs failed: data: rsync exit 23", resultLine(failed))
}

// scriptedReplication stands in for the Replication workflow: it answers
// the progress query with one PVC whose transfer moves an eighth of 1 GiB
// a second, then completes, or fails when fail is set. Eight steps, not
// fewer: on a loaded machine one query may wait its whole QueryTimeout
// (3 s), and the watch must still see two of them.
func scriptedReplication(fail bool) func(workflow.Context, contract.ReplicationInput) (contract.ReplicationResult, error) {
	return func(ctx workflow.Context, in contract.ReplicationInput) (contract.ReplicationResult, error) {
		info := workflow.GetInfo(ctx)
		p := contract.ReplicationProgress{Phase: contract.PhaseSyncPVCs, PVCsTotal: 1, RunID: info.WorkflowExecution.RunID, Start: info.WorkflowStartTime}
		if err := workflow.SetQueryHandler(ctx, contract.ProgressQuery, func() (contract.ReplicationProgress, error) { return p, nil }); err != nil {
			return contract.ReplicationResult{}, err
		}
		for i := int64(1); i <= 8; i++ {
			p.PVCs = []contract.PVCRunProgress{{PVC: "data", Phase: contract.PhaseTransfer, Transfer: &contract.TransferProgress{Snapshot: progress.Snapshot{
				BytesDone: i << 27, BytesTotal: 1 << 30, Percent: float64(i) * 12.5, RateBytesPerSec: 1 << 27}}}}
			if err := workflow.Sleep(ctx, time.Second); err != nil {
				return contract.ReplicationResult{}, err
			}
		}
		if fail {
			return contract.ReplicationResult{}, temporal.NewNonRetryableApplicationError("1 of 1 PVC syncs failed: data: rsync exit 23", contract.ErrTypeTransferFailed, nil)
		}
		return contract.ReplicationResult{PVCs: []contract.PVCOutcome{{PVC: "data", Result: &contract.PVCSyncResult{
			Transfer: contract.TransferResult{Stats: progress.Stats{TotalTransferredFileSize: 1 << 30}}}}}}, nil
	}
}

// `status --watch` against runs on a dev server: it prints the progress as
// it changes (at least two updates), then the result, and its error (the
// exit status) says whether the run completed.
func TestStatusWatchFollowsARunToItsResult(t *testing.T) {
	tp := testenv.StartTemporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cli := cliAgainst(ctx, tp)

	for _, tc := range []struct {
		ns   string
		fail bool
	}{{"ok", false}, {"broken", true}} {
		t.Run(tc.ns, func(t *testing.T) {
			queue := tp.TaskQueue + "-" + tc.ns
			w := worker.New(tp.Client, queue, worker.Options{})
			w.RegisterWorkflowWithOptions(scriptedReplication(tc.fail), workflow.RegisterOptions{Name: contract.ReplicationName})
			require.NoError(t, w.Start())
			defer w.Stop()
			cliOn := func(args ...string) (string, error) { return cli(append([]string{"--task-queue", queue}, args...)...) }

			ref := tc.ns + "/shop"
			_, err := cliOn("start", ref)
			require.NoError(t, err)
			require.Eventually(t, func() bool { _, err = cliOn("status", ref); return err == nil },
				20*time.Second, 100*time.Millisecond, "the run shows in visibility: %v", err)

			out, err := cliOn("status", "--watch", "--interval", "100ms", ref)
			bars := regexp.MustCompile(`(?m)^  data \[[#-]{20}\]\s+\d+\.\d%  \S+ \S+ of 1\.0 GiB  128\.0 MiB/s  ETA \d+s$`).FindAllString(out, -1)
			assert.GreaterOrEqual(t, len(bars), 2, "at least two progress updates:\n%s", out)
			assert.Contains(t, out, "watching replication/"+ref+"/manual-")
			lines := strings.Split(strings.TrimSpace(out), "\n")
			last := lines[len(lines)-1]
			if tc.fail {
				var failed *runFailedError
				require.ErrorAs(t, err, &failed, "a failed run is a failed watch (exit 1):\n%s", out)
				assert.Regexp(t, `^✗ replication/`+ref+`/manual-\S+ failed after \S+: 1 of 1 PVC syncs failed: data: rsync exit 23 \(type: TransferFailed`, last)
			} else {
				require.NoError(t, err, out)
				assert.Regexp(t, `^✓ replication/`+ref+`/manual-\S+ completed in \S+: 1 PVCs synced, 1\.0 GiB copied$`, last)
			}
		})
	}
}
