//go:build record

package workflows_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

// TestRecordHistoriesWebUIMetadata records a run whose commands carry the
// Web UI's metadata (2026-12-05): activity and timer summaries, the PVC
// sync children's static summary and details, and the current details the
// runs keep. They replay with the code that wrote them, and show that any
// later change to those summaries still replays.
// `-run 'TestRecordHistoriesWebUIMetadata$'` records them alone.
func TestRecordHistoriesWebUIMetadata(t *testing.T) {
	var signaler client.Client
	tp := startRecorder(t, func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		p := contract.TransferProgress{Phase: "transferring", Snapshot: progress.Snapshot{
			BytesDone: 512, BytesTotal: 1024, Percent: 50.000000001, RateBytesPerSec: 100.4}}.Readable()
		activity.RecordHeartbeat(ctx, p)
		if in.Progress != nil {
			_ = signaler.SignalWorkflow(ctx, in.Progress.WorkflowID, in.Progress.RunID, contract.SignalPVCProgress,
				contract.PVCProgressUpdate{PVC: in.Progress.PVC, Transfer: &p, Attempt: 1})
		}
		return contract.TransferResult{Streams: 1}, nil
	})
	signaler = tp.Client
	ctx := context.Background()
	ref := contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"}
	run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: contract.ReplicationWorkflowID(ref.Namespace, ref.Name, "webui"),
		TaskQueue: tp.TaskQueue, StaticSummary: "Sync dr-syncer-system/shop (manual)"},
		contract.ReplicationName, contract.ReplicationInput{Replication: ref, Trigger: "webui"})
	require.NoError(t, err)
	require.NoError(t, run.Get(ctx, nil))
	saveHistory(t, tp.Client, "replication-webui-metadata", run.GetID(), run.GetRunID())
	saveHistory(t, tp.Client, "pvc-sync-webui-metadata", contract.PVCSyncWorkflowID("prod", "shop", "data"), "")
}
