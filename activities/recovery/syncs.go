package recovery

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	temporalclient "go.temporal.io/sdk/client"
	"k8s.io/apimachinery/pkg/types"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

// PauseNote is the note on a Schedule PauseSyncs paused.
const PauseNote = "paused by failover"

// SyncsPollInterval is how often WaitSyncsIdle looks at the open runs.
const SyncsPollInterval = 2 * time.Second

// queryTimeout bounds the continuous workflow's answer to the progress
// query; without it a stuck workflow task would hold the failover.
const queryTimeout = 10 * time.Second

// recoveryTriggers start the runs a failover, failback or drill runs
// itself: WaitSyncsIdle must not wait for those.
var recoveryTriggers = []string{"failover-", "failback-", "drill-"}

// PauseSyncs stops new sync runs at once, without waiting for the
// controller to see status.failover: it pauses the Replication's Schedule
// and its continuous workflow. It pauses whichever of the two exists,
// whatever t.Mode says, since a mode just changed can leave the old one
// running until the controller catches up; a Manual Replication has
// neither. Runs already open keep running (WaitSyncsIdle waits for them).
func (a *RecoveryActivities) PauseSyncs(ctx context.Context, t contract.RecoveryTarget) error {
	if err := a.pauseSchedule(ctx, t.Replication); err != nil {
		return err
	}
	return a.pauseContinuous(ctx, t.Replication)
}

// pauseSchedule pauses the Schedule unless it is already paused (by an
// earlier attempt, a person, or the controller): pausing again would only
// replace the note that says why.
func (a *RecoveryActivities) pauseSchedule(ctx context.Context, ref contract.ObjectRef) error {
	id := contract.ScheduleID(ref)
	h := a.Temporal.ScheduleClient().GetHandle(ctx, id)
	d, err := h.Describe(ctx)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("describe schedule %s: %w", id, err)
	}
	if d.Schedule.State != nil && d.Schedule.State.Paused {
		return nil
	}
	if err := h.Pause(ctx, temporalclient.SchedulePauseOptions{Note: PauseNote}); err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("pause schedule %s: %w", id, err)
	}
	return nil
}

// pauseContinuous hands the continuous workflow its settings with Paused
// set. The interval and note stay what the controller set, so the
// controller, which compares the note, sees nothing to undo; they are read
// from the workflow's progress query, or, when it does not answer, derived
// from the spec as the controller derives them.
func (a *RecoveryActivities) pauseContinuous(ctx context.Context, ref contract.ObjectRef) error {
	id := contract.ContinuousReplicationWorkflowID(ref.Namespace, ref.Name)
	d, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("describe %s: %w", id, err)
	}
	if d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return nil
	}
	settings, err := a.continuousSettings(ctx, id)
	if err != nil {
		if settings, err = a.specSettings(ctx, ref); err != nil {
			return err
		}
	}
	if settings.Paused {
		return nil
	}
	settings.Paused = true
	err = a.Temporal.SignalWorkflow(ctx, id, "", contract.SignalSettings, settings)
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("pause %s: %w", id, err)
	}
	return nil
}

// continuousSettings asks the running continuous workflow for its settings.
func (a *RecoveryActivities) continuousSettings(ctx context.Context, id string) (contract.ContinuousSettings, error) {
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	v, err := a.Temporal.QueryWorkflow(ctx, id, "", contract.ProgressQuery)
	if err != nil {
		return contract.ContinuousSettings{}, fmt.Errorf("query %s: %w", id, err)
	}
	var state contract.ContinuousState
	if err := v.Get(&state); err != nil {
		return contract.ContinuousSettings{}, fmt.Errorf("decode the state of %s: %w", id, err)
	}
	return state.Settings, nil
}

// specSettings are the settings the controller gives the continuous
// workflow of the Replication's spec (controller.desiredSchedule).
func (a *RecoveryActivities) specSettings(ctx context.Context, ref contract.ObjectRef) (contract.ContinuousSettings, error) {
	var r drv1.Replication
	if err := a.Control.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &r); err != nil {
		return contract.ContinuousSettings{}, fmt.Errorf("get Replication %s: %w", ref, err)
	}
	spec := r.Spec.DeepCopy()
	drv1.SetReplicationDefaults(spec)
	every, err := time.ParseDuration(string(spec.Continuous.BackgroundSyncInterval))
	if err != nil || every <= 0 {
		return contract.ContinuousSettings{}, fmt.Errorf("Replication %s: continuous.backgroundSyncInterval %q is not a positive duration", ref, spec.Continuous.BackgroundSyncInterval)
	}
	return contract.ContinuousSettings{Every: every, Note: contract.ContinuousNote(every)}, nil
}

// WaitSyncsIdle waits until no sync run of the Replication is open but
// those a recovery started itself, polling Temporal's visibility every
// SyncsPollInterval and heartbeating the runs it waits for. Visibility
// lags a run's start by moments; PauseSyncs has stopped new runs by then.
func (a *RecoveryActivities) WaitSyncsIdle(ctx context.Context, t contract.RecoveryTarget) error {
	query := openRunsQuery(t.Replication)
	for {
		open, err := a.openRuns(ctx, query)
		if err != nil {
			return err
		}
		waiting := syncsToWaitFor(open)
		if len(waiting) == 0 {
			return nil
		}
		activity.RecordHeartbeat(ctx, fmt.Sprintf("waiting for %d sync run(s) to end: %s", len(waiting), strings.Join(waiting, ", ")))
		select {
		case <-ctx.Done():
			return fmt.Errorf("sync runs %s still open: %w", strings.Join(waiting, ", "), ctx.Err())
		case <-time.After(SyncsPollInterval):
		}
	}
}

// CancelSyncs asks every open sync run of the Replication (not a recovery's
// own) to cancel: an unplanned failover does not wait for a run against a
// lost source to give up. Each run's PVC syncs then clean up as on any
// cancel. It returns the runs it asked.
func (a *RecoveryActivities) CancelSyncs(ctx context.Context, t contract.RecoveryTarget) ([]string, error) {
	open, err := a.openRuns(ctx, openRunsQuery(t.Replication))
	if err != nil {
		return nil, err
	}
	runs := syncsToWaitFor(open)
	for _, id := range runs {
		if err := a.Temporal.CancelWorkflow(ctx, id, ""); err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("cancel sync run %s: %w", id, err)
		}
	}
	return runs, nil
}

// openRunsQuery selects the open sync runs of a Replication in visibility.
func openRunsQuery(ref contract.ObjectRef) string {
	return fmt.Sprintf("WorkflowType = '%s' AND %s = '%s' AND ExecutionStatus = 'Running'",
		contract.ReplicationName, contract.AttrReplication.GetName(), ref.String())
}

// openRuns lists the workflow IDs query matches, every page of them.
func (a *RecoveryActivities) openRuns(ctx context.Context, query string) ([]string, error) {
	var ids []string
	var token []byte
	for {
		resp, err := a.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: query, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list open sync runs (%s): %w", query, err)
		}
		for _, e := range resp.GetExecutions() {
			ids = append(ids, e.GetExecution().GetWorkflowId())
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return ids, nil
		}
	}
}

// syncsToWaitFor are the runs that are not a recovery's own, sorted.
func syncsToWaitFor(open []string) []string {
	var out []string
	for _, id := range open {
		if !isRecoveryRun(id) {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// isRecoveryRun reports whether a Replication run's workflow ID ends in a
// trigger a failover, failback or drill uses (ReplicationWorkflowID's last part).
func isRecoveryRun(workflowID string) bool {
	trigger := workflowID[strings.LastIndex(workflowID, "/")+1:]
	for _, p := range recoveryTriggers {
		if strings.HasPrefix(trigger, p) {
			return true
		}
	}
	return false
}

// isNotFound reports a workflow or Schedule Temporal does not know (any more).
func isNotFound(err error) bool {
	var notFound *serviceerror.NotFound
	return errors.As(err, &notFound)
}
