package controller

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

const runID = "replication/ops/shop/1"

// pollRun plans a reconcile that reads run, from the status the last one wrote.
func pollRun(st drv1.ReplicationStatus, run starter.RunState) replicationPlan {
	r := replication(drv1.ModeManual, func(r *drv1.Replication) { r.Status = *st.DeepCopy() })
	return planReplication(replicationObservation{Replication: r, Run: &run}, now, poll)
}

func openRun(running []string, ended ...contract.PVCEnded) starter.RunState {
	run := starter.RunState{WorkflowID: runID, RunID: "r1", Status: starter.StatusRunning, Start: now.Add(-time.Minute),
		Progress: &contract.ReplicationProgress{Phase: contract.PhaseSyncPVCs, PVCsTotal: 4, PVCsDone: len(ended), Ended: ended}}
	for _, pvc := range running {
		run.PVCs = append(run.PVCs, starter.PVCProgress{PVC: pvc})
	}
	return run
}

func ok(pvc string, bytes int64) contract.PVCEnded {
	return contract.PVCEnded{PVC: pvc, BytesTransferred: bytes, BytesTotal: 2 * bytes, DurationSeconds: 42}
}

func outcome(e contract.PVCEnded) contract.PVCOutcome {
	o := contract.PVCOutcome{PVC: e.PVC, WorkflowID: "pvcsync/prod/shop/" + e.PVC, Error: e.Error, ErrorType: e.ErrorType}
	if e.Error == "" {
		o.Result = &contract.PVCSyncResult{}
		o.Result.Transfer.Stats.TotalTransferredFileSize = e.BytesTransferred
		o.Result.Transfer.Stats.TotalFileSize = e.BytesTotal
		o.Result.Transfer.DurationSeconds = e.DurationSeconds
	}
	return o
}

type ev struct{ Reason, PVC string }

// pvcEvents are the PVC sync events of a plan, as (reason, PVC) pairs.
func pvcEvents(t *testing.T, events []replicationEvent) []ev {
	t.Helper()
	var out []ev
	for _, e := range events {
		switch e.Reason {
		case EventPVCSyncStarted, EventPVCSyncCompleted, EventPVCSyncFailed:
			pvc, _, found := strings.Cut(strings.TrimPrefix(e.Message, "PVC "), ":")
			require.True(t, found, e.Message)
			out = append(out, ev{e.Reason, pvc})
		}
	}
	return out
}

// Every PVC sync of a run gets one Started and one Completed or Failed
// event, whether the controller saw it running, saw it only ended (it
// started and ended between two polls), or learns of it only from the
// run's result; no poll, and no reconcile after a restart (the status is
// all it keeps), repeats one.
func TestPVCSyncEventsAcrossPolls(t *testing.T) {
	st := replication(drv1.ModeManual).Status
	st.CurrentRun = &drv1.WorkflowRef{WorkflowID: runID, RunID: "r1"}
	step := func(run starter.RunState, want ...ev) replicationPlan {
		t.Helper()
		p := pollRun(st, run)
		assert.Equal(t, want, pvcEvents(t, p.Events))
		st = p.Status
		return p
	}

	step(openRun([]string{"a", "b"}), ev{EventPVCSyncStarted, "a"}, ev{EventPVCSyncStarted, "b"})
	step(openRun([]string{"b", "c"}, ok("a", 1<<20)), ev{EventPVCSyncStarted, "c"}, ev{EventPVCSyncCompleted, "a"})
	failedB := contract.PVCEnded{PVC: "b", WorkflowID: "pvcsync/prod/shop/b", Error: "rsync exited 23", ErrorType: contract.ErrTypeTransferFailed}
	third := openRun([]string{"c"}, ok("a", 1<<20), failedB, ok("d", 10))
	p := step(third, ev{EventPVCSyncFailed, "b"}, ev{EventPVCSyncStarted, "d"}, ev{EventPVCSyncCompleted, "d"})
	assert.Equal(t, []drv1.PVCSyncState{{Name: "a", State: "Completed"}, {Name: "b", State: "Failed"}, {Name: "c", State: "Running"}, {Name: "d", State: "Completed"}},
		p.Status.SyncProgress.PVCs, "the status keeps what was reported")
	step(third) // the same answer again, or after a controller restart: nothing new

	// The query timed out (every worker busy): the run is open, and the
	// status keeps its run, start, counts and PVC states as they were.
	before := st.DeepCopy()
	busy := starter.RunState{WorkflowID: runID, RunID: "r1", Status: starter.StatusRunning, Unanswered: true}
	step(busy)
	assert.Equal(t, before.CurrentRun, st.CurrentRun, "the start time is not forgotten")
	assert.Equal(t, before.SyncProgress, st.SyncProgress, "the progress does not fall back to Starting, 0%")

	// No answer from a worker: nothing is news, and nothing reported is forgotten.
	silent := third
	silent.Progress, silent.PVCs = nil, nil
	step(silent)
	require.Len(t, st.SyncProgress.PVCs, 4)

	closed := starter.RunState{WorkflowID: runID, RunID: "r1", Status: starter.StatusFailed, Start: now.Add(-time.Minute), Close: now,
		Error: "1 of 4 PVC syncs failed", ErrorType: contract.ErrTypeSyncFailed,
		Result: &contract.ReplicationResult{PVCs: []contract.PVCOutcome{outcome(ok("a", 1<<20)), outcome(failedB), outcome(ok("c", 5)), outcome(ok("d", 10))}}}
	p = step(closed, ev{EventPVCSyncCompleted, "c"})
	require.Len(t, p.Events, 2)
	assert.Equal(t, EventSyncFailed, p.Events[1].Reason, "the run's own event follows its PVCs'")
	step(closed) // recorded once
}

// A scheduled run the controller first sees while it is busy (its query
// unanswered) still gets its start time, from the Schedule's recent actions
// observe found it in, and keeps it while it stays busy; its own answer
// then gives the workflow's start. RunState stays the poll's one call.
func TestUnansweredScheduledRunGetsItsStart(t *testing.T) {
	const id = "replication/ops/shop/scheduled-b"
	started := now.Add(-90 * time.Second)
	sched := &starter.ScheduleState{Note: `dr-syncer: cron "0 * * * *"`, RunTimeout: day, Recent: []starter.ScheduledRun{
		{WorkflowID: "replication/ops/shop/scheduled-a", RunID: "ra", Started: now.Add(-time.Hour)},
		{WorkflowID: id, RunID: "rb", Started: started},
	}}
	r := replication(drv1.ModeScheduled, func(r *drv1.Replication) { r.Spec.Schedule = "0 * * * *" })
	busy := starter.RunState{WorkflowID: id, RunID: "rb", Status: starter.StatusRunning, Unanswered: true}
	want := &drv1.WorkflowRef{WorkflowID: id, RunID: "rb", StartTime: timeOf(started)}

	p := planReplication(replicationObservation{Replication: r, Schedule: sched, Run: &busy}, now, poll)
	assert.Equal(t, want, p.Status.CurrentRun, "first seen busy: the start from the Schedule")
	assert.Equal(t, "Starting", p.Status.SyncProgress.CurrentOperation)

	r.Status = p.Status
	p = planReplication(replicationObservation{Replication: r, Schedule: sched, Run: &busy}, now.Add(poll), poll)
	assert.Equal(t, want, p.Status.CurrentRun, "still busy: kept")

	answered := starter.RunState{WorkflowID: id, RunID: "rb", Status: starter.StatusRunning, Start: started.Add(200 * time.Millisecond),
		Progress: &contract.ReplicationProgress{Phase: contract.PhaseSyncPVCs, PVCsTotal: 2}}
	r.Status = p.Status
	p = planReplication(replicationObservation{Replication: r, Schedule: sched, Run: &answered}, now.Add(2*poll), poll)
	assert.Equal(t, timeOf(answered.Start), p.Status.CurrentRun.StartTime, "the run's own start once it answers")

	// A busy run the Schedule does not list (an unknown start) gets none
	// rather than a guess.
	other := starter.RunState{WorkflowID: "replication/ops/shop/scheduled-c", RunID: "rc", Status: starter.StatusRunning, Unanswered: true}
	p = planReplication(replicationObservation{Replication: replication(drv1.ModeScheduled), Schedule: sched, Run: &other}, now, poll)
	assert.Nil(t, p.Status.CurrentRun.StartTime)
}

// A run the controller never saw open (a scheduled run that started and
// ended between two reconciles) still reports each PVC sync from its result.
func TestPVCSyncEventsOfARunSeenOnlyClosed(t *testing.T) {
	run := starter.RunState{WorkflowID: "replication/ops/shop/scheduled-1", RunID: "r9", Status: starter.StatusCompleted, Start: now.Add(-time.Minute), Close: now,
		Result: &contract.ReplicationResult{PVCs: []contract.PVCOutcome{outcome(ok("a", 1)), outcome(ok("b", 2))}}}
	p := pollRun(replication(drv1.ModeScheduled).Status, run)
	assert.Equal(t, []ev{{EventPVCSyncStarted, "a"}, {EventPVCSyncCompleted, "a"}, {EventPVCSyncStarted, "b"}, {EventPVCSyncCompleted, "b"}}, pvcEvents(t, p.Events))
}

// The PVC states of the previous run do not silence the next run's events.
func TestPVCSyncEventsOfTheNextRun(t *testing.T) {
	st := replication(drv1.ModeManual).Status
	st.CurrentRun = &drv1.WorkflowRef{WorkflowID: runID, RunID: "r0"}
	st.SyncProgress = &drv1.SyncProgress{PVCs: []drv1.PVCSyncState{{Name: "a", State: "Completed"}}}
	p := pollRun(st, openRun([]string{"a"}))
	assert.Equal(t, []ev{{EventPVCSyncStarted, "a"}}, pvcEvents(t, p.Events), "run r1 of the same workflow ID is another sync")
}

// The messages say which PVC, how much and how long, and on failure why and
// what to do.
func TestPVCSyncEventMessages(t *testing.T) {
	_, events := pvcSyncNews(nil, nil, []contract.PVCEnded{
		{PVC: "data", BytesTransferred: 3 << 29, BytesTotal: 5 << 30, DurationSeconds: 62.04},
		{PVC: "logs", WorkflowID: "pvcsync/prod/shop/logs", Error: "rsync exited 12", ErrorType: contract.ErrTypeTransferFailed},
		{PVC: "db", Error: "source PVC was replaced", ErrorType: contract.ErrTypeSourceReplaced},
	}, runID)
	require.Len(t, events, 6)
	assert.Equal(t, replicationEvent{corev1.EventTypeNormal, EventPVCSyncStarted, "PVC data: data sync started (run " + runID + ")"}, events[0])
	assert.Equal(t, replicationEvent{corev1.EventTypeNormal, EventPVCSyncCompleted, "PVC data: data synced, 1.5 GiB transferred of 5.0 GiB in 1m2s"}, events[1])
	assert.Equal(t, replicationEvent{corev1.EventTypeWarning, EventPVCSyncFailed,
		"PVC logs: data sync failed (TransferFailed): rsync exited 12; the next sync tries again; workflow pvcsync/prod/shop/logs in the Temporal Web UI has the details"}, events[3])
	assert.Equal(t, EventPVCSyncFailed, events[5].Reason)
	assert.Contains(t, events[5].Message, "PVC db: data sync failed (SourceReplaced)")
	assert.Contains(t, events[5].Message, drv1.AnnotationAcceptChanges, "a held sync says how to let it through")
}

// The progress column reads "PVCs done/all, percent" while PVCs sync, and
// the run's step before.
func TestProgressSummary(t *testing.T) {
	run := openRun([]string{"a"})
	run.Progress.PVCsDone, run.Progress.PVCsTotal = 3, 10
	run.PVCs[0].Transfer = &contract.TransferProgress{}
	run.PVCs[0].Transfer.Percent = 50
	assert.Equal(t, "3/10 PVCs, 35%", progressOf(&run).Summary)
	run.Progress = &contract.ReplicationProgress{Phase: contract.PhaseResources}
	run.PVCs = nil
	assert.Equal(t, contract.PhaseResources, progressOf(&run).Summary)
}

// A Continuous Replication reads Running for as long as it watches its
// source; each sync's result is in lastRun and the Synced condition.
func TestContinuousPhase(t *testing.T) {
	watching := &starter.ScheduleState{Note: `dr-syncer: every 1h0m0s`, NextRuns: []time.Time{now.Add(time.Hour)}}
	lastRun := func(result string) func(*drv1.Replication) {
		return func(r *drv1.Replication) {
			r.Status.LastRun = &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/continuous-1", RunID: "r1", Result: result}
		}
	}
	for _, tc := range []struct {
		name       string
		repl       *drv1.Replication
		wantPhase  drv1.ReplicationPhase
		wantSynced metav1.ConditionStatus
	}{
		{"before its first sync", replication(drv1.ModeContinuous), drv1.PhaseRunning, metav1.ConditionUnknown},
		{"after a good sync", replication(drv1.ModeContinuous, lastRun(starter.StatusCompleted)), drv1.PhaseRunning, metav1.ConditionTrue},
		{"after a failed sync", replication(drv1.ModeContinuous, lastRun(starter.StatusFailed)), drv1.PhaseRunning, metav1.ConditionFalse},
		{"paused", replication(drv1.ModeContinuous, lastRun(starter.StatusCompleted), func(r *drv1.Replication) { r.Spec.Paused = true }),
			drv1.PhaseCompleted, metav1.ConditionTrue},
		{"a Scheduled one between syncs", replication(drv1.ModeScheduled, lastRun(starter.StatusCompleted), func(r *drv1.Replication) { r.Spec.Schedule = "@hourly" }),
			drv1.PhaseCompleted, metav1.ConditionTrue},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planReplication(replicationObservation{Replication: tc.repl, Schedule: watching}, now, poll)
			assert.Equal(t, tc.wantPhase, p.Status.Phase)
			assert.Equal(t, tc.wantSynced, synced(t, p.Status).Status)
		})
	}

	// A sync ends: the phase stays Running, the result lands in lastRun and Synced.
	r := replication(drv1.ModeContinuous, func(r *drv1.Replication) {
		r.Status.CurrentRun = &drv1.WorkflowRef{WorkflowID: "replication/ops/shop/continuous-2", RunID: "r2"}
	})
	done := starter.RunState{WorkflowID: "replication/ops/shop/continuous-2", RunID: "r2", Status: starter.StatusFailed, Start: now.Add(-time.Minute), Close: now, Error: "boom"}
	p := planReplication(replicationObservation{Replication: r, Schedule: watching, Run: &done}, now, poll)
	assert.Equal(t, drv1.PhaseRunning, p.Status.Phase)
	assert.Equal(t, starter.StatusFailed, p.Status.LastRun.Result)
	assert.Equal(t, metav1.ConditionFalse, synced(t, p.Status).Status)
}

// The route column names both sides; a cluster not resolved is named as the spec names it.
func TestRoute(t *testing.T) {
	r := replication(drv1.ModeManual, func(r *drv1.Replication) { r.Spec.DestinationNamespace = "shop-dr" })
	p := planReplication(replicationObservation{Replication: r, SourceCluster: "prod-eu", DestinationCluster: "dr-us"}, now, poll)
	assert.Equal(t, "prod-eu/shop → dr-us/shop-dr", p.Status.Route)
	p = planReplication(replicationObservation{Replication: replication(drv1.ModeManual)}, now, poll)
	assert.Equal(t, "prod/shop → dr/shop", p.Status.Route)
}

// describe shows a Web UI link next to each run the status names.
func TestLinkRuns(t *testing.T) {
	r := &ReplicationReconciler{RunLink: func(id, run string) string { return "ui/" + id + "/" + run }}
	st := drv1.ReplicationStatus{CurrentRun: &drv1.WorkflowRef{WorkflowID: "w2", RunID: "r2"}, LastRun: &drv1.WorkflowRef{WorkflowID: "w1", RunID: "r1"}}
	r.linkRuns(&st)
	assert.Equal(t, "ui/w2/r2", st.CurrentRun.WebUI)
	assert.Equal(t, "ui/w1/r1", st.LastRun.WebUI)
	(&ReplicationReconciler{}).linkRuns(&drv1.ReplicationStatus{}) // no links asked for, no runs: nothing to do
}
