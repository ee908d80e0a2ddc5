package integration

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// The worker runs against a real Temporal dev server and real API servers;
// the starter then finds what it ran.
func TestWorkerRunsWorkflowsAndStarterListsThem(t *testing.T) {
	env := testenv.Start(t)
	env.StartWorker(t)
	tc := env.Temporal.Client
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	require.Eventually(t, func() bool {
		return pollers(ctx, t, tc, env.Temporal.TaskQueue, enumspb.TASK_QUEUE_TYPE_WORKFLOW) > 0 &&
			pollers(ctx, t, tc, env.Temporal.TaskQueue, enumspb.TASK_QUEUE_TYPE_ACTIVITY) > 0
	}, 30*time.Second, 200*time.Millisecond, "the worker never polled task queue %q", env.Temporal.TaskQueue)

	testenv.EnsureNamespace(t, env.Source.Client, "worker")
	require.NoError(t, env.DR.Client.Create(ctx, ctlReplication("worker", "worker")))
	synced := runReplication(ctx, t, tc, env, "run/worker", "worker")
	var result contract.ReplicationResult
	require.NoError(t, synced.Get(ctx, &result))
	assert.Equal(t, 0, result.Failed())

	broken := runReplication(ctx, t, tc, env, "run/missing", "missing")
	err := broken.Get(ctx, nil)
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "want an application error, got %v", err)
	assert.Equal(t, contract.ErrTypeInvalidSpec, appErr.Type())
	assert.True(t, appErr.NonRetryable())
	assert.Contains(t, appErr.Error(), "Replication dr-syncer-system/missing: not found")

	s := &starter.Starter{Client: tc, Namespace: env.Temporal.Namespace, TaskQueue: env.Temporal.TaskQueue}
	var runs []starter.Run
	require.Eventually(t, func() bool {
		runs, err = s.List(ctx, starter.ListOptions{})
		return err == nil && len(runs) >= 3
	}, 30*time.Second, 200*time.Millisecond, "starter listed %v (err %v)", runs, err)
	status := map[string]string{}
	for _, r := range runs {
		if r.Type != contract.ReplicationName {
			continue // the run's ReplicateResources child
		}
		assert.False(t, r.Close.Before(r.Start))
		status[r.WorkflowID] = r.Status
	}
	assert.Equal(t, map[string]string{"run/worker": "Completed", "run/missing": "Failed"}, status)

	failed, err := s.List(ctx, starter.ListOptions{Query: `ExecutionStatus = "Failed"`})
	require.NoError(t, err)
	require.Len(t, failed, 1)
	assert.Equal(t, "run/missing", failed[0].WorkflowID)

	detail, err := s.Describe(ctx, "run/worker", "")
	require.NoError(t, err)
	assert.Equal(t, "Completed", detail.Status)
	assert.Equal(t, synced.GetRunID(), detail.RunID)
	assert.Greater(t, detail.HistoryLength, int64(5))
}

func runReplication(ctx context.Context, t *testing.T, tc client.Client, env *testenv.Env, id, name string) client.WorkflowRun {
	t.Helper()
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: env.Temporal.TaskQueue},
		contract.ReplicationName, contract.ReplicationInput{Replication: contract.ObjectRef{Namespace: testenv.ControlNamespace, Name: name}})
	require.NoError(t, err)
	return run
}

func pollers(ctx context.Context, t *testing.T, tc client.Client, queue string, kind enumspb.TaskQueueType) int {
	resp, err := tc.DescribeTaskQueue(ctx, queue, kind)
	if err != nil {
		t.Logf("describe task queue: %v", err)
		return 0
	}
	return len(resp.GetPollers())
}
