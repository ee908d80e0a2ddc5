package starter_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

func TestSanitizeTrigger(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"1", "^1$"},
		{"v2.release_3-a", `^v2\.release_3-a$`},
		{"2024-05-01T10:00:00Z", "^2024-05-01T10-00-00Z-[0-9a-f]{8}$"},
		{"a/b", "^a-b-[0-9a-f]{8}$"},
		{"", "^[0-9a-f]{8}$"},
		{"ä", "^[0-9a-f]{8}$"},
		{strings.Repeat("y", 100), "^y{54}-[0-9a-f]{8}$"},
	} {
		got := starter.SanitizeTrigger(tc.in)
		assert.Regexp(t, tc.want, got, "%q", tc.in)
		assert.Equal(t, got, starter.SanitizeTrigger(tc.in), "deterministic")
	}
	assert.NotEqual(t, starter.SanitizeTrigger("a b"), starter.SanitizeTrigger("a:b"), "different values never share an ID")
	assert.NotEqual(t, starter.SanitizeTrigger("a-b"), starter.SanitizeTrigger("a b"))
}

// Against a real dev server with no worker: runs stay Running, which is what
// a user sees while a sync is under way, and lets the test cancel them.
func TestStarterAgainstDevServer(t *testing.T) {
	tp := testenv.StartTemporal(t)
	s := &starter.Starter{Client: tp.Client, Namespace: tp.Namespace, TaskQueue: tp.TaskQueue}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ref := contract.ObjectRef{Namespace: "ops", Name: "shop"}

	t.Run("a trigger starts one run, ever", func(t *testing.T) {
		first, err := s.StartRun(ctx, ref, "one")
		require.NoError(t, err)
		assert.True(t, first.Started)
		assert.Equal(t, "replication/ops/shop/one", first.WorkflowID)

		again, err := s.StartRun(ctx, ref, "one")
		require.NoError(t, err)
		assert.Equal(t, starter.StartedRun{WorkflowID: first.WorkflowID, RunID: first.RunID}, again, "a running ID is reused")

		require.NoError(t, tp.Client.TerminateWorkflow(ctx, first.WorkflowID, first.RunID, "test"))
		closed, err := s.StartRun(ctx, ref, "one")
		require.NoError(t, err)
		assert.Equal(t, starter.StartedRun{WorkflowID: first.WorkflowID, RunID: first.RunID}, closed, "a closed ID is never run again")

		st, err := s.RunState(ctx, first.WorkflowID, "")
		require.NoError(t, err)
		assert.Equal(t, "Terminated", st.Status)
		assert.Equal(t, "Terminated", st.ErrorType)
	})

	t.Run("history, retry and cancel", func(t *testing.T) {
		var runs []starter.Run
		require.Eventually(t, func() bool {
			runs, _ = s.History(ctx, ref, 10)
			return len(runs) == 1 && runs[0].Status == "Terminated"
		}, 20*time.Second, 200*time.Millisecond, "history %v", runs)

		retried, err := s.Retry(ctx, ref)
		require.NoError(t, err)
		assert.True(t, retried.Started)
		assert.Equal(t, "replication/ops/shop/"+starter.RetryTrigger(runs[0].RunID), retried.WorkflowID)

		require.Eventually(t, func() bool {
			open, err := s.OpenRuns(ctx, ref)
			return err == nil && len(open) == 1
		}, 20*time.Second, 200*time.Millisecond)
		_, err = s.Retry(ctx, ref)
		require.ErrorIs(t, err, starter.ErrNothingToRetry, "the retry is still running")

		cancelled, err := s.Cancel(ctx, ref)
		require.NoError(t, err)
		assert.Equal(t, []string{retried.WorkflowID}, cancelled)
		// No worker runs it, so the run records the request and stays open.
		hist := tp.Client.GetWorkflowHistory(ctx, retried.WorkflowID, retried.RunID, false, 0)
		requested := false
		for hist.HasNext() {
			e, err := hist.Next()
			require.NoError(t, err)
			requested = requested || e.GetWorkflowExecutionCancelRequestedEventAttributes() != nil
		}
		assert.True(t, requested, "cancel was requested")
	})

	t.Run("schedule is created, updated, paused and deleted", func(t *testing.T) {
		sref := contract.ObjectRef{Namespace: "ops", Name: "nightly"}
		none, err := s.DescribeSchedule(ctx, sref)
		require.NoError(t, err)
		assert.Nil(t, none)

		require.NoError(t, s.EnsureSchedule(ctx, sref, starter.ScheduleSpec{Cron: "17 3 * * *"}))
		st, err := s.DescribeSchedule(ctx, sref)
		require.NoError(t, err)
		require.NotNil(t, st)
		assert.Equal(t, "replication/ops/nightly/schedule", st.ID)
		assert.False(t, st.Paused)
		require.NotEmpty(t, st.NextRuns)
		assert.Equal(t, []int{3, 17}, []int{st.NextRuns[0].UTC().Hour(), st.NextRuns[0].Minute()})
		assert.Equal(t, starter.DefaultScheduledRunTimeout, st.RunTimeout, "a stuck run cannot block the Schedule forever")
		assert.True(t, st.Matches(starter.ScheduleSpec{Cron: "17 3 * * *"}))

		// A longer run timeout (a long transfer timeout) updates the Schedule.
		require.NoError(t, s.EnsureSchedule(ctx, sref, starter.ScheduleSpec{Cron: "17 3 * * *", RunTimeout: 48 * time.Hour}))
		st, err = s.DescribeSchedule(ctx, sref)
		require.NoError(t, err)
		assert.Equal(t, 48*time.Hour, st.RunTimeout)

		require.NoError(t, s.EnsureSchedule(ctx, sref, starter.ScheduleSpec{Cron: "45 */2 * * *"}))
		next, err := s.NextRunTime(ctx, sref)
		require.NoError(t, err)
		assert.Equal(t, 45, next.Minute())
		assert.Equal(t, 0, next.UTC().Hour()%2)

		require.NoError(t, s.EnsureSchedule(ctx, sref, starter.ScheduleSpec{Cron: "45 */2 * * *", Paused: true}))
		st, err = s.DescribeSchedule(ctx, sref)
		require.NoError(t, err)
		assert.True(t, st.Paused)
		assert.Empty(t, st.NextRuns)
		next, err = s.NextRunTime(ctx, sref)
		require.NoError(t, err)
		assert.True(t, next.IsZero())

		require.NoError(t, s.DeleteSchedule(ctx, sref))
		require.NoError(t, s.DeleteSchedule(ctx, sref), "deleting twice is fine")
		none, err = s.DescribeSchedule(ctx, sref)
		require.NoError(t, err)
		assert.Nil(t, none)
	})
}
