package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/connectivity"
	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

// Connectivity proves that a pod in the DR cluster reaches every source
// agent over SSH with the mapping's key. The pod and Secret it creates are
// deleted by the operation label whatever happens, cancellation included.
func Connectivity(ctx workflow.Context, in contract.ConnectivityInput) (contract.ConnectivityResult, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, contract.AttrSourceCluster.ValueSet(in.Source.Name)); err != nil {
		return contract.ConnectivityResult{}, err
	}
	var a *connectivity.ConnectivityActivities
	var pvc *pvcdata.PVCActivities
	info := workflow.GetInfo(ctx)
	op := contract.Operation{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID}
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 5},
	})
	var agents []string
	if err := workflow.ExecuteActivity(short, a.AgentAddresses, contract.AgentAddressesInput{
		Source: in.Source, Port: in.AgentPort,
	}).Get(ctx, &agents); err != nil {
		return contract.ConnectivityResult{}, err
	}

	defer func() {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		cleanup := contract.CleanupInput{
			Op:     op,
			Source: in.DR, SourceNamespace: contract.ConnectivityNamespace,
			Destination: in.DR, DestinationNamespace: contract.ConnectivityNamespace,
		}
		if err := workflow.ExecuteActivity(withCleanupOptions(dctx), pvc.Cleanup, cleanup).Get(dctx, nil); err != nil {
			workflow.GetLogger(ctx).Error("cleanup failed; objects labelled with the operation remain", "error", err)
		}
	}()

	timeout := time.Duration(in.TimeoutSeconds) * time.Second
	check := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// The activity ends the wait at the timeout itself, with the pod's
		// problem; this bound only catches a lost worker.
		StartToCloseTimeout: timeout + time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 3},
	})
	var result contract.ConnectivityResult
	err := workflow.ExecuteActivity(check, a.RunConnectivityCheck, contract.ConnectivityCheckInput{
		Op: op, DR: in.DR, ClusterKey: in.ClusterKey, AgentHostKey: in.AgentHostKey,
		Image: in.Image, Agents: agents, TimeoutSeconds: in.TimeoutSeconds, Mapping: in.Mapping,
	}).Get(ctx, &result)
	return result, err
}
