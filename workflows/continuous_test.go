package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

type continuousSuite struct {
	env   *testsuite.TestWorkflowEnvironment
	syncs []time.Time
}

func newContinuousSuite() *continuousSuite {
	var ts testsuite.WorkflowTestSuite
	s := &continuousSuite{env: ts.NewTestWorkflowEnvironment()}
	s.env.RegisterWorkflowWithOptions(ContinuousReplication, workflow.RegisterOptions{Name: ContinuousReplicationName})
	s.env.RegisterWorkflowWithOptions(Replication, workflow.RegisterOptions{Name: ReplicationName})
	start := s.env.Now()
	s.env.OnWorkflow(ReplicationName, mock.Anything, ReplicationInput{Replication: replRef, Trigger: "continuous"}).After(10 * time.Second).Return(
		func(ctx workflow.Context, _ ReplicationInput) (ReplicationResult, error) {
			s.syncs = append(s.syncs, workflow.Now(ctx).Add(-10*time.Second))
			return ReplicationResult{}, nil
		})
	_ = start
	return s
}

func (s *continuousSuite) offsets(start time.Time) []time.Duration {
	var out []time.Duration
	for _, t := range s.syncs {
		out = append(out, t.Sub(start).Round(time.Second))
	}
	return out
}

func TestContinuousSyncsOnIntervalAndSoonAfterChanges(t *testing.T) {
	s := newContinuousSuite()
	start := s.env.Now()
	// A burst of changes at 20m (a rollout touching many objects) gives one sync.
	for i := range 5 {
		s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(SignalChange, "configmaps/app") }, 20*time.Minute+time.Duration(i)*500*time.Millisecond)
	}
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(ProgressQuery)
		require.NoError(t, err)
		var st ContinuousState
		require.NoError(t, v.Get(&st))
		require.Len(t, st.Recent, 3)
		assert.Equal(t, "configmaps/app", st.Recent[1].Trigger)
		assert.Equal(t, "interval", st.Recent[2].Trigger)
		s.env.CancelWorkflow()
	}, 90*time.Minute)
	s.env.ExecuteWorkflow(ContinuousReplicationName, ContinuousState{Replication: replRef, Settings: ContinuousSettings{Every: time.Hour}})
	assert.Equal(t, []time.Duration{0, 20*time.Minute + 5*time.Second, 80*time.Minute + 15*time.Second}, s.offsets(start),
		"first sync at once; the change burst syncs once, ~3s after the last change; then the interval")
}

func TestContinuousPausedSyncsNothingUntilResumed(t *testing.T) {
	s := newContinuousSuite()
	start := s.env.Now()
	s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(SignalChange, "secrets/db") }, 10*time.Minute)
	s.env.RegisterDelayedCallback(func() {
		assert.Empty(t, s.syncs, "a paused replication ignores changes")
		s.env.SignalWorkflow(SignalSettings, ContinuousSettings{Every: time.Hour})
	}, 3*time.Hour)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 3*time.Hour+30*time.Minute)
	s.env.ExecuteWorkflow(ContinuousReplicationName, ContinuousState{Replication: replRef, Settings: ContinuousSettings{Every: time.Hour, Paused: true}})
	assert.Equal(t, []time.Duration{3*time.Hour + 3*time.Second}, s.offsets(start), "resuming syncs the change that waited")
}

func TestContinuousContinuesAsNewBeforeHistoryGrows(t *testing.T) {
	s := newContinuousSuite()
	s.env.ExecuteWorkflow(ContinuousReplicationName, ContinuousState{Replication: replRef, Settings: ContinuousSettings{Every: time.Minute}})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(s.env.GetWorkflowError(), &can), "got %v", s.env.GetWorkflowError())
	assert.Equal(t, ContinuousReplicationName, can.WorkflowType.Name)
	assert.Len(t, s.syncs, continuousSyncsPerRun)
}
