package starter_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// Every start and Schedule action carries the Web UI's one-line summary
// and its details: which Replication, source → destination, and what
// started it. Read back from a dev server as the Web UI reads them.
func TestStartsCarryWebUISummaries(t *testing.T) {
	tp := testenv.StartTemporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	routes := map[string]string{"ops/nightly": "prod/nightly → dr/nightly", "ops/live": "prod/live → dr/live", "ops/shop": "prod/shop → dr/shop"}
	s := &starter.Starter{Client: tp.Client, Namespace: tp.Namespace, TaskQueue: tp.TaskQueue,
		Routes: func(_ context.Context, ref contract.ObjectRef) string { return routes[ref.String()] }}
	dc := converter.GetDefaultDataConverter()
	metadata := func(workflowID string) (summary, details string) {
		d, err := tp.Client.DescribeWorkflowExecution(ctx, workflowID, "")
		require.NoError(t, err)
		md := d.GetExecutionConfig().GetUserMetadata()
		require.NoError(t, dc.FromPayload(md.GetSummary(), &summary))
		require.NoError(t, dc.FromPayload(md.GetDetails(), &details))
		return summary, details
	}

	t.Run("schedule", func(t *testing.T) {
		ref := contract.ObjectRef{Namespace: "ops", Name: "nightly"}
		spec := starter.ScheduleSpec{Cron: "17 3 * * *"}
		// A Schedule made before runs had summaries (or without a route)...
		bare := &starter.Starter{Client: tp.Client, Namespace: tp.Namespace, TaskQueue: tp.TaskQueue}
		require.NoError(t, bare.EnsureSchedule(ctx, ref, spec))
		st, err := s.DescribeSchedule(ctx, ref)
		require.NoError(t, err)
		assert.Equal(t, "Sync ops/nightly (schedule)", st.Summary)
		// ...gets the route on the next reconcile, though its timing is the same.
		require.NoError(t, s.EnsureSchedule(ctx, ref, spec))
		st, err = s.DescribeSchedule(ctx, ref)
		require.NoError(t, err)
		assert.Equal(t, "Sync ops/nightly: prod/nightly → dr/nightly (schedule)", st.Summary)
		d, err := tp.Client.ScheduleClient().GetHandle(ctx, st.ID).Describe(ctx)
		require.NoError(t, err)
		action := d.Schedule.Action.(*client.ScheduleWorkflowAction)
		assert.Contains(t, action.StaticDetails, "**Trigger:** schedule (scheduled)")
		assert.Contains(t, action.StaticDetails, "**Source → destination:** prod/nightly → dr/nightly")

		// A route unknown for a moment leaves the Schedule as it is.
		require.NoError(t, bare.EnsureSchedule(ctx, ref, spec))
		st, err = s.DescribeSchedule(ctx, ref)
		require.NoError(t, err)
		assert.Equal(t, "Sync ops/nightly: prod/nightly → dr/nightly (schedule)", st.Summary)
	})

	t.Run("continuous", func(t *testing.T) {
		ref := contract.ObjectRef{Namespace: "ops", Name: "live"}
		require.NoError(t, s.EnsureSchedule(ctx, ref, starter.ScheduleSpec{Every: time.Minute}))
		summary, details := metadata(contract.ContinuousReplicationWorkflowID(ref.Namespace, ref.Name))
		assert.Equal(t, "Continuous sync ops/live: prod/live → dr/live (continuous)", summary)
		assert.Contains(t, details, "drsyncer status --watch ops/live")
	})

	t.Run("failover, retry and agent rollout", func(t *testing.T) {
		ref := contract.ObjectRef{Namespace: "ops", Name: "shop"}
		run, err := s.StartFailover(ctx, contract.FailoverInput{Replication: ref}, "f1")
		require.NoError(t, err)
		summary, details := metadata(run.WorkflowID)
		assert.Equal(t, "Failover ops/shop: prod/shop → dr/shop", summary)
		assert.Contains(t, details, "**Trigger:** failover")

		run, err = s.StartRun(ctx, ref, contract.TriggerRetryPrefix+"0123abcd")
		require.NoError(t, err)
		summary, _ = metadata(run.WorkflowID)
		assert.Equal(t, "Sync ops/shop: prod/shop → dr/shop (retry)", summary)

		run, err = s.StartAgentRollout(ctx, contract.AgentRolloutInput{Cluster: contract.ClusterRef{Namespace: "ops", Name: "prod"}, Version: "v7"})
		require.NoError(t, err)
		summary, _ = metadata(run.WorkflowID)
		assert.Equal(t, "Agent rollout to ops/prod (version v7)", summary)
	})
}
