//go:build record

package workflows_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/dr-syncer/dr-syncer/contract"
)

// TestRecordHistoriesRestore records the restore workflows: a listing of
// restore points, a restore of the newest point into the DR namespace, one
// into another namespace (shared snapshot, new namespace, own name), and
// one of a point that does not exist.
// `-run 'TestRecordHistoriesRestore$'` records them alone.
func TestRecordHistoriesRestore(t *testing.T) {
	tp := startRecorder(t, func(context.Context, contract.TransferInput) (contract.TransferResult, error) {
		return contract.TransferResult{Streams: 1}, nil
	})
	ctx := context.Background()
	ref := contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"}
	start := func(id, name string, in any) client.WorkflowRun {
		run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tp.TaskQueue}, name, in)
		require.NoError(t, err)
		return run
	}

	list := start(contract.RestorePointsWorkflowID(ref.Namespace, ref.Name, "record"), contract.RestorePointsName,
		contract.RestorePointsInput{Replication: ref, PVC: "data"})
	var points contract.RestorePointsResult
	require.NoError(t, list.Get(ctx, &points))
	require.Len(t, points.Points, 2)
	saveHistory(t, tp.Client, "restore-points-list", list.GetID(), list.GetRunID())

	for name, in := range map[string]contract.RestoreInput{
		"restore-pvc-latest":       {Replication: ref, PVC: "data", Point: contract.LatestRestorePoint},
		"restore-pvc-to-namespace": {Replication: ref, PVC: "data", Point: "data-rp-20261204-210000", ToNamespace: "shop-restore", Name: "data", CreateNamespace: true},
	} {
		run := start(contract.RestoreWorkflowID(ref.Namespace, ref.Name, "data", name), contract.RestoreName, in)
		require.NoError(t, run.Get(ctx, nil), name)
		saveHistory(t, tp.Client, name, run.GetID(), run.GetRunID())
	}

	missing := start(contract.RestoreWorkflowID(ref.Namespace, ref.Name, "data", "missing"), contract.RestoreName,
		contract.RestoreInput{Replication: ref, PVC: "data", Point: "missing"})
	require.ErrorContains(t, missing.Get(ctx, nil), "not found")
	saveHistory(t, tp.Client, "restore-pvc-point-not-found", missing.GetID(), missing.GetRunID())
}
