package workflows

import (
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/contract"
)

// Tuning of the continuous loop.
const (
	// changeQuiet coalesces a burst of changes (a rollout touches many
	// objects) into one sync, while still reacting within seconds.
	changeQuiet = 3 * time.Second
	// changeMaxDelay bounds how long a change waits for the namespace to go
	// quiet: one that never does (a CronJob every few seconds, an operator
	// rewriting a ConfigMap) still syncs a minute after its first pending
	// change. Twenty quiet periods still end a rollout's burst in one sync.
	// It is not derived from the interval, which is the background sync for
	// what no watch sees (an hour by default): a shorter interval bounds the
	// wait by itself, since a sync is due at whichever comes first.
	changeMaxDelay = time.Minute
	// continuousSyncsPerRun bounds one run's history before continue-as-new.
	continuousSyncsPerRun = 50
	// continuousSignalsPerRun bounds the signals one run takes in while it
	// waits: each adds a signal event and mostly a workflow task (about four
	// events), so a namespace that never goes quiet, or a paused replication
	// whose namespace keeps changing, continues as new after about 2,000
	// events (at one signal a second from the watch, every 8 minutes).
	continuousSignalsPerRun = 500
	continuousRecent        = 5
)

// changeContinuousMaxDelay is the GetVersion change ID of the waiting with
// a bounded delay (changeMaxDelay) that continues as new by itself
// (continuousWait); runs started before it keep the unbounded wait
// (waitForNextSync) until they continue as new.
const changeContinuousMaxDelay = "2026-12-04-continuous-max-delay"

// ContinuousReplication syncs a Replication, then waits for its interval or
// a change signal from the controller's watch, and again. A change syncs
// once the namespace has been quiet for changeQuiet, or changeMaxDelay after
// it if it never goes quiet. It continues as new before its history grows
// large, also while it waits, carrying what is pending into the next run.
func ContinuousReplication(ctx workflow.Context, state contract.ContinuousState) error {
	if err := workflow.SetQueryHandler(ctx, contract.ProgressQuery, func() (contract.ContinuousState, error) { return state, nil }); err != nil {
		return err
	}
	changes := workflow.GetSignalChannel(ctx, contract.SignalChange)
	settings := workflow.GetSignalChannel(ctx, contract.SignalSettings)
	if !hasChange(ctx, changeContinuousMaxDelay) {
		return continuousUnbounded(ctx, &state, changes, settings)
	}
	w := &continuousWait{state: &state, changes: changes, settings: settings}
	if state.PendingChange != "" {
		// A change carried over from the last run starts a new quiet period.
		w.lastChange = workflow.Now(ctx)
	}
	for synced := 0; synced < continuousSyncsPerRun; synced++ {
		due, err := w.untilDue(ctx)
		if err != nil {
			return err
		}
		if !due {
			break
		}
		syncOnce(ctx, &state, takeTrigger(&state))
		state.LastSync = workflow.Now(ctx).UTC()
	}
	return continueAsNew(ctx, &state, changes, settings, func(what string) { w.noteChange(workflow.Now(ctx), what) })
}

// continuousUnbounded is the loop of runs started before
// changeContinuousMaxDelay: it syncs at once, and a stream of changes
// postpones the next sync for as long as it lasts.
func continuousUnbounded(ctx workflow.Context, state *contract.ContinuousState, changes, settings workflow.ReceiveChannel) error {
	for synced := 0; synced < continuousSyncsPerRun && !workflow.GetInfo(ctx).GetContinueAsNewSuggested(); {
		if !state.Settings.Paused {
			syncOnce(ctx, state, takeTrigger(state))
			synced++
		}
		if err := waitForNextSync(ctx, state, changes, settings); err != nil {
			return err
		}
	}
	return continueAsNew(ctx, state, changes, settings, func(what string) { state.PendingChange = what })
}

// takeTrigger returns what starts the sync about to run, the pending change
// or the interval, and clears the pending change.
func takeTrigger(state *contract.ContinuousState) string {
	trigger := "interval"
	if state.PendingChange != "" {
		trigger = state.PendingChange
	}
	state.PendingChange, state.PendingSince = "", time.Time{}
	return trigger
}

// continueAsNew hands the state to the next run, with the signals that
// arrived meanwhile: noteChange takes each change.
func continueAsNew(ctx workflow.Context, state *contract.ContinuousState, changes, settings workflow.ReceiveChannel, noteChange func(string)) error {
	var what string
	for changes.ReceiveAsync(&what) {
		noteChange(what)
	}
	for settings.ReceiveAsync(&state.Settings) {
	}
	state.Running = nil
	return workflow.NewContinueAsNewError(ctx, contract.ContinuousReplicationName, *state)
}

// syncOnce runs one Replication child; its outcome is the child's own run,
// which the controller mirrors into status like any other run.
func syncOnce(ctx workflow.Context, state *contract.ContinuousState, trigger string) {
	now := workflow.Now(ctx).UTC()
	id := contract.ReplicationWorkflowID(state.Replication.Namespace, state.Replication.Name, "continuous-"+now.Format("20060102T150405Z"))
	childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation:   true,
		TypedSearchAttributes: temporal.NewSearchAttributes(contract.AttrReplication.ValueSet(state.Replication.String())),
		StaticSummary:         "Sync " + state.Replication.String() + " (continuous)",
		StaticDetails:         fmt.Sprintf("**Replication:** %s\n\n**Trigger:** continuous (%s)", state.Replication, workflow.GetInfo(ctx).WorkflowExecution.ID),
	})
	future := workflow.ExecuteChildWorkflow(childCtx, contract.ReplicationName, contract.ReplicationInput{Replication: state.Replication, Trigger: contract.TriggerContinuous})
	var started workflow.Execution
	if err := future.GetChildWorkflowExecution().Get(ctx, &started); err != nil {
		workflow.GetLogger(ctx).Error("continuous sync did not start", "workflowID", id, "error", err)
		return
	}
	run := contract.ContinuousRun{WorkflowID: started.ID, RunID: started.RunID, Started: now, Trigger: trigger}
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
// quiet period; settings signals apply at once. Only runs started before
// changeContinuousMaxDelay wait this way.
func waitForNextSync(ctx workflow.Context, state *contract.ContinuousState, changes, settings workflow.ReceiveChannel) error {
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
			timer = newTimer(timerCtx, wait, "wait for the next sync of "+state.Replication.String())
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

// continuousWait is how a run since changeContinuousMaxDelay waits between
// syncs.
type continuousWait struct {
	state             *contract.ContinuousState
	changes, settings workflow.ReceiveChannel
	// signals counts the signals this run took in while waiting.
	signals int
	// lastChange starts the quiet period.
	lastChange time.Time
}

func (w *continuousWait) noteChange(now time.Time, what string) {
	w.lastChange = now
	w.state.PendingChange = what
	if w.state.PendingSince.IsZero() {
		w.state.PendingSince = now.UTC()
	}
}

// untilDue waits until a sync is due and returns true, or returns false
// when the run should continue as new first: after continuousSignalsPerRun
// signals, or when the server suggests it. Settings apply at once. One timer
// runs at a time, for the earliest due time; a change that moves the quiet
// period on leaves it be, and when it fires it is set again for the rest,
// so a stream of changes costs a timer per quiet period, not per change.
func (w *continuousWait) untilDue(ctx workflow.Context) (bool, error) {
	var (
		timer   workflow.Future
		timerAt time.Time
		cancel  = func() {}
	)
	defer func() { cancel() }()
	for {
		if err := ctx.Err(); err != nil {
			return false, err
		}
		// Signals delivered meanwhile (during a sync) count before a timer
		// is set, so none is set only to be cancelled at once.
		w.take(ctx)
		// The next run takes over what is due, so this comes first.
		if w.signals >= continuousSignalsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return false, nil
		}
		now := workflow.Now(ctx)
		due := nextSync(*w.state, w.lastChange, now)
		w.state.NextRun = due.UTC()
		if !due.IsZero() && !due.After(now) {
			return true, nil
		}
		if due.IsZero() || timer == nil || due.Before(timerAt) {
			cancel()
			timer, cancel = nil, func() {}
			if !due.IsZero() {
				var timerCtx workflow.Context
				timerCtx, cancel = workflow.WithCancel(ctx)
				timer, timerAt = newTimer(timerCtx, due.Sub(now), "wait for the next sync"), due
			}
		}
		// Wait for a signal (take receives it), the timer, or cancellation:
		// while paused no timer would end the wait.
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(w.changes, func(workflow.ReceiveChannel, bool) {})
		sel.AddReceive(w.settings, func(workflow.ReceiveChannel, bool) {})
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		if timer != nil {
			sel.AddFuture(timer, func(workflow.Future) { timer = nil })
		}
		sel.Select(ctx)
	}
}

// take receives every signal delivered so far.
func (w *continuousWait) take(ctx workflow.Context) {
	var what string
	for w.changes.ReceiveAsync(&what) {
		w.signals++
		w.noteChange(workflow.Now(ctx), what)
	}
	for w.settings.ReceiveAsync(&w.state.Settings) {
		w.signals++
	}
}

// nextSync is when the next sync is due, zero while paused: the interval
// after the last sync (now, before the first), or with a change pending, the
// end of its quiet period but no later than changeMaxDelay after the first
// pending change, whichever comes first.
func nextSync(state contract.ContinuousState, lastChange, now time.Time) time.Time {
	if state.Settings.Paused {
		return time.Time{}
	}
	var due time.Time
	switch {
	case state.LastSync.IsZero():
		return now
	case state.Settings.Every > 0:
		due = state.LastSync.Add(state.Settings.Every)
	}
	if state.PendingChange != "" {
		change := lastChange.Add(changeQuiet)
		if bound := state.PendingSince.Add(changeMaxDelay); bound.Before(change) {
			change = bound
		}
		if due.IsZero() || change.Before(due) {
			due = change
		}
	}
	return due
}
