//go:build record

package workflows_test

// Records the histories replayed by TestReplayCommittedHistories from real
// runs on a real Temporal dev server: the workflows as they are, with
// activities scripted to succeed, fail once, or block until cancelled.
//
//   make record-histories    (go test -tags record ./workflows -run TestRecordHistories)

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

func TestRecordHistories(t *testing.T) {
	var transferCalls atomic.Int32
	tp := startRecorder(t, func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		switch in.PVC.Name {
		case "retry":
			if transferCalls.Add(1) == 1 {
				return contract.TransferResult{}, errors.New("rsync exit 12: connection reset")
			}
		case "cancel":
			for ctx.Err() == nil {
				activity.RecordHeartbeat(ctx, contract.TransferProgress{Phase: "transferring"})
				time.Sleep(200 * time.Millisecond)
			}
			return contract.TransferResult{}, ctx.Err()
		}
		return contract.TransferResult{Streams: 1}, nil
	})
	ctx := context.Background()

	pvcInput := func(pvc string) contract.PVCSyncInput {
		retries := int32(3)
		return contract.PVCSyncInput{
			Replication: contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"},
			Source:      contract.PVCRef{Cluster: contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}, Namespace: "shop", Name: pvc},
			Destination: contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}, DestinationNamespace: "shop",
			Image: contract.Image{Reference: "dr-syncer/dataplane:dev"}, AgentPort: 2222,
			Retry:                  contract.RetrySettings{MaxRetries: retries, InitialBackoff: "1s", MaxBackoff: "2s", BackoffMultiplier: 200},
			DataSync:               rsyncargs.Config{Timeout: rsyncargs.Duration(2 * time.Hour)},
			GlobalConcurrencyLimit: 2,
		}
	}
	record := func(name string, run client.WorkflowRun, wantErr bool) {
		err := run.Get(ctx, nil)
		require.Equal(t, wantErr, err != nil, "%s: %v", name, err)
		saveHistory(t, tp.Client, name, run.GetID(), run.GetRunID())
	}

	success, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "replication/dr-syncer-system/shop/record", TaskQueue: tp.TaskQueue},
		contract.ReplicationName, contract.ReplicationInput{Replication: contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"}, Trigger: "record"})
	require.NoError(t, err)
	record("replication-success", success, false)
	saveHistory(t, tp.Client, "replicate-resources-success", success.GetID()+"/resources", "")
	saveHistory(t, tp.Client, "pvc-sync-success", contract.PVCSyncWorkflowID("prod", "shop", "data"), "")

	retried, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "pvc-sync/prod/shop/retry", TaskQueue: tp.TaskQueue},
		contract.PVCSyncName, pvcInput("retry"))
	require.NoError(t, err)
	record("pvc-sync-retry", retried, false)

	cancelled, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "pvc-sync/prod/shop/cancel", TaskQueue: tp.TaskQueue},
		contract.PVCSyncName, pvcInput("cancel"))
	require.NoError(t, err)
	time.Sleep(2 * time.Second)
	require.NoError(t, tp.Client.CancelWorkflow(ctx, cancelled.GetID(), cancelled.GetRunID()))
	record("pvc-sync-cancel", cancelled, true)

	// The source cluster's semaphore served the syncs above (limit 2); it
	// would idle for minutes before closing, so it is terminated.
	semaphore := contract.ClusterSemaphoreID(contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"})
	require.NoError(t, tp.Client.TerminateWorkflow(ctx, semaphore, "", "recorded"))
	saveHistory(t, tp.Client, "cluster-semaphore-terminated", semaphore, "")

	cluster := contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}
	rollout, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: contract.AgentRolloutWorkflowID(cluster.Namespace, cluster.Name, "v1"), TaskQueue: tp.TaskQueue},
		contract.AgentRolloutName, contract.AgentRolloutInput{Cluster: cluster, Version: "v1", HostKey: contract.SecretRef{Namespace: "dr-syncer-system", Name: "prod-agent-host-key"}})
	require.NoError(t, err)
	record("agent-rollout-success", rollout, false)
	removal, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: contract.AgentRolloutWorkflowID(cluster.Namespace, cluster.Name, "remove"), TaskQueue: tp.TaskQueue},
		contract.AgentRolloutName, contract.AgentRolloutInput{Cluster: cluster, Version: "remove", Remove: true})
	require.NoError(t, err)
	record("agent-rollout-remove", removal, false)

	check, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: contract.ConnectivityWorkflowID("dr-syncer-system", "prod-to-dr", "v1", 1), TaskQueue: tp.TaskQueue},
		contract.ConnectivityName, contract.ConnectivityInput{Source: cluster, DR: contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"},
			ClusterKey: contract.SecretRef{Namespace: "dr-syncer-system", Name: "prod-to-dr-ssh"}, AgentHostKey: contract.SecretRef{Namespace: "dr-syncer-system", Name: "prod-agent-host-key"},
			Image: contract.Image{Reference: "dr-syncer/dataplane:dev"}, AgentPort: 2222})
	require.NoError(t, err)
	record("connectivity-success", check, false)

	// A continuous replication: interval syncs, a change signal, then cancelled.
	ref := contract.ObjectRef{Namespace: "dr-syncer-system", Name: "live"}
	continuous, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: contract.ContinuousReplicationWorkflowID(ref.Namespace, ref.Name), TaskQueue: tp.TaskQueue,
	}, contract.ContinuousReplicationName, contract.ContinuousState{Replication: ref,
		Settings: contract.ContinuousSettings{Every: 3 * time.Second, Note: contract.ContinuousNote(3 * time.Second)}})
	require.NoError(t, err)
	time.Sleep(5 * time.Second)
	require.NoError(t, tp.Client.SignalWorkflow(ctx, continuous.GetID(), "", contract.SignalChange, "ConfigMap/settings"))
	time.Sleep(6 * time.Second)
	require.NoError(t, tp.Client.CancelWorkflow(ctx, continuous.GetID(), ""))
	record("continuous-cancel", continuous, true)
}

// TestRecordHistoriesContinuous records a continuous replication (since
// 2026-12-04-continuous-max-delay) in a namespace that never goes quiet: a
// change every second syncs once the max delay has passed, then a burst of
// signals makes the waiting itself continue as new, and the next run syncs
// the change it took over and is cancelled. About 90 seconds;
// `-run 'TestRecordHistoriesContinuous$'` records it alone.
func TestRecordHistoriesContinuous(t *testing.T) {
	tp := startRecorder(t, func(context.Context, contract.TransferInput) (contract.TransferResult, error) {
		return contract.TransferResult{Streams: 1}, nil
	})
	ctx := context.Background()
	ref := contract.ObjectRef{Namespace: "dr-syncer-system", Name: "busy"}
	id := contract.ContinuousReplicationWorkflowID(ref.Namespace, ref.Name)
	run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: tp.TaskQueue},
		contract.ContinuousReplicationName, contract.ContinuousState{Replication: ref,
			Settings: contract.ContinuousSettings{Every: time.Hour, Note: contract.ContinuousNote(time.Hour)}})
	require.NoError(t, err)
	syncs := func() int {
		v, err := tp.Client.QueryWorkflow(ctx, id, run.GetRunID(), contract.ProgressQuery)
		require.NoError(t, err)
		var st contract.ContinuousState
		require.NoError(t, v.Get(&st))
		if st.Running != nil {
			return len(st.Recent) - 1
		}
		return len(st.Recent)
	}
	require.Eventually(t, func() bool { return syncs() == 1 }, 30*time.Second, 200*time.Millisecond, "the first sync")
	signal := func(i int) {
		require.NoError(t, tp.Client.SignalWorkflow(ctx, id, "", contract.SignalChange, fmt.Sprintf("ConfigMap/c%d", i)))
	}
	i := 0
	for deadline := time.Now().Add(100 * time.Second); syncs() < 2; i++ {
		require.True(t, time.Now().Before(deadline), "no sync within the max delay of a change a second")
		signal(i)
		time.Sleep(time.Second)
	}
	for {
		d, err := tp.Client.DescribeWorkflowExecution(ctx, id, run.GetRunID())
		require.NoError(t, err)
		if d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
			break
		}
		require.Less(t, i, 2000, "the waiting never continued as new")
		signal(i)
		i++
	}
	saveHistory(t, tp.Client, "continuous-max-delay-continue-as-new", id, run.GetRunID())

	// The next run syncs the change it took over, and is cancelled.
	require.Eventually(t, func() bool {
		v, err := tp.Client.QueryWorkflow(ctx, id, "", contract.ProgressQuery)
		var st contract.ContinuousState
		return err == nil && v.Get(&st) == nil && len(st.Recent) == 3 && st.Running == nil
	}, 30*time.Second, 200*time.Millisecond, "the next run's sync of the pending change")
	require.NoError(t, tp.Client.CancelWorkflow(ctx, id, ""))
	require.Error(t, tp.Client.GetWorkflow(ctx, id, "").Get(ctx, nil), "the next run ends cancelled")
	saveHistory(t, tp.Client, "continuous-max-delay-cancel", id, "")
}

// TestRecordHistoriesDeletionGuard records a Replication run whose
// resources step weighs a deletion against the deletion guard and prunes.
func TestRecordHistoriesDeletionGuard(t *testing.T) {
	tp := startRecorder(t, func(context.Context, contract.TransferInput) (contract.TransferResult, error) {
		return contract.TransferResult{Streams: 1}, nil
	})
	ctx := context.Background()
	run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "replication/dr-syncer-system/shop/guarded", TaskQueue: tp.TaskQueue},
		contract.ReplicationName, contract.ReplicationInput{Replication: contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"}, Trigger: "guarded"})
	require.NoError(t, err)
	var res contract.ReplicationResult
	require.NoError(t, run.Get(ctx, &res))
	require.NotNil(t, res.Resources.DeletionGuard, "the run reached the deletion guard")
	saveHistory(t, tp.Client, "replication-deletion-guard", run.GetID(), run.GetRunID())
	saveHistory(t, tp.Client, "replicate-resources-deletion-guard", run.GetID()+"/resources", "")
	// The semaphore would idle for minutes before closing.
	semaphore := contract.ClusterSemaphoreID(contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"})
	require.NoError(t, tp.Client.TerminateWorkflow(ctx, semaphore, "", "recorded"))
}

// TestRecordHistoriesPermits records the permit protocol since its
// 2026-12-05 changes: a sync that takes a permit (the wait that asks again)
// and a semaphore run that continues as new with signals still to drain.
// `-run 'TestRecordHistoriesPermits$'` records them alone.
func TestRecordHistoriesPermits(t *testing.T) {
	tp := startRecorder(t, func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		return contract.TransferResult{Streams: 1}, nil
	})
	ctx := context.Background()
	prod := contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}
	in := contract.PVCSyncInput{
		Replication: contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"},
		Source:      contract.PVCRef{Cluster: prod, Namespace: "shop", Name: "permit"},
		Destination: contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}, DestinationNamespace: "shop",
		Image: contract.Image{Reference: "dr-syncer/dataplane:dev"}, AgentPort: 2222,
		Retry:                  contract.RetrySettings{MaxRetries: 3, InitialBackoff: "1s", MaxBackoff: "2s", BackoffMultiplier: 200},
		DataSync:               rsyncargs.Config{Timeout: rsyncargs.Duration(2 * time.Hour)},
		GlobalConcurrencyLimit: 2,
	}
	sync, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "pvc-sync/prod/shop/permit", TaskQueue: tp.TaskQueue},
		contract.PVCSyncName, in)
	require.NoError(t, err)
	require.NoError(t, sync.Get(ctx, nil))
	saveHistory(t, tp.Client, "pvc-sync-success-permit-rerequest", sync.GetID(), sync.GetRunID())

	// A semaphore whose one permit is held by a sync that is gone; releases
	// of syncs it never knew fill its budget, so it continues as new.
	semaphore := contract.ClusterSemaphoreID(prod)
	require.NoError(t, tp.Client.TerminateWorkflow(ctx, semaphore, "", "recorded"))
	first, err := tp.Client.SignalWithStartWorkflow(ctx, semaphore, contract.SignalAcquire,
		contract.PermitRequest{WorkflowID: "pvc-sync/prod/shop/gone"},
		client.StartWorkflowOptions{ID: semaphore, TaskQueue: tp.TaskQueue}, contract.ClusterSemaphoreName, contract.SemaphoreState{Limit: 1})
	require.NoError(t, err)
	for i := range 520 {
		require.NoError(t, tp.Client.SignalWorkflow(ctx, semaphore, "", contract.SignalRelease, fmt.Sprintf("gone-%d", i)))
	}
	var can *workflow.ContinueAsNewError
	require.ErrorAs(t, first.GetWithOptions(ctx, nil, client.WorkflowRunGetOptions{DisableFollowingRuns: true}), &can)
	saveHistory(t, tp.Client, "cluster-semaphore-continue-as-new", semaphore, first.GetRunID())
	require.NoError(t, tp.Client.TerminateWorkflow(ctx, semaphore, "", "recorded"))
}

// startRecorder starts a dev server and a worker with every workflow and
// the scripted activities; transfer decides how each data transfer goes.
func startRecorder(t *testing.T, transfer func(context.Context, contract.TransferInput) (contract.TransferResult, error)) *testenv.Temporal {
	tp := testenv.StartTemporal(t)
	script := scriptedActivities(transfer)
	for name, fn := range clusterScript() {
		script[name] = fn
	}
	for name, fn := range recoveryScript() {
		script[name] = fn
	}
	startScriptedWorker(t, tp, script, &pvcdata.PermitActivities{Temporal: tp.Client, TaskQueue: tp.TaskQueue})
	return tp
}

// clusterScript stands in for the agent rollout's and connectivity check's
// activities.
func clusterScript() map[string]any {
	return map[string]any{
		"ApplyAgent": func(ctx context.Context, in contract.AgentRolloutInput) (contract.AgentApplied, error) {
			return contract.AgentApplied{Namespace: contract.AgentNamespace, DaemonSet: "dr-syncer-agent", HostKeyFingerprint: "SHA256:host"}, nil
		},
		"WaitAgentReady": func(ctx context.Context, in contract.AgentRef) (contract.AgentReadiness, error) {
			return contract.AgentReadiness{ReadyNodes: 1, TotalNodes: 1}, nil
		},
		"RemoveAgent": func(ctx context.Context, in contract.ClusterRef) (contract.AgentRemoved, error) {
			return contract.AgentRemoved{Deleted: 4}, nil
		},
		"AgentAddresses": func(ctx context.Context, in contract.AgentAddressesInput) ([]string, error) {
			return []string{"10.255.0.11:2222"}, nil
		},
		"RunConnectivityCheck": func(ctx context.Context, in contract.ConnectivityCheckInput) (contract.ConnectivityResult, error) {
			return contract.ConnectivityResult{Connected: true}, nil
		},
	}
}

func saveHistory(t *testing.T, c client.Client, name, workflowID, runID string) {
	t.Helper()
	iter := c.GetWorkflowHistory(context.Background(), workflowID, runID, false, 0)
	history := &historypb.History{}
	for iter.HasNext() {
		event, err := iter.Next()
		require.NoError(t, err)
		history.Events = append(history.Events, event)
	}
	data, err := protojson.MarshalOptions{Indent: "  "}.Marshal(history)
	require.NoError(t, err)
	// Old histories are never replaced: they prove old runs still replay.
	path := filepath.Join("testdata", name+".json")
	if _, err := os.Stat(path); err == nil {
		path = filepath.Join("testdata", name+"-"+time.Now().UTC().Format("2006-01-02T150405")+".json")
	}
	require.NoError(t, os.WriteFile(path, data, 0o644))
}
