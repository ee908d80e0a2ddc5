package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

var (
	now  = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	poll = 3 * time.Second
)

func replication(mode drv1.ReplicationMode, mutate ...func(*drv1.Replication)) *drv1.Replication {
	r := &drv1.Replication{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: "shop", Generation: 4},
		Spec:       drv1.ReplicationSpec{SourceCluster: "prod", DestinationCluster: "dr", SourceNamespace: "shop", ReplicationMode: mode},
	}
	for _, m := range mutate {
		m(r)
	}
	return r
}

func syncNow(v string) func(*drv1.Replication) {
	return func(r *drv1.Replication) { r.Annotations = map[string]string{drv1.AnnotationSyncNow: v} }
}

func synced(t *testing.T, st drv1.ReplicationStatus) metav1.Condition {
	t.Helper()
	c := meta.FindStatusCondition(st.Conditions, drv1.ConditionSynced)
	require.NotNil(t, c, "Synced condition")
	return *c
}

func TestPlanSyncNow(t *testing.T) {
	for _, tc := range []struct {
		name        string
		repl        *drv1.Replication
		obs         func(*replicationObservation)
		wantTrigger string
		wantRequeue time.Duration
	}{
		{name: "a new value starts a run", repl: replication(drv1.ModeManual, syncNow("1")), wantTrigger: "1", wantRequeue: poll},
		{name: "the value is sanitized for the ID", repl: replication(drv1.ModeManual, syncNow("2025-03-01 12:00")),
			wantTrigger: starter.SanitizeTrigger("2025-03-01 12:00"), wantRequeue: poll},
		{name: "a handled value starts nothing", repl: replication(drv1.ModeManual, syncNow("1"),
			func(r *drv1.Replication) { r.Status.SyncNowHandled = "1" })},
		{name: "no annotation starts nothing", repl: replication(drv1.ModeManual)},
		{name: "paused starts nothing", repl: replication(drv1.ModeManual, syncNow("1"), func(r *drv1.Replication) { r.Spec.Paused = true })},
		{name: "an invalid reference starts nothing", repl: replication(drv1.ModeManual, syncNow("1")),
			obs: func(o *replicationObservation) { o.InvalidReference = "RemoteCluster ops/prod not found" }, wantRequeue: invalidReferenceRetry},
		{name: "a value waits while a run is open", repl: replication(drv1.ModeManual, syncNow("2"), func(r *drv1.Replication) {
			r.Status.CurrentRun = &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/1", RunID: "r1"}
		}), obs: func(o *replicationObservation) {
			o.Run = &starter.RunState{WorkflowID: "replication/ops/shop/1", RunID: "r1", Status: "Running", Start: now}
		}, wantRequeue: poll},
		{name: "sync-now also works in Scheduled mode", repl: replication(drv1.ModeScheduled, syncNow("x"),
			func(r *drv1.Replication) { r.Spec.Schedule = "0 * * * *" }),
			obs: func(o *replicationObservation) {
				o.Schedule = &starter.ScheduleState{Note: `dr-syncer: cron "0 * * * *"`, RunTimeout: day, NextRuns: []time.Time{now.Add(time.Hour)}}
			}, wantTrigger: "x", wantRequeue: poll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := replicationObservation{Replication: tc.repl}
			if tc.obs != nil {
				tc.obs(&obs)
			}
			p := planReplication(obs, now, poll)
			assert.Equal(t, tc.wantTrigger, p.StartTrigger)
			assert.Equal(t, tc.wantRequeue, p.RequeueAfter)
			assert.Equal(t, tc.repl.Generation, p.Status.ObservedGeneration)
		})
	}
}

func TestPlanRecordsStartedRun(t *testing.T) {
	p := planReplication(replicationObservation{Replication: replication(drv1.ModeManual, syncNow("1"))}, now, poll)
	assert.Equal(t, drv1.PhasePending, p.Status.Phase)
	assert.Equal(t, ReasonPending, synced(t, p.Status).Reason)
	assert.Contains(t, synced(t, p.Status).Message, drv1.AnnotationSyncNow)

	p.recordStarted(starter.StartedRun{WorkflowID: "replication/ops/shop/1", RunID: "r1", Started: true}, now)
	assert.Equal(t, drv1.PhaseRunning, p.Status.Phase)
	assert.Equal(t, "1", p.Status.SyncNowHandled)
	assert.Equal(t, &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/1", RunID: "r1", StartTime: timeOf(now)}, p.Status.CurrentRun)
	assert.Equal(t, ReasonRunning, synced(t, p.Status).Reason)
	require.Len(t, p.Events, 1)
	assert.Equal(t, EventSyncStarted, p.Events[0].Reason)

	// The status write was lost and the run finished and was recorded meanwhile:
	// StartRun finds the old run; nothing is started or tracked again.
	r := replication(drv1.ModeManual, syncNow("1"), func(r *drv1.Replication) {
		r.Status.LastRun = &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/1", RunID: "r1", Result: "Completed"}
	})
	p = planReplication(replicationObservation{Replication: r}, now, poll)
	p.recordStarted(starter.StartedRun{WorkflowID: "replication/ops/shop/1", RunID: "r1"}, now)
	assert.Nil(t, p.Status.CurrentRun)
	assert.Equal(t, "1", p.Status.SyncNowHandled)
	assert.Empty(t, p.Events)
	assert.Equal(t, drv1.PhaseCompleted, p.Status.Phase)
}

func TestPlanFollowsRun(t *testing.T) {
	current := func(r *drv1.Replication) {
		r.Status.CurrentRun = &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/1", RunID: "r1"}
		r.Status.SyncStats = &drv1.SyncStats{SuccessfulSyncs: 2, FailedSyncs: 1, ConsecutiveFailures: 1}
		r.Status.LastError = &drv1.SyncError{Message: "old"}
	}
	run := starter.RunState{WorkflowID: "replication/ops/shop/1", RunID: "r1", Start: now.Add(-90 * time.Second)}

	t.Run("running", func(t *testing.T) {
		running := run
		running.Status = "Running"
		running.Progress = &contract.ReplicationProgress{Phase: contract.PhaseSyncPVCs, PVCsTotal: 4, PVCsDone: 1, Percent: 25}
		p := planReplication(replicationObservation{Replication: replication(drv1.ModeManual, current), Run: &running}, now, poll)
		assert.Equal(t, drv1.PhaseRunning, p.Status.Phase)
		assert.Equal(t, &drv1.SyncProgress{PercentComplete: 25, CurrentOperation: "SyncPVCs", PVCsDone: 1, PVCsTotal: 4, Summary: "1/4 PVCs, 25%"}, p.Status.SyncProgress)
		assert.Equal(t, ReasonRunning, synced(t, p.Status).Reason)
		assert.Equal(t, poll, p.RequeueAfter)
		assert.Empty(t, p.Events)
	})

	t.Run("completed", func(t *testing.T) {
		done := run
		done.Status, done.Close = "Completed", now
		p := planReplication(replicationObservation{Replication: replication(drv1.ModeManual, current), Run: &done}, now, poll)
		st := p.Status
		assert.Equal(t, drv1.PhaseCompleted, st.Phase)
		assert.Nil(t, st.CurrentRun)
		assert.Nil(t, st.SyncProgress)
		assert.Nil(t, st.LastError, "a success clears the last error")
		assert.Equal(t, timeOf(now), st.LastSyncTime)
		assert.Equal(t, timeOf(done.Start), st.LastSyncStartTime, "the RPO counts from the sync's start")
		assert.Equal(t, &drv1.SyncStats{SuccessfulSyncs: 3, FailedSyncs: 1, LastSyncDuration: "1m30s"}, st.SyncStats, "a success ends the failure streak")
		assert.Equal(t, &drv1.WorkflowRef{WorkflowID: done.WorkflowID, RunID: "r1", StartTime: timeOf(done.Start), CloseTime: timeOf(now), Result: "Completed"}, st.LastRun)
		c := synced(t, st)
		assert.Equal(t, metav1.ConditionTrue, c.Status)
		assert.Equal(t, ReasonSyncSucceeded, c.Reason)
		require.Len(t, p.Events, 1)
		assert.Equal(t, EventSyncSucceeded, p.Events[0].Reason)
		assert.Equal(t, time.Duration(0), p.RequeueAfter)

		// Seen again (the status write was lost, or a second reconcile): counted once.
		again := replication(drv1.ModeManual, func(r *drv1.Replication) { r.Status = *st.DeepCopy() })
		p2 := planReplication(replicationObservation{Replication: again, Run: &done}, now, poll)
		assert.Equal(t, st, p2.Status)
		assert.Empty(t, p2.Events)
	})

	t.Run("failed", func(t *testing.T) {
		failed := run
		failed.Status, failed.Close = "Failed", now
		failed.Error, failed.ErrorType = "1 of 1 PVC syncs failed: data: storage class \"gone\" does not exist", "SyncFailed"
		p := planReplication(replicationObservation{Replication: replication(drv1.ModeManual, current), Run: &failed}, now, poll)
		st := p.Status
		assert.Equal(t, drv1.PhaseFailed, st.Phase)
		assert.Nil(t, st.LastSyncTime)
		assert.Equal(t, int32(2), st.SyncStats.FailedSyncs)
		assert.Equal(t, int32(2), st.SyncStats.ConsecutiveFailures)
		assert.Nil(t, st.LastSyncStartTime)
		assert.Equal(t, &drv1.SyncError{Message: failed.Error, Category: "DataSync", Time: *timeOf(now)}, st.LastError)
		c := synced(t, st)
		assert.Equal(t, metav1.ConditionFalse, c.Status)
		assert.Equal(t, ReasonSyncFailed, c.Reason)
		assert.Contains(t, c.Message, "storage class")
		assert.Equal(t, EventSyncFailed, p.Events[0].Reason)
	})

	t.Run("no snapshot class", func(t *testing.T) {
		failed := run
		failed.Status, failed.Close = "Failed", now
		failed.Error = "1 of 1 PVC syncs failed: data: no VolumeSnapshotClass for CSI driver hostpath.csi.lab.dr-syncer.io: create one"
		failed.ErrorType = contract.ErrTypeNoSnapshotClass
		p := planReplication(replicationObservation{Replication: replication(drv1.ModeManual, current), Run: &failed}, now, poll)
		c := synced(t, p.Status)
		assert.Equal(t, contract.ErrTypeNoSnapshotClass, c.Reason, "the condition names what to fix")
		assert.Contains(t, c.Message, "create one")
	})

	t.Run("lost", func(t *testing.T) {
		p := planReplication(replicationObservation{Replication: replication(drv1.ModeManual, current), RunLost: true}, now, poll)
		assert.Nil(t, p.Status.CurrentRun)
		assert.Equal(t, drv1.PhasePending, p.Status.Phase)
	})
}

// day is the run timeout of a scheduled run under the default transfer timeout.
const day = starter.DefaultScheduledRunTimeout

func TestPlanSchedule(t *testing.T) {
	cron := func(c drv1.Cron) func(*drv1.Replication) { return func(r *drv1.Replication) { r.Spec.Schedule = c } }
	matching := &starter.ScheduleState{Note: `dr-syncer: cron "0 2 * * *"`, RunTimeout: day, NextRuns: []time.Time{now.Add(5 * time.Minute)}}
	for _, tc := range []struct {
		name            string
		repl            *drv1.Replication
		defaultSchedule drv1.Cron
		invalid         string
		current         *starter.ScheduleState
		wantEnsure      *starter.ScheduleSpec
		wantDelete      bool
		wantReason      string
		wantNext        *metav1.Time
		wantRequeue     time.Duration
	}{
		{name: "created from spec.schedule", repl: replication(drv1.ModeScheduled, cron("0 2 * * *")),
			wantEnsure: &starter.ScheduleSpec{Cron: "0 2 * * *", RunTimeout: day}, wantReason: ReasonPending, wantRequeue: poll},
		{name: "defaults to the source cluster's defaultSchedule", repl: replication(drv1.ModeScheduled), defaultSchedule: "@daily",
			wantEnsure: &starter.ScheduleSpec{Cron: "@daily", RunTimeout: day}, wantReason: ReasonPending, wantRequeue: poll},
		{name: "spec.schedule wins over the default", repl: replication(drv1.ModeScheduled, cron("0 2 * * *")), defaultSchedule: "@daily",
			wantEnsure: &starter.ScheduleSpec{Cron: "0 2 * * *", RunTimeout: day}, wantReason: ReasonPending, wantRequeue: poll},
		{name: "no schedule anywhere", repl: replication(drv1.ModeScheduled), wantReason: ReasonNoSchedule},
		{name: "unchanged schedule is left alone; next sync from it", repl: replication(drv1.ModeScheduled, cron("0 2 * * *")), current: matching,
			wantReason: ReasonPending, wantNext: timeOf(now.Add(5 * time.Minute)), wantRequeue: 5*time.Minute + time.Second},
		{name: "changed cron updates", repl: replication(drv1.ModeScheduled, cron("0 3 * * *")), current: matching,
			wantEnsure: &starter.ScheduleSpec{Cron: "0 3 * * *", RunTimeout: day}, wantReason: ReasonPending, wantRequeue: poll},
		{name: "paused pauses", repl: replication(drv1.ModeScheduled, cron("0 2 * * *"), func(r *drv1.Replication) { r.Spec.Paused = true }),
			current: matching, wantEnsure: &starter.ScheduleSpec{Cron: "0 2 * * *", RunTimeout: day, Paused: true}, wantReason: ReasonPending, wantRequeue: poll},
		{name: "Manual mode removes a schedule", repl: replication(drv1.ModeManual), current: matching, wantDelete: true, wantReason: ReasonPending},
		{name: "an invalid reference removes it", repl: replication(drv1.ModeScheduled, cron("0 2 * * *")), current: matching,
			invalid: "ClusterMapping ops/m not found", wantDelete: true, wantReason: ReasonInvalidReference, wantRequeue: invalidReferenceRetry},
		{name: "an invalid reference creates none", repl: replication(drv1.ModeScheduled, cron("0 2 * * *")),
			invalid: "ClusterMapping ops/m not found", wantReason: ReasonInvalidReference, wantRequeue: invalidReferenceRetry},
		{name: "a schedule whose runs have no timeout gets one", repl: replication(drv1.ModeScheduled, cron("0 2 * * *")),
			current: &starter.ScheduleState{Note: `dr-syncer: cron "0 2 * * *"`}, wantEnsure: &starter.ScheduleSpec{Cron: "0 2 * * *", RunTimeout: day},
			wantReason: ReasonPending, wantRequeue: poll},
		{name: "a long transfer timeout lengthens the run timeout", repl: replication(drv1.ModeScheduled, cron("0 2 * * *"), func(r *drv1.Replication) {
			r.Spec.PVCConfig = &drv1.PVCConfig{DataSyncConfig: &drv1.DataSyncConfig{Timeout: "12h"}}
		}), current: matching, wantEnsure: &starter.ScheduleSpec{Cron: "0 2 * * *", RunTimeout: 48 * time.Hour},
			wantReason: ReasonPending, wantRequeue: poll},
		{name: "Continuous runs on its background interval", repl: replication(drv1.ModeContinuous),
			wantEnsure: &starter.ScheduleSpec{Every: time.Hour}, wantReason: ReasonPending, wantRequeue: poll},
		{name: "Continuous with its own interval", repl: replication(drv1.ModeContinuous, func(r *drv1.Replication) {
			r.Spec.Continuous = &drv1.ContinuousConfig{BackgroundSyncInterval: "15m"}
		}), wantEnsure: &starter.ScheduleSpec{Every: 15 * time.Minute}, wantReason: ReasonPending, wantRequeue: poll},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planReplication(replicationObservation{Replication: tc.repl, DefaultSchedule: tc.defaultSchedule,
				InvalidReference: tc.invalid, Schedule: tc.current}, now, poll)
			assert.Equal(t, tc.wantEnsure, p.EnsureSchedule)
			assert.Equal(t, tc.wantDelete, p.DeleteSchedule)
			assert.Equal(t, tc.wantNext, p.Status.NextSyncTime)
			assert.Equal(t, tc.wantRequeue, p.RequeueAfter)
			c := synced(t, p.Status)
			assert.Equal(t, tc.wantReason, c.Reason)
			if tc.invalid != "" {
				assert.Equal(t, tc.invalid, c.Message)
				assert.Equal(t, metav1.ConditionFalse, c.Status)
				assert.Equal(t, drv1.PhaseFailed, p.Status.Phase)
			}
			if tc.wantReason == ReasonNoSchedule {
				assert.Contains(t, c.Message, "spec.schedule")
				assert.Contains(t, c.Message, "defaultSchedule")
			}
		})
	}
}

func TestUnrecordedScheduledRun(t *testing.T) {
	recent := []starter.ScheduledRun{
		{WorkflowID: "replication/ops/shop/scheduled-a", RunID: "a", Started: now.Add(-2 * time.Hour)},
		{WorkflowID: "replication/ops/shop/scheduled-b", RunID: "b", Started: now.Add(-time.Hour)},
	}
	newest := &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/scheduled-b", RunID: "b"}
	for _, tc := range []struct {
		name string
		last *drv1.WorkflowRef
		want *drv1.WorkflowRef
	}{
		{"nothing recorded yet", nil, newest},
		{"newest already recorded", &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/scheduled-b", StartTime: timeOf(now.Add(-time.Hour))}, nil},
		{"an older run recorded", &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/scheduled-a", StartTime: timeOf(now.Add(-2 * time.Hour))}, newest},
		{"a later manual run recorded", &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/1", StartTime: timeOf(now.Add(-time.Minute))}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, unrecordedScheduledRun(recent, tc.last))
		})
	}
	assert.Nil(t, unrecordedScheduledRun(nil, nil))
}
