package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/activities/recovery"
	"github.com/dr-syncer/dr-syncer/contract"
)

var failedOver = func() contract.RecoveryTarget {
	t := recoveryTarget
	t.ActiveSide = contract.SideDestination
	return t
}()

func TestFailback(t *testing.T) {
	s := newRecoverySuite(t, failedOver)
	s.env.ExecuteWorkflow(contract.FailbackName, contract.FailbackInput{Replication: replRef})
	require.NoError(t, s.env.GetWorkflowError())
	var res contract.FailbackResult
	require.NoError(t, s.env.GetWorkflowResult(&res))

	assert.Equal(t, []string{"LocateRecovery", "RecordFailoverState", "ScaleDownSource", "WaitWorkloads",
		"ScaleDownCopies", "WaitWorkloads", "RestoreSource", "WaitWorkloads", "RecordFailoverState"}, s.steps)
	trigger := contract.RecoveryTrigger("failback", recoveryID)
	assert.Equal(t, []contract.ReplicationInput{
		{Replication: replRef, Trigger: trigger, Direction: contract.DirectionReverse},
		{Replication: replRef, Trigger: trigger + "-final", Direction: contract.DirectionReverse},
	}, s.syncs, "a copy back while DR serves, then the last changes with DR stopped")
	assert.Equal(t, drScaledDown, res.DRScales)
	assert.Equal(t, sourceRestored, res.SourceScales)
	assert.Equal(t, contract.StateFailingBack, s.states[0].State)
	last := s.lastState(t)
	assert.Equal(t, contract.StateFailedBack, last.State)
	assert.Equal(t, contract.SideSource, last.ActiveSide, "syncs resume source → DR")
}

func TestFailbackRefusesWhenNotFailedOver(t *testing.T) {
	s := newRecoverySuite(t, recoveryTarget)
	s.env.ExecuteWorkflow(contract.FailbackName, contract.FailbackInput{Replication: replRef})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, s.env.GetWorkflowError(), &appErr)
	assert.Equal(t, contract.ErrTypeNotFailedOver, appErr.Type())
	assert.Empty(t, s.states)
	assert.Zero(t, s.ran("ScaleDownSource"))
}

// TestFailbackCopyFails: DR keeps running, still active, and says why.
func TestFailbackCopyFails(t *testing.T) {
	s := newRecoverySuite(t, failedOver)
	s.syncErr = temporal.NewNonRetryableApplicationError("agent not installed", contract.ErrTypeSyncFailed, nil)
	s.env.ExecuteWorkflow(contract.FailbackName, contract.FailbackInput{Replication: replRef})
	require.Error(t, s.env.GetWorkflowError())
	assert.Zero(t, s.ran("ScaleDownCopies"), "DR never stopped")
	last := s.lastState(t)
	assert.Equal(t, contract.StateFailedOver, last.State)
	assert.Equal(t, contract.SideDestination, last.ActiveSide)
	assert.Contains(t, last.Message, "agent not installed")
}

// TestFailbackCancelAtEachStep: before the source's scale-up, a cancel
// leaves DR running (scaled back up if it was stopped); from then on the
// source's scale-up is finished.
func TestFailbackCancelAtEachStep(t *testing.T) {
	var a *recovery.RecoveryActivities
	for _, step := range []struct {
		name           string
		fn, in         any
		results        []any
		drRestarted    bool
		sourceFinished bool
	}{
		{name: "ReplicateBack"},
		{"ScaleDownCopies", a.ScaleDownCopies, drWorkloads, []any{contract.WorkloadsResult{Workloads: drScaledDown}, nil}, true, false},
		{"RestoreSource", a.RestoreSource, srcWorkloads, []any{contract.WorkloadsResult{Workloads: sourceRestored}, nil}, false, true},
	} {
		t.Run(step.name, func(t *testing.T) {
			s := newRecoverySuite(t, failedOver, step.name)
			if step.fn == nil {
				s.blockSync = true
				s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
			} else {
				s.cancelDuring(step.name, step.fn, step.in, step.results...)
			}
			s.env.ExecuteWorkflow(contract.FailbackName, contract.FailbackInput{Replication: replRef})
			require.True(t, errCanceled(s.env.GetWorkflowError()), "want canceled, got %v", s.env.GetWorkflowError())
			last := s.lastState(t)
			if step.sourceFinished {
				assert.Equal(t, contract.SideSource, last.ActiveSide)
				assert.Equal(t, 2, s.ran("RestoreSource"))
				return
			}
			assert.Equal(t, contract.SideDestination, last.ActiveSide, "DR keeps running")
			assert.Equal(t, contract.StateFailedOver, last.State)
			assert.Equal(t, map[bool]int{true: 1}[step.drRestarted], s.ran("ScaleUpCopies"))
			assert.Zero(t, s.ran("RestoreSource"))
		})
	}
}
