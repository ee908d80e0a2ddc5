package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
)

// ConnectivityName is the registered type name of Connectivity.
const ConnectivityName = "Connectivity"

// ConnectivityWorkflowID is one ID per mapping and check: version says what
// the check proves (the key, the spec generation and the agent rollout it
// checks against), seq counts re-checks of that version.
func ConnectivityWorkflowID(namespace, mapping, version string, seq int) string {
	return fmt.Sprintf("connectivity/%s/%s/%s-%d", namespace, mapping, version, seq)
}

// ConnectivityInput names the clusters, Secrets and image of a check. Key
// material is not in it: the activities copy the Secrets named here.
type ConnectivityInput struct {
	Source       activities.ClusterRef `json:"source"`
	DR           activities.ClusterRef `json:"dr"`
	ClusterKey   activities.SecretRef  `json:"clusterKey"`
	AgentHostKey activities.SecretRef  `json:"agentHostKey"`
	Image        activities.Image      `json:"image"`
	AgentPort    int32                 `json:"agentPort"`
	// TimeoutSeconds bounds the check pod, from start to result.
	TimeoutSeconds int32 `json:"timeoutSeconds"`
}

// DefaultConnectivityTimeoutSeconds is the CRD's default of
// connectivityTimeoutSeconds.
const DefaultConnectivityTimeoutSeconds = 60

// ConnectivityResult is the outcome per agent; Connected when all passed.
type ConnectivityResult = activities.ConnectivityResult

// Connectivity proves that a pod in the DR cluster reaches every source
// agent over SSH with the mapping's key. The pod and Secret it creates are
// deleted by the operation label whatever happens, cancellation included.
func Connectivity(ctx workflow.Context, in ConnectivityInput) (ConnectivityResult, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, AttrSourceCluster.ValueSet(in.Source.Name)); err != nil {
		return ConnectivityResult{}, err
	}
	var a *activities.ConnectivityActivities
	var pvc *activities.PVCActivities
	info := workflow.GetInfo(ctx)
	op := activities.Operation{WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID}
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 5},
	})
	var agents []string
	if err := workflow.ExecuteActivity(short, a.AgentAddresses, activities.AgentAddressesInput{
		Source: in.Source, Port: in.AgentPort,
	}).Get(ctx, &agents); err != nil {
		return ConnectivityResult{}, err
	}

	defer func() {
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		cleanup := activities.CleanupInput{
			Op:     op,
			Source: in.DR, SourceNamespace: activities.ConnectivityNamespace,
			Destination: in.DR, DestinationNamespace: activities.ConnectivityNamespace,
		}
		if err := workflow.ExecuteActivity(withCleanupOptions(dctx), pvc.Cleanup, cleanup).Get(dctx, nil); err != nil {
			workflow.GetLogger(ctx).Error("cleanup failed; objects labelled with the operation remain", "error", err)
		}
	}()

	if in.TimeoutSeconds <= 0 {
		in.TimeoutSeconds = DefaultConnectivityTimeoutSeconds
	}
	timeout := time.Duration(in.TimeoutSeconds) * time.Second
	check := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// The activity ends the wait at the timeout itself, with the pod's
		// problem; this bound only catches a lost worker.
		StartToCloseTimeout: timeout + time.Minute,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 10 * time.Second, MaximumAttempts: 3},
	})
	var result ConnectivityResult
	err := workflow.ExecuteActivity(check, a.RunConnectivityCheck, activities.ConnectivityCheckInput{
		Op: op, DR: in.DR, ClusterKey: in.ClusterKey, AgentHostKey: in.AgentHostKey,
		Image: in.Image, Agents: agents, TimeoutSeconds: in.TimeoutSeconds,
	}).Get(ctx, &result)
	return result, err
}
