package workflows_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// What the Web UI shows of a running sync, read back through the same API
// it uses on a real server: the run's and the PVC sync's summary and
// details (set at start), their current details (the
// __temporal_workflow_metadata query), the steps' summaries in the
// history, and the transfer's heartbeat as people read it.
func TestWebUIShowsARunningSyncReadably(t *testing.T) {
	tp := testenv.StartTemporal(t)
	release := make(chan struct{})
	// The mover's raw figures, as Transfer heartbeats and reports them.
	raw := contract.TransferProgress{Phase: "transferring", Snapshot: progress.Snapshot{
		BytesDone: 256 << 20, BytesTotal: 1 << 30, Percent: 25.000000001892366, RateBytesPerSec: 16<<20 + 0.4, FilesTransferred: 3}}
	script := scriptedActivities(func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		p := raw.Readable() // what pvcdata's heartbeat does
		activity.RecordHeartbeat(ctx, p)
		if err := tp.Client.SignalWorkflow(ctx, in.Progress.WorkflowID, in.Progress.RunID, contract.SignalPVCProgress,
			contract.PVCProgressUpdate{PVC: in.Progress.PVC, Transfer: &p, Attempt: 1}); err != nil {
			return contract.TransferResult{}, err
		}
		<-release
		return contract.TransferResult{Streams: 1}, nil
	})
	syncAtOnce(script, 1, "data")
	startScriptedWorker(t, tp, script)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ref := contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"}
	s := &starter.Starter{Client: tp.Client, Namespace: tp.Namespace, TaskQueue: tp.TaskQueue,
		Routes: func(context.Context, contract.ObjectRef) string { return "prod/shop → dr/shop" }}
	run, err := s.StartRun(ctx, ref, "sync-now-1")
	require.NoError(t, err)
	childID := contract.PVCSyncWorkflowID("prod", "shop", "data")

	// The transfer is running once its heartbeat is on the child.
	var heartbeat *commonpb.Payload
	require.Eventually(t, func() bool {
		d, err := tp.Client.DescribeWorkflowExecution(ctx, childID, "")
		if err != nil || len(d.PendingActivities) == 0 || len(d.PendingActivities[0].GetHeartbeatDetails().GetPayloads()) == 0 {
			return false
		}
		heartbeat = d.PendingActivities[0].HeartbeatDetails.Payloads[0]
		return true
	}, time.Minute, 200*time.Millisecond)
	var beat contract.TransferProgress
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(heartbeat, &beat))
	// The Web UI prints the payload's JSON as it is.
	assert.Contains(t, string(heartbeat.Data), `"percent":25,`)
	assert.Equal(t, "48s", beat.ETA, "768 MiB left at 16 MiB/s")
	assert.EqualValues(t, 48, beat.ETASeconds)
	assert.Equal(t, 3, beat.FilesTransferred)

	summary, details := userMetadata(ctx, t, tp.Client, run.WorkflowID)
	assert.Equal(t, "Sync dr-syncer-system/shop: prod/shop → dr/shop (manual)", summary)
	assert.Contains(t, details, "**Trigger:** manual (sync-now-1)")
	assert.Contains(t, details, "**Source → destination:** prod/shop → dr/shop")
	childSummary, childDetails := userMetadata(ctx, t, tp.Client, childID)
	assert.Equal(t, "PVC sync prod/shop/data → dr/shop", childSummary)
	assert.Contains(t, childDetails, "**Run:** "+run.WorkflowID)

	// The run's current details follow the transfer's report.
	var current string
	require.Eventually(t, func() bool {
		current = currentDetails(ctx, t, tp.Client, run.WorkflowID)
		return strings.Contains(current, "- data: Transfer")
	}, 30*time.Second, 200*time.Millisecond, "run details: %s", current)
	assert.Contains(t, current, "**Replication:** dr-syncer-system/shop: prod/shop → dr/shop (trigger sync-now-1)")
	assert.Contains(t, current, "**PVCs:** 0 of 1 done")
	assert.Contains(t, current, "**Bytes:** 256.0 MiB of 1.0 GiB at 16.0 MiB/s, ETA 48s")
	assert.Contains(t, current, "- data: Transfer 256.0 MiB of 1.0 GiB (25.0%), 16.0 MiB/s, ETA 48s, 3 files copied")
	assert.Equal(t, "**PVC:** prod/shop/data → dr/shop\n\n**Step:** Transfer", currentDetails(ctx, t, tp.Client, childID))

	summaries := activitySummaries(ctx, t, tp.Client, childID)
	assert.Contains(t, summaries, "mount pod on prod-1 for prod/shop/data")
	assert.Contains(t, summaries, "rsync prod/shop/data → dr/shop/data on dr-1")
	assert.Contains(t, summaries, "choose nodes for prod/shop/data")

	close(release)
	require.NoError(t, tp.Client.GetWorkflow(ctx, run.WorkflowID, run.RunID).Get(ctx, nil))
	_, closedDetails := userMetadata(ctx, t, tp.Client, run.WorkflowID)
	assert.Equal(t, details, closedDetails, "static details stay as set at start")
}

// userMetadata is a run's StaticSummary and StaticDetails as the server holds them.
func userMetadata(ctx context.Context, t *testing.T, c client.Client, workflowID string) (summary, details string) {
	t.Helper()
	d, err := c.DescribeWorkflowExecution(ctx, workflowID, "")
	require.NoError(t, err)
	md := d.GetExecutionConfig().GetUserMetadata()
	require.NotNil(t, md, "%s has no user metadata", workflowID)
	dc := converter.GetDefaultDataConverter()
	require.NoError(t, dc.FromPayload(md.GetSummary(), &summary))
	if md.GetDetails() != nil {
		require.NoError(t, dc.FromPayload(md.GetDetails(), &details))
	}
	return summary, details
}

// currentDetails asks a run for the details the Web UI shows (SetCurrentDetails).
func currentDetails(ctx context.Context, t *testing.T, c client.Client, workflowID string) string {
	t.Helper()
	v, err := c.QueryWorkflow(ctx, workflowID, "", "__temporal_workflow_metadata")
	require.NoError(t, err)
	var md sdkpb.WorkflowMetadata
	require.NoError(t, v.Get(&md))
	return md.GetCurrentDetails()
}

// activitySummaries are the summaries of the activities a run scheduled,
// and of the local activities it ran (on their markers).
func activitySummaries(ctx context.Context, t *testing.T, c client.Client, workflowID string) []string {
	t.Helper()
	var out []string
	it := c.GetWorkflowHistory(ctx, workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(t, err)
		local := e.GetEventType() == enumspb.EVENT_TYPE_MARKER_RECORDED && e.GetMarkerRecordedEventAttributes().GetMarkerName() == "LocalActivity"
		if e.GetEventType() != enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED && !local {
			continue
		}
		var s string
		if p := e.GetUserMetadata().GetSummary(); p != nil {
			require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &s))
		}
		out = append(out, s)
	}
	return out
}
