package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

// changeFindBeforeCleanup is the GetVersion change ID of a PVC sync that
// looks for its working objects in a local step and runs the Cleanup
// activity only when it finds some (2026-12-07). A resync's sweep for what
// an earlier run left finds nothing, and so does a batched sync at its end
// (its batch's pods are the batch's): each Cleanup was an activity, three
// events and a workflow task after it, on every PVC of every run.
const changeFindBeforeCleanup = "2026-12-07-find-before-cleanup"

// findRetry bounds the look: on an error the Cleanup activity runs, with
// its own retries.
var findRetry = &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3}

// cleanUp deletes the operation's working objects that in selects
// (pvcdata.Cleanup). With look, a run since changeFindBeforeCleanup first
// looks for them and skips Cleanup when it finds none. Only a sync that
// ended well looks at its end: after a failure or a cancel, an activity
// that was cancelled may still be making a pod or Secret of the sync, and
// Cleanup, which lists later and waits for what it deletes, leaves less
// of that behind. The Web UI shows the steps as "look for "+objects and
// summary.
func cleanUp(ctx workflow.Context, in contract.CleanupInput, look bool, objects, summary string) (contract.CleanupResult, error) {
	var a *pvcdata.PVCActivities
	if look && hasChange(ctx, changeFindBeforeCleanup) {
		var found contract.WorkingObjects
		err := workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: apiStepTimeout, RetryPolicy: findRetry, Summary: "look for " + objects,
			ScheduleToCloseTimeout: time.Duration(findRetry.MaximumAttempts) * (apiStepTimeout + time.Second),
		}), a.FindWorkingObjects, in).Get(ctx, &found)
		if err == nil && len(found.Objects) == 0 {
			return contract.CleanupResult{}, nil
		}
		if err != nil {
			workflow.GetLogger(ctx).Warn("could not look for the sync's working objects; cleaning up all the same", "error", err)
		}
	}
	var cleaned contract.CleanupResult
	err := workflow.ExecuteActivity(step(withCleanupOptions(ctx), summary), a.Cleanup, in).Get(ctx, &cleaned)
	return cleaned, err
}
