package starter_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// fakeFailover stands in for the Failover workflow: it answers the steps
// query as it goes and fails at WaitReady when asked FromRestorePoints.
func fakeFailover(ctx workflow.Context, in contract.FailoverInput) (contract.FailoverResult, error) {
	var steps []contract.Step
	if err := workflow.SetQueryHandler(ctx, contract.StepsQuery, func() (contract.OperationProgress, error) {
		return contract.OperationProgress{Steps: append([]contract.Step(nil), steps...)}, nil
	}); err != nil {
		return contract.FailoverResult{}, err
	}
	step := func(name string, d time.Duration, state contract.StepState, detail string) {
		i := len(steps)
		steps = append(steps, contract.Step{Name: name, State: contract.StepRunning, Started: workflow.Now(ctx)})
		_ = workflow.Sleep(ctx, d)
		steps[i].State, steps[i].Detail, steps[i].Ended = state, detail, workflow.Now(ctx)
	}
	step(contract.StepPauseSyncs, 1500*time.Millisecond, contract.StepDone, "Schedule paused")
	steps = append(steps, contract.Step{Name: contract.StepFinalSync, State: contract.StepSkipped, Detail: "the source is unreachable"})
	if in.FromRestorePoints {
		step(contract.StepWaitReady, 100*time.Millisecond, contract.StepFailed, "Deployment/web: 0 of 1 Ready")
		return contract.FailoverResult{}, temporal.NewNonRetryableApplicationError("workloads not Ready within 10m0s", contract.ErrTypeNotReady, nil)
	}
	step(contract.StepScaleUpDR, 100*time.Millisecond, contract.StepDone, "Deployment/web 0 → 1")
	return contract.FailoverResult{Mode: contract.FailoverUnplanned, Steps: steps, RTO: 5 * time.Second}, nil
}

func TestRecoveryOperationsAgainstDevServer(t *testing.T) {
	tp := testenv.StartTemporal(t)
	s := &starter.Starter{Client: tp.Client, Namespace: tp.Namespace, TaskQueue: tp.TaskQueue}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ref := contract.ObjectRef{Namespace: "ops", Name: "shop"}
	startWorker := func() {
		w := worker.New(tp.Client, tp.TaskQueue, worker.Options{})
		w.RegisterWorkflowWithOptions(fakeFailover, workflow.RegisterOptions{Name: contract.FailoverName})
		require.NoError(t, w.Start())
		t.Cleanup(w.Stop) // the outer test's: later subtests need the worker too
	}

	// No worker yet: the failover stays open, as one under way does.
	first, err := s.StartFailover(ctx, contract.FailoverInput{Replication: ref}, "one")
	require.NoError(t, err)
	assert.True(t, first.Started)
	assert.Equal(t, "failover/ops/shop/one", first.WorkflowID)

	t.Run("the same id attaches", func(t *testing.T) {
		again, err := s.StartFailover(ctx, contract.FailoverInput{Replication: ref}, "one")
		require.NoError(t, err)
		assert.Equal(t, starter.StartedRun{WorkflowID: first.WorkflowID, RunID: first.RunID}, again)
	})

	t.Run("a failback is refused while the failover is open; a drill is not", func(t *testing.T) {
		var err error
		require.Eventually(t, func() bool {
			_, err = s.StartFailback(ctx, contract.FailbackInput{Replication: ref}, "two")
			return err != nil
		}, 20*time.Second, 200*time.Millisecond, "visibility never showed the open failover")
		var open *starter.OperationOpenError
		require.ErrorAs(t, err, &open)
		assert.Equal(t, contract.FailoverName, open.Type)
		assert.Equal(t, first.WorkflowID, open.WorkflowID)
		assert.ErrorContains(t, err, "failover failover/ops/shop/one of ops/shop is still open")
		// The refused failback did start first in the loop above only if
		// visibility lagged; it is then a run of its own, closed here.
		if run, err := s.WorkflowState(ctx, "failback/ops/shop/two", "", nil); err == nil {
			require.NoError(t, tp.Client.TerminateWorkflow(ctx, run.WorkflowID, run.RunID, "test"))
		}

		_, err = s.StartFailover(ctx, contract.FailoverInput{Replication: ref}, "three")
		require.ErrorAs(t, err, &open, "a second failover is refused too")

		drill, err := s.StartDrill(ctx, contract.DrillInput{Replication: ref}, "d1")
		require.NoError(t, err)
		assert.True(t, drill.Started)
		assert.Equal(t, "drill/ops/shop/d1", drill.WorkflowID)
		require.NoError(t, tp.Client.TerminateWorkflow(ctx, drill.WorkflowID, drill.RunID, "test"))

		other, err := s.StartFailover(ctx, contract.FailoverInput{Replication: contract.ObjectRef{Namespace: "ops", Name: "other"}}, "one")
		require.NoError(t, err, "another Replication's failover is independent")
		require.NoError(t, tp.Client.TerminateWorkflow(ctx, other.WorkflowID, other.RunID, "test"))
	})

	t.Run("following outlasts a missing worker and prints each step once", func(t *testing.T) {
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() { done <- s.FollowOperation(ctx, first.WorkflowID, "", &out, 100*time.Millisecond) }()
		time.Sleep(time.Second) // queries fail meanwhile: no worker answers them
		startWorker()
		require.NoError(t, <-done)
		assert.Regexp(t, `^→ PauseSyncs
✓ PauseSyncs \d+\.\ds  Schedule paused
– FinalSync skipped: the source is unreachable
(→ ScaleUpDR
)?✓ ScaleUpDR \S+  Deployment/web 0 → 1
✓ Failover failover/ops/shop/one completed in \d+(\.\d)?s
$`, out.String())

		var res contract.FailoverResult
		require.NoError(t, s.WaitRun(ctx, first, &res))
		assert.Equal(t, 5*time.Second, res.RTO)
	})

	t.Run("a failed run is followed to its error", func(t *testing.T) {
		bad, err := s.StartFailover(ctx, contract.FailoverInput{Replication: contract.ObjectRef{Namespace: "ops", Name: "bad"}, FromRestorePoints: true}, "x")
		require.NoError(t, err)
		var out bytes.Buffer
		err = s.FollowOperation(ctx, bad.WorkflowID, bad.RunID, &out, 100*time.Millisecond)
		var runErr *starter.RunError
		require.ErrorAs(t, err, &runErr)
		assert.Equal(t, contract.ErrTypeNotReady, runErr.Type)
		assert.Contains(t, out.String(), "✗ WaitReady ")
		assert.Contains(t, out.String(), ": Deployment/web: 0 of 1 Ready\n")
		assert.Regexp(t, `✗ Failover failover/ops/bad/x failed after \S+: workloads not Ready within 10m0s\n$`, out.String())
	})

	t.Run("an unknown run is an error at once", func(t *testing.T) {
		err := s.FollowOperation(ctx, "failover/ops/shop/nope", "", &bytes.Buffer{}, 100*time.Millisecond)
		require.ErrorIs(t, err, starter.ErrRunNotFound)
	})
}
