//go:build record

package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
)

// recoveryScript stands in for the failover, failback and drill
// activities: the source of Replication "shop-lost" does not answer, and
// the DR side of "shop-failed-over" is active.
func recoveryScript() map[string]any {
	scaled := func(to int32) func(context.Context, contract.WorkloadsInput) (contract.WorkloadsResult, error) {
		return func(context.Context, contract.WorkloadsInput) (contract.WorkloadsResult, error) {
			return contract.WorkloadsResult{Workloads: []contract.WorkloadChange{{Kind: "Deployment", Name: "db", From: 1 - to, To: to}}}, nil
		}
	}
	return map[string]any{
		"LocateRecovery": func(_ context.Context, ref contract.ObjectRef) (contract.RecoveryTarget, error) {
			side, source, complete := contract.SideSource, "prod", true
			switch ref.Name {
			case "shop-failed-over":
				side = contract.SideDestination
			case "shop-lost":
				source = "lost"
			case "shop-cut-off":
				source, complete = "lost", false
			}
			return contract.RecoveryTarget{Replication: ref, Source: contract.ClusterRef{Namespace: ref.Namespace, Name: source},
				Destination: contract.ClusterRef{Namespace: ref.Namespace, Name: "dr"}, SourceNamespace: "shop", DestinationNamespace: "shop",
				Mode: "Scheduled", ActiveSide: side, DataAsOf: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), LastSyncComplete: complete}, nil
		},
		"ProbeCluster": func(_ context.Context, c contract.ClusterRef) error {
			if c.Name == "lost" {
				return temporal.NewNonRetryableApplicationError("cluster lost does not answer", contract.ErrTypeUnreachable, nil)
			}
			return nil
		},
		"RecordFailoverState":    func(context.Context, contract.FailoverState) error { return nil },
		"RecordDrill":            func(context.Context, contract.DrillReport) error { return nil },
		"PauseSyncs":             func(context.Context, contract.RecoveryTarget) error { return nil },
		"WaitSyncsIdle":          func(context.Context, contract.RecoveryTarget) error { return nil },
		"CancelSyncs":            func(context.Context, contract.RecoveryTarget) ([]string, error) { return nil, nil },
		"ScaleDownSource":        scaled(0),
		"RestoreSource":          scaled(1),
		"ScaleUpCopies":          scaled(1),
		"ScaleDownCopies":        scaled(0),
		"WaitWorkloads":          func(context.Context, contract.WaitReadyInput) error { return nil },
		"CreateScratchNamespace": func(context.Context, contract.WorkloadsInput) error { return nil },
		"DeleteScratchNamespace": func(context.Context, contract.WorkloadsInput) error { return nil },
		"ReplaceFromRestorePoint": func(_ context.Context, in contract.ReplaceFromPointInput) (contract.ReplaceFromPointResult, error) {
			return contract.ReplaceFromPointResult{PVC: in.DR.String(), Point: in.Point.Name, RetainedVolume: "pv-" + in.DR.Name}, nil
		},
	}
}

// TestRecordHistoriesRecovery records a planned failover (with its final
// sync), an unplanned one whose source does not answer, one a person
// declared lost, a failback and a drill.
// `-run 'TestRecordHistoriesRecovery$'` records them alone.
func TestRecordHistoriesRecovery(t *testing.T) {
	tp := startRecorder(t, func(context.Context, contract.TransferInput) (contract.TransferResult, error) {
		return contract.TransferResult{Streams: 1}, nil
	})
	ctx := context.Background()
	ref := contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"}
	run := func(history, id, name string, in any) {
		r, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tp.TaskQueue}, name, in)
		require.NoError(t, err)
		require.NoError(t, r.Get(ctx, nil), history)
		saveHistory(t, tp.Client, history, r.GetID(), r.GetRunID())
	}
	run("failover-planned", contract.FailoverWorkflowID(ref.Namespace, ref.Name, "planned"), contract.FailoverName,
		contract.FailoverInput{Replication: ref})
	lost := contract.ObjectRef{Namespace: ref.Namespace, Name: "shop-lost"}
	run("failover-unplanned", contract.FailoverWorkflowID(ref.Namespace, lost.Name, "unplanned"), contract.FailoverName,
		contract.FailoverInput{Replication: lost})
	run("failover-source-unreachable", contract.FailoverWorkflowID(ref.Namespace, ref.Name, "lost"), contract.FailoverName,
		contract.FailoverInput{Replication: ref, SourceUnreachable: true, FromRestorePoints: true})
	failedOver := contract.ObjectRef{Namespace: ref.Namespace, Name: "shop-failed-over"}
	run("failback", contract.FailbackWorkflowID(ref.Namespace, failedOver.Name, "record"), contract.FailbackName,
		contract.FailbackInput{Replication: failedOver})
	run("drill", contract.DrillWorkflowID(ref.Namespace, ref.Name, "record"), contract.DrillName,
		contract.DrillInput{Replication: ref, Check: &contract.DrillCheck{Selector: "app=db", Command: []string{"true"}}})
	// The semaphores would idle for minutes before closing.
	for _, c := range []string{"prod", "dr"} {
		_ = tp.Client.TerminateWorkflow(ctx, contract.ClusterSemaphoreID(contract.ClusterRef{Namespace: ref.Namespace, Name: c}), "", "recorded")
	}
}

// TestRecordHistoriesRecoveryRestorePoints records an unplanned failover
// whose last sync did not complete, restoring the DR PVCs from their
// newest restore points. `-run 'TestRecordHistoriesRecoveryRestorePoints$'`.
func TestRecordHistoriesRecoveryRestorePoints(t *testing.T) {
	tp := startRecorder(t, func(context.Context, contract.TransferInput) (contract.TransferResult, error) {
		return contract.TransferResult{Streams: 1}, nil
	})
	ctx := context.Background()
	ref := contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop-cut-off"}
	r, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: contract.FailoverWorkflowID(ref.Namespace, ref.Name, "record"),
		TaskQueue: tp.TaskQueue}, contract.FailoverName, contract.FailoverInput{Replication: ref, FromRestorePoints: true})
	require.NoError(t, err)
	var res contract.FailoverResult
	require.NoError(t, r.Get(ctx, &res))
	require.NotEmpty(t, res.Restored)
	saveHistory(t, tp.Client, "failover-from-restore-points", r.GetID(), r.GetRunID())
}
