package starter

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/dr-syncer/dr-syncer/contract"
)

// ScheduleID is the one Temporal Schedule of a Replication.
func ScheduleID(ref contract.ObjectRef) string { return contract.ScheduleID(ref) }

// ScheduleSpec is when a Replication's runs start: on a cron expression
// (Scheduled mode, a Temporal Schedule) or every interval (Continuous mode,
// the long-running ContinuousReplication workflow of continuous.go, never a
// Schedule). Exactly one of Cron and Every is set.
type ScheduleSpec struct {
	Cron   string
	Every  time.Duration
	Paused bool
	// RunTimeout bounds each run a cron Schedule starts (the action's
	// workflow execution timeout); zero means DefaultScheduledRunTimeout.
	// The overlap policy skips a run while the previous one is open, so
	// without it one stuck run would make the Schedule skip every later run.
	RunTimeout time.Duration
}

// DefaultScheduledRunTimeout is the least time a scheduled run gets: a
// day, long enough for a first copy of large volumes and their retries.
const DefaultScheduledRunTimeout = 24 * time.Hour

// ScheduledRunTimeout derives a scheduled run's timeout from the time one
// PVC's transfer may take (dataSyncConfig.timeout): four of them (a
// transfer and its retries), and never less than a day.
func ScheduledRunTimeout(transferTimeout time.Duration) time.Duration {
	return max(DefaultScheduledRunTimeout, 4*transferTimeout)
}

func (s ScheduleSpec) runTimeout() time.Duration {
	if s.RunTimeout > 0 {
		return s.RunTimeout
	}
	return DefaultScheduledRunTimeout
}

// note describes the spec in the Schedule's note, or in the continuous
// workflow's settings. It doubles as the record of what the controller
// applied: the server rewrites cron expressions into calendar specs, so
// comparing the note is the reliable way to see a change.
func (s ScheduleSpec) note() string {
	if s.Cron != "" {
		return fmt.Sprintf("dr-syncer: cron %q", s.Cron)
	}
	return contract.ContinuousNote(s.Every)
}

// ScheduleState is a Replication's Schedule as Temporal has it.
type ScheduleState struct {
	ID     string
	Note   string
	Paused bool
	// NextRuns are the next action times; empty while paused.
	NextRuns []time.Time
	// Recent are the runs the schedule started, oldest first.
	Recent []ScheduledRun
	// Running are the runs the schedule started that are still open.
	Running []ScheduledRun
	// RunTimeout is the started runs' execution timeout; zero for none
	// (Schedules made before runs had one) and for a continuous workflow.
	RunTimeout time.Duration
	// Summary is the StaticSummary the Schedule gives its runs (the Web
	// UI's one line); "" for a continuous workflow and older Schedules.
	Summary string
}

// ScheduledRun is one run a Schedule started.
type ScheduledRun struct {
	WorkflowID string
	RunID      string
	Started    time.Time
}

// Matches reports whether the Schedule already is what spec asks for.
func (st *ScheduleState) Matches(spec ScheduleSpec) bool {
	if st == nil || st.Note != spec.note() || st.Paused != spec.Paused {
		return false
	}
	// A cron Schedule also carries the run timeout; one made before runs
	// had one is updated to have it.
	return spec.Cron == "" || st.RunTimeout == spec.runTimeout()
}

// DescribeSchedule returns the Replication's Schedule (for a Continuous
// Replication: its continuous workflow, in the same shape), or nil when it
// has none.
func (s *Starter) DescribeSchedule(ctx context.Context, ref contract.ObjectRef) (*ScheduleState, error) {
	id := ScheduleID(ref)
	d, err := s.Client.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return s.describeContinuous(ctx, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("describe schedule %s: %w", id, err)
	}
	st := &ScheduleState{ID: id}
	if state := d.Schedule.State; state != nil {
		st.Note, st.Paused = state.Note, state.Paused
	}
	if !st.Paused {
		st.NextRuns = d.Info.NextActionTimes
	}
	if action, ok := d.Schedule.Action.(*client.ScheduleWorkflowAction); ok {
		st.RunTimeout = action.WorkflowExecutionTimeout
		st.Summary = action.StaticSummary
	}
	for _, a := range d.Info.RecentActions {
		if a.StartWorkflowResult == nil {
			continue
		}
		st.Recent = append(st.Recent, ScheduledRun{
			WorkflowID: a.StartWorkflowResult.WorkflowID,
			RunID:      a.StartWorkflowResult.FirstExecutionRunID,
			Started:    a.ActualTime,
		})
	}
	sort.Slice(st.Recent, func(i, j int) bool { return st.Recent[i].Started.Before(st.Recent[j].Started) })
	for _, w := range d.Info.RunningWorkflows {
		st.Running = append(st.Running, ScheduledRun{WorkflowID: w.WorkflowID, RunID: w.FirstExecutionRunID})
	}
	return st, nil
}

// NextRunTime is when the Replication's Schedule starts its next run; zero
// when it has no Schedule or the Schedule is paused.
func (s *Starter) NextRunTime(ctx context.Context, ref contract.ObjectRef) (time.Time, error) {
	st, err := s.DescribeSchedule(ctx, ref)
	if err != nil || st == nil || len(st.NextRuns) == 0 {
		return time.Time{}, err
	}
	return st.NextRuns[0], nil
}

// EnsureSchedule creates the Replication's Schedule, or updates it when it
// differs from spec. Overlap policy skip: a run still going when the next one
// is due means the next one is skipped, never queued behind it; the run
// timeout (spec.RunTimeout) ends a run that is stuck, so the skipping ends.
func (s *Starter) EnsureSchedule(ctx context.Context, ref contract.ObjectRef, spec ScheduleSpec) error {
	if (spec.Cron == "") == (spec.Every <= 0) {
		return fmt.Errorf("schedule of %s needs exactly one of a cron expression and an interval", ref)
	}
	if spec.Every > 0 {
		// Continuous: one long-running workflow, and no Schedule.
		if err := s.deleteCronSchedule(ctx, ref); err != nil {
			return err
		}
		return s.ensureContinuous(ctx, ref, spec)
	}
	// Scheduled: a cron Schedule, and no continuous workflow.
	if err := s.stopContinuous(ctx, ref); err != nil {
		return err
	}
	current, err := s.DescribeSchedule(ctx, ref)
	if err != nil {
		return err
	}
	meta := s.replicationMeta(ctx, "Sync", ref, contract.TriggerScheduled)
	// A Schedule made before runs had a summary, or whose route changed,
	// is updated like one whose timing changed; a route that is unknown
	// for a moment (the controller's cache) does not take one away.
	summaryStale := current != nil && current.Summary != meta.Summary && (current.Summary == "" || meta.Route != "")
	if current.Matches(spec) && !summaryStale {
		return nil
	}
	// Temporal appends the scheduled time to the workflow ID, so each run
	// still has its own ID.
	action := &client.ScheduleWorkflowAction{
		ID:                    contract.ReplicationWorkflowID(ref.Namespace, ref.Name, contract.TriggerScheduled),
		Workflow:              contract.ReplicationName,
		Args:                  []any{contract.ReplicationInput{Replication: ref, Trigger: contract.TriggerScheduled}},
		TaskQueue:             s.TaskQueue,
		TypedSearchAttributes: replicationAttributes(ref),
		// A stuck run ends (timed out) in time for later runs to start.
		WorkflowExecutionTimeout: spec.runTimeout(),
		StaticSummary:            meta.Summary,
		StaticDetails:            meta.Details,
	}
	id := ScheduleID(ref)
	if current == nil {
		_, err := s.Client.ScheduleClient().Create(ctx, client.ScheduleOptions{
			ID:      id,
			Spec:    client.ScheduleSpec{CronExpressions: []string{spec.Cron}},
			Action:  action,
			Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
			Paused:  spec.Paused,
			Note:    spec.note(),
		})
		if err != nil {
			return fmt.Errorf("create schedule %s: %w", id, err)
		}
		return nil
	}
	err = s.Client.ScheduleClient().GetHandle(ctx, id).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			sched := in.Description.Schedule
			sched.Spec = &client.ScheduleSpec{CronExpressions: []string{spec.Cron}}
			sched.Action = action
			sched.Policy = &client.SchedulePolicies{Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP}
			sched.State = &client.ScheduleState{Paused: spec.Paused, Note: spec.note()}
			return &client.ScheduleUpdate{Schedule: &sched}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", id, err)
	}
	return nil
}

// DeleteSchedule removes the Replication's Schedule, whose started runs keep
// running, and stops its continuous workflow. Neither existing is not an error.
func (s *Starter) DeleteSchedule(ctx context.Context, ref contract.ObjectRef) error {
	if err := s.stopContinuous(ctx, ref); err != nil {
		return err
	}
	return s.deleteCronSchedule(ctx, ref)
}

func (s *Starter) deleteCronSchedule(ctx context.Context, ref contract.ObjectRef) error {
	id := ScheduleID(ref)
	err := s.Client.ScheduleClient().GetHandle(ctx, id).Delete(ctx)
	var notFound *serviceerror.NotFound
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("delete schedule %s: %w", id, err)
	}
	return nil
}
