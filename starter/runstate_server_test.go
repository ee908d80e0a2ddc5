package starter_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/uber-go/tally/v4"
	"go.temporal.io/sdk/client"
	sdktally "go.temporal.io/sdk/contrib/tally"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// fakeReplication answers the progress query as a Replication run does, with
// two PVC syncs that reported to it, until it is told to finish.
func fakeReplication(ctx workflow.Context, in contract.ReplicationInput) (contract.ReplicationResult, error) {
	info := workflow.GetInfo(ctx)
	p := contract.ReplicationProgress{Phase: contract.PhaseSyncPVCs, PVCsTotal: 3, PVCsDone: 1, Percent: 33,
		RunID: info.WorkflowExecution.RunID, Start: info.WorkflowStartTime, Running: []string{"data", "logs"},
		PVCs: []contract.PVCRunProgress{
			{PVC: "data", WorkflowID: "pvc-sync/prod/shop/data", Phase: contract.PhaseTransfer, UpdatedAt: workflow.Now(ctx),
				Transfer: &contract.TransferProgress{Phase: "transferring", Snapshot: progress.Snapshot{BytesDone: 10, BytesTotal: 40}}},
			{PVC: "logs", WorkflowID: "pvc-sync/prod/shop/logs", Phase: contract.PhaseMountPod, Attempt: 2, LastFailure: "rsync exit 12"},
		}, BytesDone: 10, BytesTotal: 40}
	if err := workflow.SetQueryHandler(ctx, contract.ProgressQuery, func() (contract.ReplicationProgress, error) { return p, nil }); err != nil {
		return contract.ReplicationResult{}, err
	}
	workflow.GetSignalChannel(ctx, "finish").Receive(ctx, nil)
	return contract.ReplicationResult{Generation: 7}, nil
}

// While a run is open, reading its state is one Temporal call per poll: the
// run's progress query, whose answer carries every PVC sync's figures. The
// poll that finds the run closed adds the describe and the result read.
func TestRunStateIsOneCallPerPollWhileRunning(t *testing.T) {
	tp, s, calls := startReplicationWorker(t, fakeReplication)
	callsSince := func(before map[string]int64) map[string]int64 {
		out := map[string]int64{}
		for m, n := range calls() {
			if d := n - before[m]; d > 0 {
				out[m] = d
			}
		}
		return out
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	id := contract.ReplicationWorkflowID("ops", "shop", "calls")
	run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tp.TaskQueue},
		contract.ReplicationName, contract.ReplicationInput{Replication: contract.ObjectRef{Namespace: "ops", Name: "shop"}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		st, err := s.RunState(ctx, id, run.GetRunID())
		return err == nil && st.Progress != nil
	}, 30*time.Second, 100*time.Millisecond, "the worker answers the progress query")

	before := calls()
	var st starter.RunState
	for range 5 {
		st, err = s.RunState(ctx, id, "") // the latest run, as the CLI asks
		require.NoError(t, err)
	}
	assert.Equal(t, map[string]int64{"QueryWorkflow": 5}, callsSince(before), "five polls of a running run, five calls")

	assert.True(t, st.Running())
	assert.Equal(t, run.GetRunID(), st.RunID)
	assert.False(t, st.Start.IsZero())
	assert.Equal(t, 1, st.Progress.PVCsDone)
	require.Len(t, st.PVCs, 2)
	data, logs := st.PVCs[0], st.PVCs[1]
	assert.Equal(t, "data", data.PVC)
	assert.Equal(t, contract.PhaseTransfer, data.Phase)
	require.NotNil(t, data.Transfer)
	assert.EqualValues(t, 10, data.Transfer.BytesDone)
	assert.False(t, data.UpdatedAt.IsZero())
	assert.Equal(t, "logs", logs.PVC)
	assert.EqualValues(t, 2, logs.Attempt)
	assert.Equal(t, "rsync exit 12", logs.LastFailure)

	require.NoError(t, tp.Client.SignalWorkflow(ctx, id, run.GetRunID(), "finish", nil))
	require.NoError(t, run.Get(ctx, nil))
	before = calls()
	st, err = s.RunState(ctx, id, run.GetRunID())
	require.NoError(t, err)
	assert.Equal(t, starter.StatusCompleted, st.Status)
	require.NotNil(t, st.Result)
	assert.EqualValues(t, 7, st.Result.Generation)
	assert.Nil(t, st.Progress)
	assert.Equal(t, map[string]int64{"QueryWorkflow": 1, "DescribeWorkflowExecution": 1, "GetWorkflowExecutionHistory": 1}, callsSince(before),
		"a closed run rejects the query without a worker; its outcome takes a describe and the result")
}

// slowReplication is a run whose worker is too busy to answer the progress
// query in time.
func slowReplication(ctx workflow.Context, in contract.ReplicationInput) (contract.ReplicationResult, error) {
	if err := workflow.SetQueryHandler(ctx, contract.ProgressQuery, func() (contract.ReplicationProgress, error) {
		time.Sleep(starter.QueryTimeout + 2*time.Second)
		return contract.ReplicationProgress{}, nil
	}); err != nil {
		return contract.ReplicationResult{}, err
	}
	workflow.GetSignalChannel(ctx, "finish").Receive(ctx, nil)
	return contract.ReplicationResult{}, nil
}

// A run whose workers are all busy costs one call per poll too: the query
// that times out says the run is open (a closed run rejects it at once),
// so nothing more is asked, exactly when the workers are busiest.
func TestRunStateOfABusyRunIsOneCall(t *testing.T) {
	tp, s, calls := startReplicationWorker(t, slowReplication)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	id := contract.ReplicationWorkflowID("ops", "shop", "busy")
	run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tp.TaskQueue},
		contract.ReplicationName, contract.ReplicationInput{Replication: contract.ObjectRef{Namespace: "ops", Name: "shop"}})
	require.NoError(t, err)
	// Three pollers at once (the controller, and users watching): the
	// server holds few queries per run and refuses the rest, which the SDK
	// would retry; each poll is still one call.
	const pollers = 3
	before := calls()
	states := make([]starter.RunState, pollers)
	errs := make([]error, pollers)
	var wg sync.WaitGroup
	for i := range pollers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			states[i], errs[i] = s.RunState(ctx, id, run.GetRunID())
		}()
	}
	wg.Wait()
	for i, st := range states {
		require.NoError(t, errs[i])
		assert.True(t, st.Running())
		assert.True(t, st.Unanswered)
		assert.Nil(t, st.Progress)
		assert.Equal(t, run.GetRunID(), st.RunID)
	}
	after := calls()
	assert.Equal(t, before["QueryWorkflow"]+pollers, after["QueryWorkflow"], "one query per poll, none retried")
	assert.Equal(t, before["DescribeWorkflowExecution"], after["DescribeWorkflowExecution"], "no describe after the timeout")
	require.NoError(t, tp.Client.SignalWorkflow(ctx, id, run.GetRunID(), "finish", nil))
}

// temporalCalls are the Temporal calls the starter made, by method.
func temporalCalls(scope tally.TestScope) map[string]int64 {
	out := map[string]int64{}
	for _, c := range scope.Snapshot().Counters() {
		if c.Name() == starter.MetricTemporalCalls {
			out[c.Tags()["method"]] = c.Value()
		}
	}
	return out
}

// startReplicationWorker runs a worker with replication as the Replication
// workflow on a fresh Temporal, and a starter whose Temporal calls, by
// method, calls reads.
func startReplicationWorker(t *testing.T, replication any) (*testenv.Temporal, *starter.Starter, func() map[string]int64) {
	tp := testenv.StartTemporal(t)
	w := worker.New(tp.Client, tp.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(replication, workflow.RegisterOptions{Name: contract.ReplicationName})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	scope := tally.NewTestScope("", nil)
	s, err := starter.Connect(tp.Conn(), nil, sdktally.NewMetricsHandler(scope))
	require.NoError(t, err)
	t.Cleanup(s.Client.Close)
	return tp, s, func() map[string]int64 { return temporalCalls(scope) }
}
