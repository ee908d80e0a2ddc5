package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
)

// ContinuousReplicationName is the registered type name of ContinuousReplication.
const ContinuousReplicationName = "ContinuousReplication"

// Signals of a continuous replication.
const (
	// SignalChange says something changed in the source namespace (payload: what).
	SignalChange = "change"
	// SignalSettings replaces the interval and paused state (payload: ContinuousSettings).
	SignalSettings = "settings"
)

// ContinuousReplicationWorkflowID is the one long-running workflow of a
// Continuous Replication.
func ContinuousReplicationWorkflowID(namespace, name string) string {
	return ReplicationWorkflowID(namespace, name, "continuous")
}

// ContinuousSettings are what a user can change on a running continuous replication.
type ContinuousSettings struct {
	// Every is the background sync interval.
	Every  time.Duration `json:"every"`
	Paused bool          `json:"paused"`
	// Note records the applied settings for the controller to compare.
	Note string `json:"note"`
}

// ContinuousRun is one sync the continuous workflow started.
type ContinuousRun struct {
	WorkflowID string    `json:"workflowID"`
	RunID      string    `json:"runID"`
	Started    time.Time `json:"started"`
	// Trigger is "interval" or the change that started it.
	Trigger string `json:"trigger"`
}

// ContinuousState is the workflow's state: its input after continue-as-new,
// and the answer to its progress query.
type ContinuousState struct {
	Replication activities.ObjectRef `json:"replication"`
	Settings    ContinuousSettings   `json:"settings"`
	// Recent are the last syncs, oldest first.
	Recent []ContinuousRun `json:"recent,omitempty"`
	// Running is the sync in progress, if any.
	Running *ContinuousRun `json:"running,omitempty"`
	// NextRun is when the next background sync starts; zero while paused.
	NextRun time.Time `json:"nextRun"`
	// PendingChange is a change seen since the last sync started.
	PendingChange string `json:"pendingChange,omitempty"`
}

// Tuning of the continuous loop.
const (
	// changeQuiet coalesces a burst of changes (a rollout touches many
	// objects) into one sync, while still reacting within seconds.
	changeQuiet = 3 * time.Second
	// continuousSyncsPerRun bounds one run's history before continue-as-new.
	continuousSyncsPerRun = 50
	continuousRecent      = 5
)

// ContinuousReplication syncs a Replication, then waits for its interval or
// a change signal from the controller's watch, and again; it continues as
// new before its history grows large.
func ContinuousReplication(ctx workflow.Context, state ContinuousState) error {
	if err := workflow.SetQueryHandler(ctx, ProgressQuery, func() (ContinuousState, error) { return state, nil }); err != nil {
		return err
	}
	changes := workflow.GetSignalChannel(ctx, SignalChange)
	settings := workflow.GetSignalChannel(ctx, SignalSettings)
	for synced := 0; synced < continuousSyncsPerRun && !workflow.GetInfo(ctx).GetContinueAsNewSuggested(); {
		if !state.Settings.Paused {
			trigger := "interval"
			if state.PendingChange != "" {
				trigger = state.PendingChange
			}
			state.PendingChange = ""
			syncOnce(ctx, &state, trigger)
			synced++
		}
		if err := waitForNextSync(ctx, &state, changes, settings); err != nil {
			return err
		}
	}
	// Signals that arrived meanwhile travel into the next run.
	for changes.ReceiveAsync(&state.PendingChange) {
	}
	for settings.ReceiveAsync(&state.Settings) {
	}
	state.Running = nil
	return workflow.NewContinueAsNewError(ctx, ContinuousReplicationName, state)
}

// syncOnce runs one Replication child; its outcome is the child's own run,
// which the controller mirrors into status like any other run.
func syncOnce(ctx workflow.Context, state *ContinuousState, trigger string) {
	now := workflow.Now(ctx).UTC()
	id := ReplicationWorkflowID(state.Replication.Namespace, state.Replication.Name, "continuous-"+now.Format("20060102T150405Z"))
	childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation:   true,
		TypedSearchAttributes: temporal.NewSearchAttributes(AttrReplication.ValueSet(state.Replication.String())),
	})
	future := workflow.ExecuteChildWorkflow(childCtx, ReplicationName, ReplicationInput{Replication: state.Replication, Trigger: "continuous"})
	var started workflow.Execution
	if err := future.GetChildWorkflowExecution().Get(ctx, &started); err != nil {
		workflow.GetLogger(ctx).Error("continuous sync did not start", "workflowID", id, "error", err)
		return
	}
	run := ContinuousRun{WorkflowID: started.ID, RunID: started.RunID, Started: now, Trigger: trigger}
	state.Running = &run
	state.Recent = append(state.Recent, run)
	if len(state.Recent) > continuousRecent {
		state.Recent = state.Recent[len(state.Recent)-continuousRecent:]
	}
	// A failed sync is recorded by its own run; the loop goes on.
	_ = future.Get(ctx, nil)
	state.Running = nil
}

// waitForNextSync waits for the interval, or for a change followed by a
// quiet period; settings signals apply at once.
func waitForNextSync(ctx workflow.Context, state *ContinuousState, changes, settings workflow.ReceiveChannel) error {
	for {
		state.NextRun = time.Time{}
		var timer workflow.Future
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		if !state.Settings.Paused && state.Settings.Every > 0 {
			wait := state.Settings.Every
			if state.PendingChange != "" {
				wait = changeQuiet
			}
			state.NextRun = workflow.Now(ctx).Add(wait).UTC()
			timer = workflow.NewTimer(timerCtx, wait)
		}
		fired := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(changes, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &state.PendingChange) })
		sel.AddReceive(settings, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &state.Settings) })
		if timer != nil {
			sel.AddFuture(timer, func(workflow.Future) { fired = true })
		}
		sel.Select(ctx)
		cancelTimer()
		if err := ctx.Err(); err != nil {
			return err
		}
		if fired {
			return nil
		}
	}
}

// ContinuousNote is the settings note the controller compares, in the same
// words as a Schedule's.
func ContinuousNote(every time.Duration) string { return fmt.Sprintf("dr-syncer: every %s", every) }
