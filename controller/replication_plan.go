package controller

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

// Reasons of the Synced condition; each says what happened or what to fix.
const (
	ReasonSyncSucceeded    = "SyncSucceeded"
	ReasonSyncFailed       = "SyncFailed"
	ReasonRunning          = "Running"
	ReasonPending          = "Pending"
	ReasonInvalidReference = "InvalidReference"
	ReasonNoSchedule       = "NoSchedule"
	ReasonInvalidSpec      = "InvalidSpec"
)

// Event reasons the reconciler records on a Replication.
const (
	EventSyncStarted   = "SyncStarted"
	EventSyncSucceeded = "SyncSucceeded"
	EventSyncFailed    = "SyncFailed"
	EventSyncCanceled  = "SyncCanceled"
)

// replicationObservation is everything the planner needs, read by observe.
type replicationObservation struct {
	Replication *drv1.Replication
	// InvalidReference says what to fix when a referenced object is missing.
	InvalidReference string
	// DefaultSchedule is the source RemoteCluster's defaultSchedule.
	DefaultSchedule drv1.Cron
	// SourceCluster and DestinationCluster are the RemoteClusters' names, once resolved.
	SourceCluster, DestinationCluster string
	// Schedule is the Replication's Temporal Schedule; nil when it has none.
	Schedule *starter.ScheduleState
	// Run is the run the status follows: status.currentRun, or the newest
	// run the Schedule started that the status has not recorded yet.
	Run *starter.RunState
	// RunLost is set when Temporal no longer knows status.currentRun.
	RunLost bool
}

// replicationPlan is what the reconciler does, and the status it then writes.
type replicationPlan struct {
	Status drv1.ReplicationStatus
	// EnsureSchedule creates or updates the Schedule to this spec.
	EnsureSchedule *starter.ScheduleSpec
	DeleteSchedule bool
	// StartTrigger starts a run for the sync-now value SyncNowValue.
	StartTrigger string
	SyncNowValue string
	// Operations are failovers, failbacks and drills the annotations ask for.
	Operations   []operationRequest
	Events       []replicationEvent
	RequeueAfter time.Duration
	// Resumes says the plan creates or unpauses the Schedule or starts a
	// run: execute first checks that no failover began meanwhile.
	Resumes bool

	generation int64
	problem    *condition
	mode       drv1.ReplicationMode
	// failedOver is the Synced condition while failed over, else nil.
	failedOver *metav1.Condition
	// watching says a Continuous Replication watches its source.
	watching bool
}

type replicationEvent struct {
	Type, Reason, Message string
}

type condition struct {
	Reason, Message string
}

// invalidReferenceRetry re-checks a broken reference this often, since a
// Secret that appears later triggers no reconcile.
const invalidReferenceRetry = 30 * time.Second

// maxScheduledWait bounds the wait for a Schedule's next run, so a status
// that drifted (a run started by hand in Temporal) is corrected in time.
const maxScheduledWait = 10 * time.Minute

// planReplication decides, from what observe saw, what to start, what to do
// with the Schedule and what the status becomes. It is pure.
func planReplication(obs replicationObservation, now time.Time, poll time.Duration) replicationPlan {
	r := obs.Replication
	spec := r.Spec.DeepCopy()
	drv1.SetReplicationDefaults(spec)
	// The status is carried over whole: status.failover is the failover
	// workflows' to write, never the controller's.
	p := replicationPlan{Status: *r.Status.DeepCopy(), generation: r.Generation, mode: spec.ReplicationMode}
	st := &p.Status
	sides := whereOf(r, spec, obs)
	p.failedOver = failedOverCondition(r.Status.Failover, sides)
	st.ObservedGeneration = r.Generation
	st.Route = sides.source + " → " + sides.dr

	if obs.RunLost {
		st.CurrentRun, st.SyncProgress = nil, nil
	}
	if run := obs.Run; run != nil && run.Unanswered && tracksRun(r.Status, run) {
		// No worker answered in time (all busy): what the status says of
		// this run stands until one does, rather than falling back to zero.
	} else if run != nil && run.Running() {
		reported := reportedPVCs(r.Status, run)
		st.CurrentRun = runRef(run)
		if run.Unanswered {
			st.CurrentRun.StartTime = scheduledStart(obs.Schedule, run)
		}
		st.SyncProgress = progressOf(run)
		var news []replicationEvent
		st.SyncProgress.PVCs, news = runPVCNews(reported, run)
		p.Events = append(p.Events, news...)
	} else if run != nil {
		p.Events = append(p.Events, recordFinished(st, run)...)
	}

	desired, problem := desiredSchedule(spec, obs.DefaultSchedule)
	if obs.InvalidReference != "" {
		desired, problem = nil, &condition{ReasonInvalidReference, obs.InvalidReference}
	}
	p.problem = problem
	if desired != nil && p.failedOver != nil {
		// Paused rather than deleted: failback resumes the same Schedule.
		paused := *desired
		paused.Paused = true
		desired = &paused
	}
	// A Continuous Replication whose workflow is meant to run unpaused is
	// watching its source: Running, whatever its last sync's result.
	p.watching = spec.ReplicationMode == drv1.ModeContinuous && desired != nil && !desired.Paused
	switch {
	case desired == nil && obs.Schedule != nil:
		p.DeleteSchedule = true
	case desired != nil && !obs.Schedule.Matches(*desired):
		p.EnsureSchedule = desired
	}
	st.NextSyncTime = nil
	if desired != nil && p.EnsureSchedule == nil && len(obs.Schedule.NextRuns) > 0 {
		st.NextSyncTime = timeOf(obs.Schedule.NextRuns[0])
	}

	value := r.Annotations[drv1.AnnotationSyncNow]
	if value != "" && value != st.SyncNowHandled && obs.InvalidReference == "" && !spec.Paused && st.CurrentRun == nil && p.failedOver == nil {
		// A sync-now that arrives while a run is open, or while failed over,
		// waits for it to end: two runs would write the same namespace at
		// once, and a sync would overwrite what DR writes.
		p.StartTrigger, p.SyncNowValue = starter.SanitizeTrigger(value), value
	}
	p.Resumes = p.StartTrigger != "" || (p.EnsureSchedule != nil && !p.EnsureSchedule.Paused && (obs.Schedule == nil || obs.Schedule.Paused))
	p.planOperations(r)
	p.summarize(now)
	p.RequeueAfter = requeueAfter(&p, now, poll)
	return p
}

// desiredSchedule is the Schedule the mode asks for, or nil, with the
// problem that stops a wanted Schedule from existing.
func desiredSchedule(spec *drv1.ReplicationSpec, defaultSchedule drv1.Cron) (*starter.ScheduleSpec, *condition) {
	switch spec.ReplicationMode {
	case drv1.ModeScheduled:
		cron := spec.Schedule
		if cron == "" {
			cron = defaultSchedule
		}
		if cron == "" {
			return nil, &condition{ReasonNoSchedule, "Scheduled mode needs a cron schedule: set spec.schedule, or defaultSchedule on the source RemoteCluster"}
		}
		return &starter.ScheduleSpec{Cron: string(cron), Paused: spec.Paused, RunTimeout: scheduledRunTimeout(spec)}, nil
	case drv1.ModeContinuous:
		every, err := time.ParseDuration(string(spec.Continuous.BackgroundSyncInterval))
		if err != nil || every <= 0 {
			return nil, &condition{ReasonInvalidSpec, fmt.Sprintf("continuous.backgroundSyncInterval %q is not a positive duration such as 15m", spec.Continuous.BackgroundSyncInterval)}
		}
		return &starter.ScheduleSpec{Every: every, Paused: spec.Paused}, nil
	}
	return nil, nil
}

// scheduledRunTimeout bounds each scheduled run by the Replication's
// per-PVC transfer timeout (starter.ScheduledRunTimeout); an unset or
// unreadable one leaves the default.
func scheduledRunTimeout(spec *drv1.ReplicationSpec) time.Duration {
	var transfer time.Duration
	if pc := spec.PVCConfig; pc != nil && pc.DataSyncConfig != nil {
		transfer, _ = time.ParseDuration(string(pc.DataSyncConfig.Timeout))
	}
	return starter.ScheduledRunTimeout(transfer)
}

// recordFinished folds a closed run into the status, once: a run already
// recorded as lastRun is not counted again.
func recordFinished(st *drv1.ReplicationStatus, run *starter.RunState) []replicationEvent {
	reported := reportedPVCs(*st, run)
	st.CurrentRun, st.SyncProgress = nil, nil
	if last := st.LastRun; last != nil && last.WorkflowID == run.WorkflowID && last.RunID == run.RunID {
		return nil
	}
	// The PVC syncs' own Events come first, and only those the polls did not report.
	events := closedRunPVCEvents(reported, run)
	decisions := recordDecisions(st, run)
	st.LastRun = runRef(run)
	st.LastRun.CloseTime = timeOf(run.Close)
	st.LastRun.Result = run.Status
	if st.SyncStats == nil {
		st.SyncStats = &drv1.SyncStats{}
	}
	st.SyncStats.LastSyncDuration = run.Close.Sub(run.Start).Round(time.Millisecond).String()
	if run.Result != nil {
		recordRestorePoints(st, run.Result)
		st.SyncStats.TotalResources = int32(len(run.Result.PVCs))
		if res := run.Result.Resources; res != nil {
			st.SyncStats.TotalResources += int32(res.Total)
			recordResources(st, res, timeOf(run.Close))
		}
	}
	if run.Status == starter.StatusCompleted {
		st.SyncStats.SuccessfulSyncs++
		st.SyncStats.ConsecutiveFailures = 0
		st.LastSyncTime = timeOf(run.Close)
		st.LastSyncStartTime = timeOf(run.Start)
		st.LastError = nil
		events = append(events, replicationEvent{corev1.EventTypeNormal, EventSyncSucceeded, fmt.Sprintf("run %s completed in %s", run.WorkflowID, st.SyncStats.LastSyncDuration)})
		return append(events, decisions...)
	}
	st.SyncStats.FailedSyncs++
	st.SyncStats.ConsecutiveFailures++
	message := run.Error
	if message == "" {
		message = "the run ended " + run.Status
	}
	st.LastError = &drv1.SyncError{Message: message, Category: errorCategory(run.ErrorType), Time: *timeOf(run.Close)}
	reason := EventSyncFailed
	if run.Status == starter.StatusCanceled {
		reason = EventSyncCanceled
	}
	events = append(events, replicationEvent{corev1.EventTypeWarning, reason, fmt.Sprintf("run %s %s: %s", run.WorkflowID, strings.ToLower(run.Status), message)})
	return append(events, decisions...)
}

// errorCategory maps a run's error type onto the status's categories.
func errorCategory(errType string) string {
	switch errType {
	case contract.ErrTypeSyncFailed:
		return "DataSync"
	case contract.ErrTypeInvalidSpec, contract.ErrTypeStorageClassNotFound:
		return "Validation"
	case "":
		return ""
	}
	return errType
}

// recordStarted puts a run StartRun returned into the plan's status. A
// run that was not started anew and is already lastRun is done: only the
// sync-now value is marked handled.
func (p *replicationPlan) recordStarted(run starter.StartedRun, now time.Time) {
	st := &p.Status
	st.SyncNowHandled = p.SyncNowValue
	if last := st.LastRun; !run.Started && last != nil && last.WorkflowID == run.WorkflowID && last.RunID == run.RunID {
		return
	}
	st.CurrentRun = &drv1.WorkflowRef{WorkflowID: run.WorkflowID, RunID: run.RunID, StartTime: timeOf(now)}
	st.SyncProgress = &drv1.SyncProgress{CurrentOperation: "Starting", Summary: "Starting"}
	if run.Started {
		p.Events = append(p.Events, replicationEvent{corev1.EventTypeNormal, EventSyncStarted,
			fmt.Sprintf("started run %s for %s=%s", run.WorkflowID, drv1.AnnotationSyncNow, p.SyncNowValue)})
	}
	p.summarize(now)
}

// summarize sets phase and the Synced condition from the rest of the status.
func (p *replicationPlan) summarize(now time.Time) {
	st := &p.Status
	last := metav1.ConditionUnknown
	if st.LastRun != nil {
		last = metav1.ConditionFalse
		if st.LastRun.Result == starter.StatusCompleted {
			last = metav1.ConditionTrue
		}
	}
	c := metav1.Condition{Type: drv1.ConditionSynced, ObservedGeneration: p.generation, LastTransitionTime: *timeOf(now)}
	switch {
	case p.failedOver != nil:
		c.Status, c.Reason, c.Message = p.failedOver.Status, p.failedOver.Reason, p.failedOver.Message
	case p.problem != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, p.problem.Reason, p.problem.Message
	case st.CurrentRun != nil:
		c.Status, c.Reason, c.Message = last, ReasonRunning, "run "+st.CurrentRun.WorkflowID+" is syncing"
	case st.LastRun == nil:
		c.Status, c.Reason, c.Message = last, ReasonPending, pendingMessage(p.mode)
	case last == metav1.ConditionTrue:
		c.Status, c.Reason, c.Message = last, ReasonSyncSucceeded, "run "+st.LastRun.WorkflowID+" completed"
	default:
		c.Status, c.Reason, c.Message = last, failedReason(st.LastError), "run "+st.LastRun.WorkflowID+" ended "+st.LastRun.Result
		if st.LastError != nil {
			c.Message += ": " + st.LastError.Message
		}
	}
	c.Message += keptCopies(st.ResourceStatus)
	meta.SetStatusCondition(&st.Conditions, c)
	switch {
	case p.failedOver != nil && p.failedOver.Reason == ReasonFailedOver:
		st.Phase = drv1.PhaseFailedOver
	case st.CurrentRun != nil || p.watching:
		st.Phase = drv1.PhaseRunning
	case p.problem != nil && p.problem.Reason == ReasonInvalidReference:
		st.Phase = drv1.PhaseFailed
	case last == metav1.ConditionTrue:
		st.Phase = drv1.PhaseCompleted
	case last == metav1.ConditionFalse:
		st.Phase = drv1.PhaseFailed
	default:
		st.Phase = drv1.PhasePending
	}
}

func pendingMessage(mode drv1.ReplicationMode) string {
	switch mode {
	case drv1.ModeManual:
		return "no sync yet: set the annotation " + drv1.AnnotationSyncNow + " to a new value to start one"
	case drv1.ModeContinuous:
		return "waiting for the first continuous sync"
	}
	return "waiting for the first scheduled sync"
}

// requeueAfter polls Temporal while a run is open, wakes up just after the
// next scheduled run starts, and re-checks broken references.
func requeueAfter(p *replicationPlan, now time.Time, poll time.Duration) time.Duration {
	switch {
	case p.Status.CurrentRun != nil || p.StartTrigger != "":
		return poll
	case p.EnsureSchedule != nil:
		// Continuous schedules start a run right away; pick it up.
		return poll
	case p.problem != nil && p.problem.Reason == ReasonInvalidReference:
		return invalidReferenceRetry
	case p.Status.NextSyncTime != nil:
		wait := p.Status.NextSyncTime.Sub(now) + time.Second
		return min(max(wait, poll), maxScheduledWait)
	}
	return 0
}

// runRef is a run as the status shows it; times are whole seconds, as the
// API server stores them, so an unchanged run compares equal.
func runRef(run *starter.RunState) *drv1.WorkflowRef {
	return &drv1.WorkflowRef{WorkflowID: run.WorkflowID, RunID: run.RunID, StartTime: timeOf(run.Start)}
}

// scheduledStart is when the Schedule started run, from its recent
// actions, or nil. A run the status does not follow yet whose query went
// unanswered (the run is busy) has no start of its own: RunState's busy
// path only has the IDs. The status follows every run the controller
// starts itself from the start (recordStarted gives it the start time), so
// such a run is one the Schedule started, found in the same recent actions
// observe picked it from: its start is already in hand, and no Temporal
// call is added to the poll (RunState is the one call per running
// Replication). The run's own answer later replaces it with the workflow's
// start time, which is the same moment give or take the time the Schedule
// (or the continuous workflow) took to start the run.
func scheduledStart(sched *starter.ScheduleState, run *starter.RunState) *metav1.Time {
	if sched == nil {
		return nil
	}
	for _, s := range sched.Recent {
		if s.WorkflowID == run.WorkflowID && (run.RunID == "" || s.RunID == run.RunID) {
			return timeOf(s.Started)
		}
	}
	return nil
}

func timeOf(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}
