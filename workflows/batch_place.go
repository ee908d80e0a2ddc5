package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

// changePlaceAhead is the GetVersion change ID of a staged run that lets
// a staged batch's sync pod be placed before the batch's release, once
// the sync pods before it are placed (PlaceStagedSyncPod): its movers
// start while the batch before moves data, and connect at the release.
const changePlaceAhead = "2026-12-07-place-staged-sync-pod"

// placeAheadTimeout bounds the wait for the sync pods before a staged
// one to be placed. Past it the release places the pod, as before.
const placeAheadTimeout = 10 * time.Minute

// placeAhead starts PlaceStagedSyncPod for the staged batch op, without
// waiting for it: the batch's release ungates its sync pod whether this
// did or not, so a failure only costs the head start, and is logged.
func (b *batcher) placeAhead(ctx workflow.Context, op contract.Operation) {
	if !b.placingAhead {
		return
	}
	var a *pvcdata.PVCActivities
	opts := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: placeAheadTimeout, HeartbeatTimeout: 30 * time.Second,
		RetryPolicy: &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	f := workflow.ExecuteActivity(step(opts, "place the sync pod of staged batch "+op.WorkflowID+" ahead"), a.PlaceStagedSyncPod,
		contract.ReleaseBatchInput{Op: op, Source: b.plan.Source, SourceNamespace: b.plan.SourceNamespace,
			Destination: b.plan.Destination, DestinationNamespace: b.plan.DestinationNamespace})
	workflow.Go(ctx, func(gctx workflow.Context) {
		if err := f.Get(gctx, nil); err != nil && gctx.Err() == nil {
			workflow.GetLogger(gctx).Warn("a staged batch's sync pod was not placed ahead; its release places it", "batch", op.WorkflowID, "error", err)
		}
	})
}
