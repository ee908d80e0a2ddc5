package workflows

import "go.temporal.io/sdk/workflow"

// changeBaseline is the GetVersion change ID of a run that started on code
// with every change in baselineChanges (2026-12-07). Its one marker stands
// for all of them. The SDK records each GetVersion change as a marker plus
// an upsert of the TemporalChangeVersion search attribute, and an upsert is
// a visibility write on the server: a PVC sync took eight of them, 16 of
// its 78 events, on every sync of every PVC.
const changeBaseline = "2026-12-07-baseline"

// baselineChanges are the changes the baseline stands for: those of the
// PVC sync and Replication workflows, which run once per PVC and per run.
// A change added later is not here; a later baseline may take it in.
var baselineChanges = map[string]bool{
	changeLocalSteps:           true,
	changePointInTime:          true,
	changeBatchLateCredentials: true,
	changeGlobalConcurrency:    true,
	changeConcurrentPods:       true,
	changePermitRerequest:      true,
	changeReportProgress:       true,
	changeQuietPhases:          true,
	changeReplicateResources:   true,
	changeSlotFreeAtCleanup:    true,
	changeBatchedPods:          true,
	changeStagedBatches:        true,
	changeFreeOnMoverDone:      true,
}

// hasChange says whether this run takes changeID (version 1 of it). A run
// since the baseline takes every change in baselineChanges. Any other run
// asks for the change itself, as it always did, so its history replays:
// the baseline is asked first, at the run's first call of hasChange for a
// baseline change; a run from before it has no baseline marker there, and
// a run that first gets there on new code would have taken each change.
func hasChange(ctx workflow.Context, changeID string) bool {
	if baselineChanges[changeID] && workflow.GetVersion(ctx, changeBaseline, workflow.DefaultVersion, 1) == 1 {
		return true
	}
	return workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, 1) == 1
}
