package controller

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/starter"
)

func failoverState(state string) func(*drv1.Replication) {
	return func(r *drv1.Replication) {
		r.Status.Failover = &drv1.FailoverStatus{State: state, ActiveSide: contract.SideDestination, WorkflowID: "failover/ops/shop/1", Mode: contract.FailoverPlanned}
	}
}

func annotate(kv ...string) func(*drv1.Replication) {
	return func(r *drv1.Replication) {
		if r.Annotations == nil {
			r.Annotations = map[string]string{}
		}
		for i := 0; i < len(kv); i += 2 {
			r.Annotations[kv[i]] = kv[i+1]
		}
	}
}

func TestPlanWhileFailedOver(t *testing.T) {
	hourly := func(r *drv1.Replication) { r.Spec.Schedule = "0 * * * *" }
	running := &starter.ScheduleState{Note: `dr-syncer: cron "0 * * * *"`, RunTimeout: day, NextRuns: []time.Time{now.Add(time.Hour)}}
	paused := &starter.ScheduleState{Note: `dr-syncer: cron "0 * * * *"`, RunTimeout: day, Paused: true}
	for _, tc := range []struct {
		name         string
		repl         *drv1.Replication
		current      *starter.ScheduleState
		wantEnsure   *starter.ScheduleSpec
		wantReason   string
		wantPhase    drv1.ReplicationPhase
		wantMessage  string
		wantTrigger  string
		wantResumes  bool
		wantNextSync bool
	}{
		{name: "failing over pauses the Schedule and starts no sync-now", repl: replication(drv1.ModeScheduled, hourly, syncNow("1"), failoverState(contract.StateFailingOver)),
			current: running, wantEnsure: &starter.ScheduleSpec{Cron: "0 * * * *", RunTimeout: day, Paused: true}, wantReason: ReasonFailingOver, wantPhase: drv1.PhasePending,
			wantMessage: "failing over to dr/shop by failover/ops/shop/1: syncs are paused; follow it with drsyncer describe failover/ops/shop/1"},
		{name: "failed over: phase FailedOver, the Schedule stays paused", repl: replication(drv1.ModeScheduled, hourly, syncNow("1"), failoverState(contract.StateFailedOver)),
			current: paused, wantReason: ReasonFailedOver, wantPhase: drv1.PhaseFailedOver,
			wantMessage: "failed over to dr/shop by failover/ops/shop/1: syncs are paused until failback (drsyncer failback ops/shop, or annotate dr-syncer.io/failback)"},
		{name: "failed over re-pauses a Schedule someone resumed", repl: replication(drv1.ModeScheduled, hourly, failoverState(contract.StateFailedOver)),
			current: running, wantEnsure: &starter.ScheduleSpec{Cron: "0 * * * *", RunTimeout: day, Paused: true}, wantReason: ReasonFailedOver, wantPhase: drv1.PhaseFailedOver},
		{name: "failing back keeps it paused", repl: replication(drv1.ModeScheduled, hourly, failoverState(contract.StateFailingBack)),
			current: paused, wantReason: ReasonFailingBack, wantPhase: drv1.PhasePending,
			wantMessage: "failing back to prod/shop by failover/ops/shop/1: syncs stay paused until it completes"},
		{name: "continuous pauses too", repl: replication(drv1.ModeContinuous, failoverState(contract.StateFailedOver)),
			wantEnsure: &starter.ScheduleSpec{Every: time.Hour, Paused: true}, wantReason: ReasonFailedOver, wantPhase: drv1.PhaseFailedOver},
		{name: "failed back resumes the Schedule and the waiting sync-now", repl: replication(drv1.ModeScheduled, hourly, syncNow("1"), failoverState(contract.StateFailedBack)),
			current: paused, wantEnsure: &starter.ScheduleSpec{Cron: "0 * * * *", RunTimeout: day}, wantReason: ReasonPending, wantPhase: drv1.PhasePending,
			wantTrigger: "1", wantResumes: true},
		{name: "a cancelled failover resumes as well", repl: replication(drv1.ModeScheduled, hourly, failoverState(contract.StateFailoverCanceled)),
			current: paused, wantEnsure: &starter.ScheduleSpec{Cron: "0 * * * *", RunTimeout: day}, wantReason: ReasonPending, wantPhase: drv1.PhasePending, wantResumes: true},
		{name: "never failed over: as before", repl: replication(drv1.ModeScheduled, hourly),
			current: running, wantReason: ReasonPending, wantPhase: drv1.PhasePending, wantNextSync: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obs := replicationObservation{Replication: tc.repl, Schedule: tc.current, SourceCluster: "prod", DestinationCluster: "dr"}
			p := planReplication(obs, now, poll)
			assert.Equal(t, tc.wantEnsure, p.EnsureSchedule)
			assert.False(t, p.DeleteSchedule)
			assert.Equal(t, tc.wantTrigger, p.StartTrigger)
			assert.Equal(t, tc.wantResumes, p.Resumes)
			assert.Equal(t, tc.wantPhase, p.Status.Phase)
			assert.Equal(t, tc.wantNextSync, p.Status.NextSyncTime != nil)
			c := synced(t, p.Status)
			assert.Equal(t, tc.wantReason, c.Reason)
			if tc.wantMessage != "" {
				assert.Equal(t, tc.wantMessage, c.Message)
				assert.Equal(t, metav1.ConditionFalse, c.Status)
			}
			assert.Equal(t, tc.repl.Status.Failover, p.Status.Failover, "status.failover is carried over, never changed")
			assert.Empty(t, p.Operations)
		})
	}
}

func TestPlanResumes(t *testing.T) {
	hourly := func(r *drv1.Replication) { r.Spec.Schedule = "0 * * * *" }
	running := &starter.ScheduleState{Note: `dr-syncer: cron "0 * * * *"`, RunTimeout: day}
	for _, tc := range []struct {
		name    string
		repl    *drv1.Replication
		current *starter.ScheduleState
		want    bool
	}{
		{"creating an active Schedule", replication(drv1.ModeScheduled, hourly), nil, true},
		{"creating a paused one", replication(drv1.ModeScheduled, hourly, func(r *drv1.Replication) { r.Spec.Paused = true }), nil, false},
		{"changing the cron of a running one", replication(drv1.ModeScheduled, func(r *drv1.Replication) { r.Spec.Schedule = "5 * * * *" }), running, false},
		{"leaving it alone", replication(drv1.ModeScheduled, hourly), running, false},
		{"starting a sync-now run", replication(drv1.ModeManual, syncNow("1")), nil, true},
	} {
		p := planReplication(replicationObservation{Replication: tc.repl, Schedule: tc.current}, now, poll)
		assert.Equal(t, tc.want, p.Resumes, tc.name)
	}
}

func TestPlanRecoveryAnnotations(t *testing.T) {
	op := func(kind, annotation, value string) operationRequest {
		return operationRequest{Kind: kind, Annotation: annotation, Value: value, ID: starter.SanitizeTrigger(value)}
	}
	for _, tc := range []struct {
		name        string
		repl        *drv1.Replication
		invalid     string
		wantOps     []operationRequest
		wantHandled map[string]string
		wantEvent   string // reason of the one Warning event, if any
		wantMessage string
	}{
		{name: "a new failover value starts one", repl: replication(drv1.ModeScheduled, annotate(drv1.AnnotationFailover, "1")),
			wantOps: []operationRequest{op(contract.FailoverName, drv1.AnnotationFailover, "1")}},
		{name: "the value is sanitized for the ID", repl: replication(drv1.ModeManual, annotate(drv1.AnnotationDrill, "2026-12-05 10:00")),
			wantOps: []operationRequest{op(contract.DrillName, drv1.AnnotationDrill, "2026-12-05 10:00")}},
		{name: "a handled value starts nothing", repl: replication(drv1.ModeManual, annotate(drv1.AnnotationFailover, "1"),
			func(r *drv1.Replication) { r.Status.RequestsHandled = map[string]string{drv1.AnnotationFailover: "1"} }),
			wantHandled: map[string]string{drv1.AnnotationFailover: "1"}},
		{name: "paused or broken references do not stop a failover: DR is for when things are broken",
			repl:    replication(drv1.ModeManual, annotate(drv1.AnnotationFailover, "x"), func(r *drv1.Replication) { r.Spec.Paused = true }),
			invalid: "RemoteCluster ops/prod not found", wantOps: []operationRequest{op(contract.FailoverName, drv1.AnnotationFailover, "x")}},
		{name: "a failover while failed over is refused and handled", repl: replication(drv1.ModeManual, annotate(drv1.AnnotationFailover, "2"), failoverState(contract.StateFailedOver)),
			wantHandled: map[string]string{drv1.AnnotationFailover: "2"}, wantEvent: EventFailoverRefused,
			wantMessage: "dr-syncer.io/failover=2 not carried out: ops/shop is already FailedOver (failover/ops/shop/1): fail back first (annotate dr-syncer.io/failback, or drsyncer failback ops/shop)"},
		{name: "a failover while failing over is refused", repl: replication(drv1.ModeManual, annotate(drv1.AnnotationFailover, "2"), failoverState(contract.StateFailingOver)),
			wantHandled: map[string]string{drv1.AnnotationFailover: "2"}, wantEvent: EventFailoverRefused},
		{name: "a failover after failback starts", repl: replication(drv1.ModeManual, annotate(drv1.AnnotationFailover, "2"), failoverState(contract.StateFailedBack)),
			wantOps: []operationRequest{op(contract.FailoverName, drv1.AnnotationFailover, "2")}},
		{name: "a failback while not failed over is refused", repl: replication(drv1.ModeManual, annotate(drv1.AnnotationFailback, "b")),
			wantHandled: map[string]string{drv1.AnnotationFailback: "b"}, wantEvent: EventFailbackRefused,
			wantMessage: "dr-syncer.io/failback=b not carried out: ops/shop is not failed over: its source runs the workloads"},
		{name: "a failback after a cancelled failover is refused", repl: replication(drv1.ModeManual, annotate(drv1.AnnotationFailback, "b"), failoverState(contract.StateFailoverCanceled)),
			wantHandled: map[string]string{drv1.AnnotationFailback: "b"}, wantEvent: EventFailbackRefused},
		{name: "a failback while failed over starts", repl: replication(drv1.ModeManual, annotate(drv1.AnnotationFailback, "b"), failoverState(contract.StateFailedOver)),
			wantOps: []operationRequest{op(contract.FailbackName, drv1.AnnotationFailback, "b")}},
		{name: "a drill starts whatever the state", repl: replication(drv1.ModeManual, annotate(drv1.AnnotationDrill, "d"), failoverState(contract.StateFailedOver)),
			wantOps: []operationRequest{op(contract.DrillName, drv1.AnnotationDrill, "d")}},
		{name: "failover and failback at once: the failover starts, the failback is refused",
			repl:        replication(drv1.ModeManual, annotate(drv1.AnnotationFailover, "1", drv1.AnnotationFailback, "1", drv1.AnnotationDrill, "1")),
			wantOps:     []operationRequest{op(contract.FailoverName, drv1.AnnotationFailover, "1"), op(contract.DrillName, drv1.AnnotationDrill, "1")},
			wantHandled: map[string]string{drv1.AnnotationFailback: "1"}, wantEvent: EventFailbackRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planReplication(replicationObservation{Replication: tc.repl, InvalidReference: tc.invalid}, now, poll)
			assert.Equal(t, tc.wantOps, p.Operations)
			assert.Equal(t, tc.wantHandled, p.Status.RequestsHandled)
			var warnings []replicationEvent
			for _, e := range p.Events {
				if e.Type == corev1.EventTypeWarning {
					warnings = append(warnings, e)
				}
			}
			if tc.wantEvent == "" {
				assert.Empty(t, warnings)
				return
			}
			require.Len(t, warnings, 1)
			assert.Equal(t, tc.wantEvent, warnings[0].Reason)
			if tc.wantMessage != "" {
				assert.Equal(t, tc.wantMessage, warnings[0].Message)
			}
		})
	}
}

func TestRecordOperation(t *testing.T) {
	req := operationRequest{Kind: contract.FailoverName, Annotation: drv1.AnnotationFailover, Value: "1", ID: "1"}
	back := operationRequest{Kind: contract.FailbackName, Annotation: drv1.AnnotationFailback, Value: "b", ID: "b"}
	fresh := func() *replicationPlan {
		return &replicationPlan{Status: drv1.ReplicationStatus{RequestsHandled: map[string]string{drv1.AnnotationSyncNow: "kept"}}}
	}

	p := fresh()
	require.NoError(t, p.recordOperation(req, starter.StartedRun{WorkflowID: "failover/ops/shop/1", RunID: "r", Started: true}, nil))
	assert.Equal(t, map[string]string{drv1.AnnotationSyncNow: "kept", drv1.AnnotationFailover: "1"}, p.Status.RequestsHandled)
	assert.Equal(t, []replicationEvent{{corev1.EventTypeNormal, EventFailoverStarted, "started failover failover/ops/shop/1 for dr-syncer.io/failover=1"}}, p.Events)

	p = fresh()
	require.NoError(t, p.recordOperation(req, starter.StartedRun{WorkflowID: "failover/ops/shop/1", RunID: "r"}, nil))
	assert.Equal(t, "1", p.Status.RequestsHandled[drv1.AnnotationFailover], "found started before (a lost status write): handled")
	assert.Empty(t, p.Events, "and not announced twice")

	p = fresh()
	open := &starter.OperationOpenError{Replication: contract.ObjectRef{Namespace: "ops", Name: "shop"}, Type: contract.FailoverName, WorkflowID: "failover/ops/shop/1"}
	require.NoError(t, p.recordOperation(back, starter.StartedRun{}, open))
	assert.Equal(t, "b", p.Status.RequestsHandled[drv1.AnnotationFailback])
	require.Len(t, p.Events, 1)
	assert.Equal(t, replicationEvent{corev1.EventTypeWarning, EventFailbackRefused, "dr-syncer.io/failback=b not carried out: " + open.Error()}, p.Events[0])

	p = fresh()
	down := errors.New("connection refused")
	require.ErrorIs(t, p.recordOperation(req, starter.StartedRun{}, down), down, "retried")
	assert.NotContains(t, p.Status.RequestsHandled, drv1.AnnotationFailover)
	require.Len(t, p.Events, 1)
	assert.Equal(t, replicationEvent{corev1.EventTypeWarning, EventFailoverStartFailed, "dr-syncer.io/failover=1: connection refused; retrying"}, p.Events[0])

	for _, kind := range []string{contract.FailoverName, contract.FailbackName, contract.DrillName} {
		assert.Contains(t, []string{EventFailoverStarted, EventFailbackStarted, EventDrillStarted}, kind+"Started")
		assert.Contains(t, []string{EventFailoverRefused, EventFailbackRefused, EventDrillRefused}, kind+"Refused")
		assert.Contains(t, []string{EventFailoverStartFailed, EventFailbackStartFailed, EventDrillStartFailed}, kind+"StartFailed")
	}
}

// fakeTemporal records the recovery starts and fails Schedule updates.
type fakeTemporal struct {
	ReplicationTemporal
	started     []string
	scheduleErr error
}

func (f *fakeTemporal) StartFailover(_ context.Context, in contract.FailoverInput, id string) (starter.StartedRun, error) {
	f.started = append(f.started, contract.FailoverWorkflowID(in.Replication.Namespace, in.Replication.Name, id))
	return starter.StartedRun{WorkflowID: f.started[len(f.started)-1], RunID: "r", Started: true}, nil
}

func (f *fakeTemporal) EnsureSchedule(context.Context, contract.ObjectRef, starter.ScheduleSpec) error {
	f.started = append(f.started, "schedule")
	return f.scheduleErr
}

func (f *fakeTemporal) StartRun(_ context.Context, ref contract.ObjectRef, trigger string) (starter.StartedRun, error) {
	f.started = append(f.started, contract.ReplicationWorkflowID(ref.Namespace, ref.Name, trigger))
	return starter.StartedRun{WorkflowID: f.started[len(f.started)-1], Started: true}, nil
}

// A failover starts even when the Schedule cannot be updated.
func TestExecuteStartsFailoverFirst(t *testing.T) {
	temporal := &fakeTemporal{scheduleErr: errors.New("schedule update rejected")}
	r := &ReplicationReconciler{Temporal: temporal}
	repl := replication(drv1.ModeScheduled, func(r *drv1.Replication) { r.Spec.Schedule = "0 * * * *" }, annotate(drv1.AnnotationFailover, "1"))
	p := planReplication(replicationObservation{Replication: repl}, now, poll)
	require.NotNil(t, p.EnsureSchedule)
	err := r.execute(context.Background(), repl, &p)
	require.ErrorIs(t, err, temporal.scheduleErr)
	assert.Equal(t, []string{"failover/ops/shop/1", "schedule"}, temporal.started)
	assert.Equal(t, "1", p.Status.RequestsHandled[drv1.AnnotationFailover])
}

// A failover recorded after the cache was read stops syncs from resuming.
func TestExecuteRechecksFailoverBeforeResuming(t *testing.T) {
	cached := replication(drv1.ModeManual, syncNow("1"))
	live := cached.DeepCopy()
	failoverState(contract.StateFailingOver)(live)
	reader := fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(live).Build()
	temporal := &fakeTemporal{}
	r := &ReplicationReconciler{Temporal: temporal, APIReader: reader}
	p := planReplication(replicationObservation{Replication: cached}, now, poll)
	require.True(t, p.Resumes)
	err := r.execute(context.Background(), cached, &p)
	require.ErrorContains(t, err, "replication ops/shop turned FailingOver by failover/ops/shop/1 while it was reconciled")
	assert.Empty(t, temporal.started, "no sync-now run started")

	reader = fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(cached.DeepCopy()).Build()
	r.APIReader = reader
	require.NoError(t, r.execute(context.Background(), cached, &p))
	assert.Equal(t, []string{"replication/ops/shop/1"}, temporal.started)
}
