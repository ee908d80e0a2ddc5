package recovery_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/dr-syncer/dr-syncer/activities/recovery"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// settingsQuery lets the test read a stub continuous workflow's settings
// whether or not it answers the progress query.
const settingsQuery = "test-settings"

// stubContinuous stands in for ContinuousReplication: it keeps the
// settings it is signalled. A Replication named "mute" does not answer the
// progress query, like a workflow whose task is stuck.
func stubContinuous(ctx workflow.Context, state contract.ContinuousState) error {
	get := func() (contract.ContinuousState, error) { return state, nil }
	if err := workflow.SetQueryHandler(ctx, settingsQuery, get); err != nil {
		return err
	}
	if state.Replication.Name != "mute" {
		if err := workflow.SetQueryHandler(ctx, contract.ProgressQuery, get); err != nil {
			return err
		}
	}
	settings := workflow.GetSignalChannel(ctx, contract.SignalSettings)
	for {
		settings.Receive(ctx, &state.Settings)
	}
}

// Against a real Temporal dev server: a Schedule, two stub continuous
// workflows, and Replication runs that no worker runs (so they stay open
// until the test terminates them).
func TestSyncsAgainstADevServer(t *testing.T) {
	tp := testenv.StartTemporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w := sdkworker.New(tp.Client, tp.TaskQueue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(stubContinuous, workflow.RegisterOptions{Name: contract.ContinuousReplicationName})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	mute := &drv1.Replication{ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "mute"}, Spec: drv1.ReplicationSpec{
		ReplicationMode: drv1.ModeContinuous, Continuous: &drv1.ContinuousConfig{BackgroundSyncInterval: "20m"}}}
	a := &recovery.RecoveryActivities{Temporal: tp.Client,
		Control: fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(mute).Build()}
	target := func(name, mode string) contract.RecoveryTarget {
		return contract.RecoveryTarget{Replication: contract.ObjectRef{Namespace: "ops", Name: name}, Mode: mode}
	}

	t.Run("a Schedule is paused, once", func(t *testing.T) {
		s := &starter.Starter{Client: tp.Client, Namespace: tp.Namespace, TaskQueue: tp.TaskQueue}
		ref := contract.ObjectRef{Namespace: "ops", Name: "nightly"}
		require.NoError(t, s.EnsureSchedule(ctx, ref, starter.ScheduleSpec{Cron: "17 3 * * *"}))
		for range 2 {
			require.NoError(t, run(t, a, a.PauseSyncs, target("nightly", "Scheduled"), nil))
			d, err := tp.Client.ScheduleClient().GetHandle(ctx, contract.ScheduleID(ref)).Describe(ctx)
			require.NoError(t, err)
			assert.True(t, d.Schedule.State.Paused)
			assert.Equal(t, recovery.PauseNote, d.Schedule.State.Note)
		}
		// Paused by a person already: their note, which says why, stays.
		byHand := contract.ObjectRef{Namespace: "ops", Name: "weekly"}
		require.NoError(t, s.EnsureSchedule(ctx, byHand, starter.ScheduleSpec{Cron: "0 4 * * 0"}))
		h := tp.Client.ScheduleClient().GetHandle(ctx, contract.ScheduleID(byHand))
		require.NoError(t, h.Pause(ctx, client.SchedulePauseOptions{Note: "disk maintenance"}))
		require.NoError(t, run(t, a, a.PauseSyncs, target("weekly", "Scheduled"), nil))
		d, err := h.Describe(ctx)
		require.NoError(t, err)
		assert.Equal(t, "disk maintenance", d.Schedule.State.Note)

		require.NoError(t, run(t, a, a.PauseSyncs, target("none", "Scheduled"), nil), "no Schedule: nothing to pause")
		require.NoError(t, run(t, a, a.PauseSyncs, target("none", "Manual"), nil))
	})

	t.Run("a continuous workflow is paused with the settings it has", func(t *testing.T) {
		for name, want := range map[string]contract.ContinuousSettings{
			// It answers: its interval and the controller's note stay.
			"shop": {Every: 15 * time.Minute, Paused: true, Note: "note the controller set"},
			// It does not: they come from the spec, as the controller makes them.
			"mute": {Every: 20 * time.Minute, Paused: true, Note: contract.ContinuousNote(20 * time.Minute)},
		} {
			ref := contract.ObjectRef{Namespace: "ops", Name: name}
			id := contract.ContinuousReplicationWorkflowID(ref.Namespace, ref.Name)
			_, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tp.TaskQueue}, contract.ContinuousReplicationName,
				contract.ContinuousState{Replication: ref, Settings: contract.ContinuousSettings{Every: 15 * time.Minute, Note: "note the controller set"}})
			require.NoError(t, err)
			require.NoError(t, run(t, a, a.PauseSyncs, target(name, "Continuous"), nil), name)
			var state contract.ContinuousState
			require.Eventually(t, func() bool {
				v, err := tp.Client.QueryWorkflow(ctx, id, "", settingsQuery)
				return err == nil && v.Get(&state) == nil && state.Settings.Paused
			}, 20*time.Second, 100*time.Millisecond, name)
			assert.Equal(t, want, state.Settings, name)
		}
	})

	t.Run("wait for the syncs that are not the recovery's own", func(t *testing.T) {
		ref := contract.ObjectRef{Namespace: "ops", Name: "shop"}
		start := func(trigger string) client.WorkflowRun {
			run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID: contract.ReplicationWorkflowID(ref.Namespace, ref.Name, trigger), TaskQueue: "nobody-polls-this",
				TypedSearchAttributes: temporal.NewSearchAttributes(contract.AttrReplication.ValueSet(ref.String())),
			}, contract.ReplicationName, contract.ReplicationInput{Replication: ref, Trigger: trigger})
			require.NoError(t, err)
			return run
		}
		scheduled, final := start("scheduled-2026-03-01T03:17:00Z"), start("failover-1")
		require.Eventually(t, func() bool {
			resp, err := tp.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Query: "WorkflowType = 'Replication' AND ExecutionStatus = 'Running'"})
			return err == nil && len(resp.GetExecutions()) == 2
		}, 20*time.Second, 100*time.Millisecond, "visibility shows both runs")

		r := &runner{t: t, a: a}
		done := make(chan error, 1)
		go func() { done <- r.run(a.WaitSyncsIdle, target("shop", "Scheduled"), nil) }()
		select {
		case err := <-done:
			t.Fatalf("returned while the scheduled run was open: %v", err)
		case <-time.After(2*recovery.SyncsPollInterval + time.Second):
		}
		require.NoError(t, tp.Client.TerminateWorkflow(ctx, scheduled.GetID(), scheduled.GetRunID(), "test"))
		select {
		case err := <-done:
			require.NoError(t, err, "the failover's own final sync is no reason to wait")
		case <-time.After(20 * time.Second):
			t.Fatal("WaitSyncsIdle did not return once the scheduled run ended")
		}
		require.NotEmpty(t, r.heartbeats)
		var status string
		require.NoError(t, r.heartbeats[0].Get(&status))
		assert.Equal(t, "waiting for 1 sync run(s) to end: replication/ops/shop/scheduled-2026-03-01T03:17:00Z", status)
		require.NoError(t, tp.Client.TerminateWorkflow(ctx, final.GetID(), final.GetRunID(), "test"))
	})
}
