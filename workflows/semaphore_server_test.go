package workflows_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/test/testenv"
	"github.com/dr-syncer/dr-syncer/workflows"
)

// PVC syncs of different Replications against one cluster share its
// globalConcurrencyLimit, through the cluster's semaphore workflow on a real
// Temporal server.
func TestGlobalConcurrencyLimitAcrossReplications(t *testing.T) {
	tp := testenv.StartTemporal(t)
	var mu sync.Mutex
	running, most := 0, 0
	transfer := func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		time.Sleep(700 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
		return contract.TransferResult{Streams: 1}, nil
	}
	defer startPermitWorker(t, tp, tp.Client, transfer).Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	prod := contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}
	var runs []client.WorkflowRun
	for i := range 6 {
		replication := fmt.Sprintf("app-%d", i%3) // three Replications, two PVCs each
		in := contract.PVCSyncInput{
			Replication:            contract.ObjectRef{Namespace: "dr-syncer-system", Name: replication},
			Source:                 contract.PVCRef{Cluster: prod, Namespace: replication, Name: fmt.Sprintf("data-%d", i)},
			Destination:            contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"},
			DestinationNamespace:   replication,
			GlobalConcurrencyLimit: 2,
			DataSync:               rsyncargs.Config{Timeout: rsyncargs.Duration(time.Minute)},
			Retry:                  contract.RetrySettings{MaxRetries: 3, InitialBackoff: "1s", MaxBackoff: "2s", BackoffMultiplier: 200},
		}
		run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: contract.PVCSyncWorkflowID(prod.Name, in.Source.Namespace, in.Source.Name), TaskQueue: tp.TaskQueue,
		}, contract.PVCSyncName, in)
		require.NoError(t, err)
		runs = append(runs, run)
	}
	for _, run := range runs {
		require.NoError(t, run.Get(ctx, nil))
	}
	assert.Equal(t, 2, most, "at most globalConcurrencyLimit transfers at once, and the limit is used")

	// Every permit came back: the semaphore is empty.
	resp, err := tp.Client.QueryWorkflow(ctx, contract.ClusterSemaphoreID(prod), "", contract.ProgressQuery)
	require.NoError(t, err)
	var state contract.SemaphoreState
	require.NoError(t, resp.Get(&state))
	assert.Empty(t, state.Holders)
	assert.Empty(t, state.Waiting)
}

// A hundred PVC syncs contend for a limit of three on a real server, while
// other signals push the semaphore past its per-run budget: it continues as
// new at least once with syncs holding and waiting, and every sync completes
// with never more than three transfers at once.
func TestHundredSyncsShareALimitOfThreeAcrossContinueAsNew(t *testing.T) {
	tp := testenv.StartTemporal(t)
	const syncs, limit = 100, 3
	var mu sync.Mutex
	running, most, done := 0, 0, 0
	transfer := func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		mu.Lock()
		running++
		most = max(most, running)
		mu.Unlock()
		time.Sleep(time.Second)
		mu.Lock()
		running--
		done++
		mu.Unlock()
		return contract.TransferResult{Streams: 1}, nil
	}
	defer startPermitWorker(t, tp, tp.Client, transfer).Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	prod := contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}
	semaphore := contract.ClusterSemaphoreID(prod)
	var runs []client.WorkflowRun
	for i := range syncs {
		in := contract.PVCSyncInput{
			Replication:            contract.ObjectRef{Namespace: "dr-syncer-system", Name: fmt.Sprintf("app-%d", i%10)},
			Source:                 contract.PVCRef{Cluster: prod, Namespace: fmt.Sprintf("app-%d", i%10), Name: fmt.Sprintf("data-%d", i)},
			Destination:            contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"},
			DestinationNamespace:   "app",
			GlobalConcurrencyLimit: limit,
			DataSync:               rsyncargs.Config{Timeout: rsyncargs.Duration(time.Minute)},
			Retry:                  contract.RetrySettings{MaxRetries: 3, InitialBackoff: "1s", MaxBackoff: "2s", BackoffMultiplier: 200},
		}
		run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: contract.PVCSyncWorkflowID(prod.Name, in.Source.Namespace, in.Source.Name), TaskQueue: tp.TaskQueue,
		}, contract.PVCSyncName, in)
		require.NoError(t, err)
		runs = append(runs, run)
	}
	// Releases of syncs the semaphore never knew change nothing but count
	// against its budget: with the syncs' own acquires and releases they
	// pass it while permits are held and syncs wait.
	noise := make(chan error, 1)
	go func() {
		sent := 0
		for sent < 400 && ctx.Err() == nil {
			if err := tp.Client.SignalWorkflow(ctx, semaphore, "", contract.SignalRelease, fmt.Sprintf("gone-%d", sent)); err != nil {
				time.Sleep(50 * time.Millisecond) // not started yet, or between runs
				continue
			}
			sent++
		}
		noise <- ctx.Err()
	}()
	for _, run := range runs {
		require.NoError(t, run.Get(ctx, nil), run.GetID())
	}
	require.NoError(t, <-noise)
	assert.Equal(t, syncs, done, "every sync transferred")
	assert.LessOrEqual(t, most, limit, "never more than the limit at once")
	assert.Greater(t, most, 1, "the limit is used, not one at a time")

	// The semaphore's current run was continued from an earlier one, and
	// every permit came back through it.
	desc, err := tp.Client.DescribeWorkflowExecution(ctx, semaphore, "")
	require.NoError(t, err)
	iter := tp.Client.GetWorkflowHistory(ctx, semaphore, desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), false, 0)
	first, err := iter.Next()
	require.NoError(t, err)
	assert.NotEmpty(t, first.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId(), "the semaphore continued as new")
	resp, err := tp.Client.QueryWorkflow(ctx, semaphore, "", contract.ProgressQuery)
	require.NoError(t, err)
	var state contract.SemaphoreState
	require.NoError(t, resp.Get(&state))
	assert.Empty(t, state.Holders)
	assert.Empty(t, state.Waiting)
}

// startPermitWorker runs PVCSync and the cluster semaphore on the dev
// server through c (tp.Client, or one with a metrics handler), with the
// real permit activities and scripted steps whose Transfer is transfer.
func startPermitWorker(t *testing.T, tp *testenv.Temporal, c client.Client, transfer func(context.Context, contract.TransferInput) (contract.TransferResult, error)) worker.Worker {
	t.Helper()
	w := worker.New(c, tp.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(workflows.PVCSync, workflow.RegisterOptions{Name: contract.PVCSyncName})
	w.RegisterWorkflowWithOptions(workflows.ClusterSemaphore, workflow.RegisterOptions{Name: contract.ClusterSemaphoreName})
	for name, fn := range scriptedActivities(transfer) {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	w.RegisterActivity(&pvcdata.PermitActivities{Temporal: c, TaskQueue: tp.TaskQueue})
	require.NoError(t, w.Start())
	return w
}
