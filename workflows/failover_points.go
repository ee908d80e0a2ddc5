package workflows

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pointintime"
	"github.com/dr-syncer/dr-syncer/contract"
)

// restoreFromPoints replaces, in DR, each PVC's live copy with its newest
// restore point, as --from-restore-points asks when the last sync did not
// complete: a sync cut off by the disaster may have left a PVC half
// written, while a restore point is a whole, good copy. The live copy's
// volume is kept (Retain, labelled), and a PVC without a restore point
// keeps its live copy; the step says which is which.
//
// It returns the PVCs it replaced and the oldest data among them.
func (r *recoveryRun) restoreFromPoints(ctx workflow.Context, t contract.RecoveryTarget, mode string) ([]string, time.Time, error) {
	switch {
	case mode == contract.FailoverPlanned:
		r.skip(ctx, contract.StepRestorePoints, "the final sync completed: the live DR copy is the newest data")
		return nil, time.Time{}, nil
	case t.LastSyncComplete:
		r.skip(ctx, contract.StepRestorePoints, "the last sync completed: the live DR copy is the newest data")
		return nil, time.Time{}, nil
	}
	var restored []string
	var asOf time.Time
	err := r.step(ctx, contract.StepRestorePoints, func() (string, error) {
		var snaps *pointintime.SnapshotActivities
		var points []contract.RestorePoint
		if err := workflow.ExecuteActivity(shortOptions(ctx), snaps.ListRestorePoints, contract.ListRestorePointsInput{
			Cluster: t.Destination, Namespace: t.DestinationNamespace, Replication: t.Replication.String(),
		}).Get(ctx, &points); err != nil {
			return "", err
		}
		newest := newestPoints(points)
		pvcs := make([]string, 0, len(newest))
		for pvc := range newest {
			pvcs = append(pvcs, pvc)
		}
		sort.Strings(pvcs)
		if len(pvcs) == 0 {
			return "no restore points: the live DR copies are used as they are", nil
		}
		info := workflow.GetInfo(ctx)
		op := contract.Operation{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID}
		// A replacement, once begun, runs to its end: a cancel between its
		// delete and its create would leave DR without the PVC.
		whole, _ := workflow.NewDisconnectedContext(ctx)
		var parts []string
		for _, pvc := range pvcs {
			if ctx.Err() != nil {
				return strings.Join(parts, "; "), ctx.Err()
			}
			var res contract.ReplaceFromPointResult
			if err := workflow.ExecuteActivity(waitOptions(whole, replaceLimit), snaps.ReplaceFromRestorePoint, contract.ReplaceFromPointInput{
				Op: op, DR: contract.PVCRef{Cluster: t.Destination, Namespace: t.DestinationNamespace, Name: pvc},
				Replication: t.Replication.String(), Point: newest[pvc],
			}).Get(whole, &res); err != nil {
				return strings.Join(parts, "; "), err
			}
			restored = append(restored, pvc)
			asOf = oldest(asOf, newest[pvc].CopiedAt)
			parts = append(parts, fmt.Sprintf("%s from %s (live copy kept in PV %s)", pvc, res.Point, res.RetainedVolume))
		}
		return strings.Join(parts, "; "), nil
	})
	return restored, asOf, err
}

// replaceLimit bounds replacing one PVC from a restore point: a delete
// waiting for its pods, a create, a bind.
const replaceLimit = 10 * time.Minute
