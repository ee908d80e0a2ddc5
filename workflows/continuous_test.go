package workflows

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// syncTakes is how long each mocked sync runs.
const syncTakes = 10 * time.Second

type continuousSuite struct {
	env   *testsuite.TestWorkflowEnvironment
	start time.Time
	syncs []time.Time
}

// newContinuousSuite runs ContinuousReplication with each sync mocked; with
// unbounded, as a run started before changeContinuousMaxDelay.
func newContinuousSuite(unbounded bool) *continuousSuite {
	var ts testsuite.WorkflowTestSuite
	s := &continuousSuite{env: ts.NewTestWorkflowEnvironment()}
	s.env.RegisterWorkflowWithOptions(ContinuousReplication, workflow.RegisterOptions{Name: contract.ContinuousReplicationName})
	s.env.RegisterWorkflowWithOptions(Replication, workflow.RegisterOptions{Name: contract.ReplicationName})
	s.env.OnWorkflow(contract.ReplicationName, mock.Anything, contract.ReplicationInput{Replication: replRef, Trigger: "continuous"}).After(syncTakes).Return(
		func(ctx workflow.Context, _ contract.ReplicationInput) (contract.ReplicationResult, error) {
			s.syncs = append(s.syncs, workflow.Now(ctx).Add(-syncTakes))
			return contract.ReplicationResult{}, nil
		})
	if unbounded {
		s.env.OnGetVersion(changeContinuousMaxDelay, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	}
	s.start = s.env.Now()
	return s
}

func (s *continuousSuite) offsets() []time.Duration {
	var out []time.Duration
	for _, t := range s.syncs {
		out = append(out, t.Sub(s.start).Round(time.Second))
	}
	return out
}

// signalEverySecond signals from `from` on, every second, n times. Each
// signal schedules the next: the test environment holds at most 1,000
// callbacks registered ahead.
func (s *continuousSuite) signalEverySecond(from time.Duration, n int, name string, arg func(i int) any) {
	var signal func(i int)
	signal = func(i int) {
		s.env.SignalWorkflow(name, arg(i))
		if i+1 < n {
			s.env.RegisterDelayedCallback(func() { signal(i + 1) }, time.Second)
		}
	}
	s.env.RegisterDelayedCallback(func() { signal(0) }, from)
}

// continuedAs returns the state the run continued as new with.
func continuedAs(t *testing.T, err error) contract.ContinuousState {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	assert.Equal(t, contract.ContinuousReplicationName, can.WorkflowType.Name)
	var st contract.ContinuousState
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &st))
	return st
}

// Both branches of changeContinuousMaxDelay sync the same way here.
func TestContinuousSyncsOnIntervalAndSoonAfterChanges(t *testing.T) {
	for _, unbounded := range []bool{false, true} {
		t.Run(fmt.Sprintf("unbounded=%v", unbounded), func(t *testing.T) {
			s := newContinuousSuite(unbounded)
			// A burst of changes at 20m (a rollout touching many objects) gives one sync.
			for i := range 5 {
				s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(contract.SignalChange, "configmaps/app") }, 20*time.Minute+time.Duration(i)*500*time.Millisecond)
			}
			s.env.RegisterDelayedCallback(func() {
				v, err := s.env.QueryWorkflow(contract.ProgressQuery)
				require.NoError(t, err)
				var st contract.ContinuousState
				require.NoError(t, v.Get(&st))
				require.Len(t, st.Recent, 3)
				assert.Equal(t, "configmaps/app", st.Recent[1].Trigger)
				assert.Equal(t, "interval", st.Recent[2].Trigger)
				s.env.CancelWorkflow()
			}, 90*time.Minute)
			s.env.ExecuteWorkflow(contract.ContinuousReplicationName, contract.ContinuousState{Replication: replRef, Settings: contract.ContinuousSettings{Every: time.Hour}})
			assert.Equal(t, []time.Duration{0, 20*time.Minute + 5*time.Second, 80*time.Minute + 15*time.Second}, s.offsets(),
				"first sync at once; the change burst syncs once, ~3s after the last change; then the interval")
		})
	}
}

func TestContinuousPausedSyncsNothingUntilResumed(t *testing.T) {
	for _, tc := range []struct {
		unbounded bool
		want      time.Duration
		why       string
	}{
		{false, 3 * time.Hour, "resuming syncs at once: nothing synced yet, and the change waited"},
		{true, 3*time.Hour + 3*time.Second, "resuming syncs the change that waited, after a quiet period"},
	} {
		t.Run(fmt.Sprintf("unbounded=%v", tc.unbounded), func(t *testing.T) {
			s := newContinuousSuite(tc.unbounded)
			s.env.RegisterDelayedCallback(func() { s.env.SignalWorkflow(contract.SignalChange, "secrets/db") }, 10*time.Minute)
			s.env.RegisterDelayedCallback(func() {
				assert.Empty(t, s.syncs, "a paused replication ignores changes")
				s.env.SignalWorkflow(contract.SignalSettings, contract.ContinuousSettings{Every: time.Hour})
			}, 3*time.Hour)
			s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 3*time.Hour+30*time.Minute)
			s.env.ExecuteWorkflow(contract.ContinuousReplicationName, contract.ContinuousState{Replication: replRef, Settings: contract.ContinuousSettings{Every: time.Hour, Paused: true}})
			assert.Equal(t, []time.Duration{tc.want}, s.offsets(), tc.why)
		})
	}
}

func TestContinuousContinuesAsNewBeforeHistoryGrows(t *testing.T) {
	s := newContinuousSuite(false)
	s.env.ExecuteWorkflow(contract.ContinuousReplicationName, contract.ContinuousState{Replication: replRef, Settings: contract.ContinuousSettings{Every: time.Minute}})
	st := continuedAs(t, s.env.GetWorkflowError())
	assert.Len(t, s.syncs, continuousSyncsPerRun)
	assert.Equal(t, s.env.Now().UTC(), st.LastSync, "the next run waits the interval after the last sync")
}

// An idle namespace: after the first sync, nothing until the interval,
// counted from the end of the last sync.
func TestContinuousIdleSyncsOnlyOnInterval(t *testing.T) {
	s := newContinuousSuite(false)
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(contract.ProgressQuery)
		require.NoError(t, err)
		var st contract.ContinuousState
		require.NoError(t, v.Get(&st))
		assert.Equal(t, s.start.Add(time.Hour+syncTakes).UTC(), st.NextRun)
	}, 30*time.Minute)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 3*time.Hour+30*time.Minute)
	s.env.ExecuteWorkflow(contract.ContinuousReplicationName, contract.ContinuousState{Replication: replRef, Settings: contract.ContinuousSettings{Every: time.Hour}})
	assert.Equal(t, []time.Duration{0, time.Hour + syncTakes, 2*time.Hour + 2*syncTakes, 3*time.Hour + 3*syncTakes}, s.offsets())
}

// A namespace that never goes quiet still syncs: a change a second for five
// minutes re-arms the quiet period each time, and changeMaxDelay after the
// first pending change the sync starts anyway. Runs started before the bound
// wait for the stream to end.
func TestContinuousMaxDelayUnderEndlessChanges(t *testing.T) {
	for _, tc := range []struct {
		unbounded bool
		want      []time.Duration
	}{
		// Changes that arrive during a sync are pending from its end.
		{false, []time.Duration{0, 2 * time.Minute, 3*time.Minute + syncTakes, 4*time.Minute + 2*syncTakes, 5*time.Minute + 3*syncTakes, 6*time.Minute + 3*time.Second}},
		{true, []time.Duration{0, 6*time.Minute + 3*time.Second}},
	} {
		t.Run(fmt.Sprintf("unbounded=%v", tc.unbounded), func(t *testing.T) {
			s := newContinuousSuite(tc.unbounded)
			s.signalEverySecond(time.Minute, 301, contract.SignalChange, func(i int) any { return fmt.Sprintf("ConfigMap/c%d", i) })
			s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 30*time.Minute)
			s.env.ExecuteWorkflow(contract.ContinuousReplicationName, contract.ContinuousState{Replication: replRef, Settings: contract.ContinuousSettings{Every: time.Hour}})
			assert.Equal(t, tc.want, s.offsets())
			if !tc.unbounded {
				assert.Equal(t, changeMaxDelay, s.syncs[1].Sub(s.start.Add(time.Minute)), "the first change waits the max delay")
				for i := 2; i < len(s.syncs); i++ {
					assert.LessOrEqual(t, s.syncs[i].Sub(s.syncs[i-1]), changeMaxDelay+syncTakes, "sync %d", i)
				}
			}
		})
	}
}

// A stream of signals ends the run after continuousSignalsPerRun of them,
// from the waiting itself, and the next run takes over what was pending.
func TestContinuousContinuesAsNewWhileWaiting(t *testing.T) {
	t.Run("paused, changes every second", func(t *testing.T) {
		s := newContinuousSuite(false)
		s.signalEverySecond(time.Minute, 2*continuousSignalsPerRun, contract.SignalChange, func(i int) any { return fmt.Sprintf("ConfigMap/c%d", i) })
		s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 3*time.Hour)
		s.env.ExecuteWorkflow(contract.ContinuousReplicationName, contract.ContinuousState{Replication: replRef, Settings: contract.ContinuousSettings{Every: time.Hour, Paused: true}})
		st := continuedAs(t, s.env.GetWorkflowError())
		assert.Empty(t, s.syncs)
		assert.Equal(t, time.Minute+(continuousSignalsPerRun-1)*time.Second, s.env.Now().Sub(s.start), "continued as new at the last signal it may take")
		assert.True(t, st.Settings.Paused)
		assert.Equal(t, fmt.Sprintf("ConfigMap/c%d", continuousSignalsPerRun-1), st.PendingChange)
		assert.Equal(t, s.start.Add(time.Minute).UTC(), st.PendingSince, "the max delay still counts from the first change")
	})

	t.Run("settings every second, then the next run", func(t *testing.T) {
		s := newContinuousSuite(false)
		settings := contract.ContinuousSettings{Every: time.Hour, Note: contract.ContinuousNote(time.Hour)}
		s.signalEverySecond(time.Minute, 2*continuousSignalsPerRun, contract.SignalSettings, func(int) any { return settings })
		s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 3*time.Hour)
		s.env.ExecuteWorkflow(contract.ContinuousReplicationName, contract.ContinuousState{Replication: replRef, Settings: settings})
		st := continuedAs(t, s.env.GetWorkflowError())
		assert.Equal(t, []time.Duration{0}, s.offsets())
		assert.Equal(t, s.start.Add(syncTakes).UTC(), st.LastSync)
		assert.Empty(t, st.PendingChange)

		// The next run syncs when the interval falls due, not when it starts.
		next := newContinuousSuite(false)
		next.env.SetStartTime(s.env.Now())
		next.start = s.start
		next.env.RegisterDelayedCallback(next.env.CancelWorkflow, 2*time.Hour)
		next.env.ExecuteWorkflow(contract.ContinuousReplicationName, st)
		assert.Equal(t, []time.Duration{time.Hour + syncTakes, 2*time.Hour + 2*syncTakes}, next.offsets())
	})
}

func TestNextSync(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	hourly := contract.ContinuousSettings{Every: time.Hour}
	for _, tc := range []struct {
		name       string
		state      contract.ContinuousState
		lastChange time.Time
		want       time.Time
	}{
		{"never synced: now", contract.ContinuousState{Settings: hourly}, time.Time{}, now},
		{"paused: never", contract.ContinuousState{Settings: contract.ContinuousSettings{Every: time.Hour, Paused: true}, LastSync: now}, time.Time{}, time.Time{}},
		{"idle: the interval after the last sync", contract.ContinuousState{Settings: hourly, LastSync: now.Add(-time.Minute)}, time.Time{}, now.Add(59 * time.Minute)},
		{"a change: after the quiet period", contract.ContinuousState{Settings: hourly, LastSync: now.Add(-time.Minute), PendingChange: "ConfigMap/a", PendingSince: now.Add(-10 * time.Second)},
			now.Add(-time.Second), now.Add(2 * time.Second)},
		{"changes for a while: the max delay", contract.ContinuousState{Settings: hourly, LastSync: now.Add(-time.Hour / 2), PendingChange: "ConfigMap/a", PendingSince: now.Add(-59 * time.Second)},
			now, now.Add(time.Second)},
		{"the interval comes first", contract.ContinuousState{Settings: hourly, LastSync: now.Add(-time.Hour), PendingChange: "ConfigMap/a", PendingSince: now},
			now, now},
		{"no interval: changes only", contract.ContinuousState{LastSync: now.Add(-time.Hour)}, time.Time{}, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, nextSync(tc.state, tc.lastChange, now))
		})
	}
}

// Cancelling ends the workflow whether it waits with no timer (paused) or
// syncs, when a sync would be due at once after it.
func TestContinuousCancelEnds(t *testing.T) {
	for _, tc := range []struct {
		name      string
		state     contract.ContinuousState
		wantSyncs int
	}{
		{"while paused", contract.ContinuousState{Replication: replRef, Settings: contract.ContinuousSettings{Every: time.Hour, Paused: true}}, 0},
		{"during a sync", contract.ContinuousState{Replication: replRef, Settings: contract.ContinuousSettings{Every: time.Second}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newContinuousSuite(false)
			s.env.RegisterDelayedCallback(s.env.CancelWorkflow, syncTakes/2)
			s.env.ExecuteWorkflow(contract.ContinuousReplicationName, tc.state)
			require.True(t, s.env.IsWorkflowCompleted())
			var canceled *temporal.CanceledError
			assert.True(t, errors.As(s.env.GetWorkflowError(), &canceled), "got %v", s.env.GetWorkflowError())
			assert.Len(t, s.syncs, tc.wantSyncs)
		})
	}
}
