package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

// semaphoreIdle is how long an unused semaphore stays open; the next
// acquire starts it again.
const semaphoreIdle = 10 * time.Minute

// semaphoreAudit is how often a full semaphore checks that its holders still
// run, so a terminated sync cannot keep its permit forever.
const semaphoreAudit = time.Minute

// semaphoreSignalsPerRun bounds the history of one run before continue-as-new.
const semaphoreSignalsPerRun = 500

// ClusterSemaphore hands out at most Limit permits, first come first served.
func ClusterSemaphore(ctx workflow.Context, state contract.SemaphoreState) error {
	if err := workflow.SetQueryHandler(ctx, contract.ProgressQuery, func() (contract.SemaphoreState, error) { return state, nil }); err != nil {
		return err
	}
	acquire := workflow.GetSignalChannel(ctx, contract.SignalAcquire)
	release := workflow.GetSignalChannel(ctx, contract.SignalRelease)
	// Semaphores started before the drain replay without it.
	drain := hasChange(ctx, changeSemaphoreDrain)
	grant := func() {
		for len(state.Holders) < max(state.Limit, 1) && len(state.Waiting) > 0 {
			next := state.Waiting[0]
			state.Waiting = state.Waiting[1:]
			state.Holders = append(state.Holders, next)
			// A holder that is gone by now is found by the next audit.
			grantTo(ctx, next)
		}
	}
	onAcquire := func(req contract.PermitRequest) {
		if !holds(state.Holders, req.WorkflowID) && !holds(state.Waiting, req.WorkflowID) {
			state.Waiting = append(state.Waiting, req)
		} else if holds(state.Holders, req.WorkflowID) {
			// A retried acquire of a holder: grant again, it may have missed the first.
			grantTo(ctx, req)
		}
	}
	onRelease := func(id string) {
		state.Holders = without(state.Holders, id)
		state.Waiting = without(state.Waiting, id)
	}
	auditCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var permits *pvcdata.PermitActivities
	gauges := newPermitGauges(ctx)
	signals := 0
	for signals < semaphoreSignalsPerRun {
		grant()
		// Every change comes back here; a busy semaphore at least every audit.
		gauges.show(ctx, state)
		idle := len(state.Holders) == 0 && len(state.Waiting) == 0
		wait := semaphoreAudit
		if idle {
			wait = semaphoreIdle
		}
		timerCtx, cancelTimer := workflow.WithCancel(ctx)
		timedOut := false
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(acquire, func(c workflow.ReceiveChannel, _ bool) {
			var req contract.PermitRequest
			c.Receive(ctx, &req)
			signals++
			onAcquire(req)
		})
		sel.AddReceive(release, func(c workflow.ReceiveChannel, _ bool) {
			var id string
			c.Receive(ctx, &id)
			signals++
			onRelease(id)
		})
		sel.AddFuture(workflow.NewTimer(timerCtx, wait), func(workflow.Future) { timedOut = true })
		sel.Select(ctx)
		cancelTimer()
		if !timedOut {
			continue
		}
		if idle {
			// Drain what arrived meanwhile; an empty semaphore may close.
			if acquire.Len() == 0 && release.Len() == 0 {
				return nil
			}
			continue
		}
		var open []string
		if err := workflow.ExecuteActivity(auditCtx, permits.OpenWorkflows, holderIDs(state.Holders)).Get(ctx, &open); err == nil {
			for _, h := range state.Holders {
				if !contains(open, h.Holder()) {
					state.Holders = without(state.Holders, h.WorkflowID)
				}
			}
		}
	}
	if drain {
		drainSignals(ctx, acquire, release, onAcquire, onRelease)
	}
	// The last signals changed the state; the next run shows it again once
	// it has granted.
	gauges.show(ctx, state)
	return workflow.NewContinueAsNewError(ctx, contract.ClusterSemaphoreName, state)
}

// changeSemaphoreDrain is the GetVersion change ID of draining the signal
// channels into the carried state before continue-as-new: a signal
// delivered to this run but not yet received would otherwise be lost with
// it (a lost acquire leaves its sync waiting, a lost release leaks a permit).
const changeSemaphoreDrain = "2026-12-05-semaphore-drain-before-continue-as-new"

// drainSignals applies every signal already delivered to this run. Acquires
// go first: a sync cancelled while it waited sends its acquire, then its
// release, and the release must win. Re-granting a holder sends a signal,
// and more may arrive while it goes out, so it drains until both are empty.
func drainSignals(ctx workflow.Context, acquire, release workflow.ReceiveChannel,
	onAcquire func(contract.PermitRequest), onRelease func(string)) {
	for {
		var req contract.PermitRequest
		var id string
		switch {
		case acquire.ReceiveAsync(&req):
			onAcquire(req)
		case release.ReceiveAsync(&id):
			onRelease(id)
		default:
			return
		}
	}
}

func holds(list []contract.PermitRequest, id string) bool {
	for _, r := range list {
		if r.WorkflowID == id {
			return true
		}
	}
	return false
}

func without(list []contract.PermitRequest, id string) []contract.PermitRequest {
	out := make([]contract.PermitRequest, 0, len(list))
	for _, r := range list {
		if r.WorkflowID != id {
			out = append(out, r)
		}
	}
	return out
}

// holderIDs are the workflows that hold the permits, each once.
func holderIDs(list []contract.PermitRequest) []string {
	out := make([]string, 0, len(list))
	for _, r := range list {
		if !contains(out, r.Holder()) {
			out = append(out, r.Holder())
		}
	}
	return out
}

// changeSemaphoreOwners is the GetVersion change ID of granting a run's
// permit to the run (PermitRequest.Owner), with its key as the payload. It
// is asked at the first such grant only, so semaphores that never served
// a run replay without it, and a semaphore recorded by a worker from
// before it, which signalled the key itself, replays as recorded.
const changeSemaphoreOwners = "2026-12-07-semaphore-owners"

// grantTo signals the permit to the workflow that asked for it. A run that
// holds several permits is told which one; a PVC sync holds only its own,
// and gets no payload, as before owners existed.
func grantTo(ctx workflow.Context, req contract.PermitRequest) {
	to, key := req.WorkflowID, any(nil)
	if req.Owner != "" && hasChange(ctx, changeSemaphoreOwners) {
		to, key = req.Owner, req.WorkflowID
	}
	_ = workflow.SignalExternalWorkflow(ctx, to, req.RunID, contract.SignalPermit, key).Get(ctx, nil)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
