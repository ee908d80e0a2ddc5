package workflows

import "go.temporal.io/sdk/workflow"

// changeBaseline is the GetVersion change ID of a run that started on code
// with every change in baselineChanges (2026-12-07). Its one marker stands
// for all of them. The SDK records each GetVersion change as a marker plus
// an upsert of the TemporalChangeVersion search attribute, and an upsert is
// a visibility write on the server: a PVC sync took eight of them, 16 of
// its 78 events, on every sync of every PVC.
const changeBaseline = "2026-12-07-baseline"

// baselineVersion is the baseline a run records now. Version 2
// (2026-12-07) also stands for the changes made after version 1.
const baselineVersion workflow.Version = 2

// baselineChanges are the changes the baseline stands for, each with the
// first baseline version that takes it in: those of the PVC sync and
// Replication workflows, which run once per PVC and per run. A change
// added later is not here; a later baseline version may take it in, never
// one that runs have already recorded.
var baselineChanges = map[string]workflow.Version{
	changeLocalSteps:           1,
	changePointInTime:          1,
	changeBatchLateCredentials: 1,
	changeGlobalConcurrency:    1,
	changeConcurrentPods:       1,
	changePermitRerequest:      1,
	changeReportProgress:       1,
	changeQuietPhases:          1,
	changeReplicateResources:   1,
	changeSlotFreeAtCleanup:    1,
	changeBatchedPods:          1,
	changeStagedBatches:        1,
	changeFreeOnMoverDone:      1,
	changeMoverRoom:            2,
	changeFindBeforeCleanup:    2,
}

// hasChange says whether this run takes changeID (version 1 of it). A run
// since the baseline takes every change its baseline version stands for.
// Any other run asks for the change itself, as it always did, so its
// history replays: the baseline is asked first, at the run's first call of
// hasChange for a baseline change; a run from before it has no baseline
// marker there, and a run that first gets there on new code would have
// taken each change. A run that recorded an earlier baseline version asks
// for a later version's changes itself.
//
// A version-1 sync without progress reports first asked the baseline at
// its local steps, a workflow task after the look before its cleanup
// (version 2), which asks it now. Replayed, the look finds no marker yet:
// it gets DefaultVersion, asks its own change (none recorded) and runs the
// Cleanup activity as recorded; the marker, replayed in the next task,
// sets the baseline for the calls after it, as it did when recorded.
func hasChange(ctx workflow.Context, changeID string) bool {
	if since, ok := baselineChanges[changeID]; ok && workflow.GetVersion(ctx, changeBaseline, workflow.DefaultVersion, baselineVersion) >= since {
		return true
	}
	return workflow.GetVersion(ctx, changeID, workflow.DefaultVersion, 1) == 1
}
