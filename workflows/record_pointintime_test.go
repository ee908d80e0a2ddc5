//go:build record

package workflows_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// TestRecordHistoriesPointInTime records PVC syncs since
// 2026-12-04-point-in-time: one from a snapshot with freeze and thaw hooks
// that keeps restore points, one from a clone.
// `-run 'TestRecordHistoriesPointInTime$'` records them alone.
func TestRecordHistoriesPointInTime(t *testing.T) {
	tp := startRecorder(t, func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		return contract.TransferResult{Streams: 1}, nil
	})
	ctx := context.Background()
	input := func(pvc string, pit contract.PointInTime) contract.PVCSyncInput {
		return contract.PVCSyncInput{
			Replication: contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"},
			Source:      contract.PVCRef{Cluster: contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}, Namespace: "shop", Name: pvc},
			Destination: contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}, DestinationNamespace: "shop",
			Image: contract.Image{Reference: "dr-syncer/dataplane:dev"}, AgentPort: 2222,
			Retry:       contract.RetrySettings{MaxRetries: 3, InitialBackoff: "1s", MaxBackoff: "2s", BackoffMultiplier: 200},
			DataSync:    rsyncargs.Config{Timeout: rsyncargs.Duration(2 * time.Hour)},
			PointInTime: pit,
		}
	}
	hooks := &contract.Hooks{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
		Freeze: &contract.HookCommand{Command: []string{"fsfreeze", "-f", "/data"}, Timeout: "30s"},
		Thaw:   &contract.HookCommand{Command: []string{"fsfreeze", "-u", "/data"}, Timeout: "30s"}}
	for name, pit := range map[string]contract.PointInTime{
		"pvc-sync-snapshot": {CopyMethod: contract.CopySnapshot, Hooks: hooks, RestorePoints: contract.RestorePoints{Keep: 3}},
		"pvc-sync-clone":    {CopyMethod: contract.CopyClone},
	} {
		run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "pvc-sync/prod/shop/" + name, TaskQueue: tp.TaskQueue},
			contract.PVCSyncName, input(name, pit))
		require.NoError(t, err)
		require.NoError(t, run.Get(ctx, nil), name)
		saveHistory(t, tp.Client, name, run.GetID(), run.GetRunID())
	}
}
