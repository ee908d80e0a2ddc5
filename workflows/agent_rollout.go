package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/agent"
	"github.com/dr-syncer/dr-syncer/contract"
)

// agentReadyTimeout bounds the wait for every node's agent; a node that
// cannot pull the image fails the rollout with the reason visible in the
// Web UI rather than hanging forever.
const agentReadyTimeout = 30 * time.Minute

// AgentRollout installs the agent into a RemoteCluster and waits until it
// is ready on every node — or, with in.Remove, uninstalls it.
func AgentRollout(ctx workflow.Context, in contract.AgentRolloutInput) (contract.AgentRolloutResult, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, contract.AttrSourceCluster.ValueSet(in.Cluster.Name)); err != nil {
		return contract.AgentRolloutResult{}, err
	}
	var a *agent.AgentActivities
	// Cluster API errors retry until the cluster is back; spec errors are
	// non-retryable and end the run with a message saying what to fix.
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute}
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Minute, RetryPolicy: retry})
	if in.Remove {
		var removed contract.AgentRemoved
		if err := workflow.ExecuteActivity(short, a.RemoveAgent, in.Cluster).Get(ctx, &removed); err != nil {
			return contract.AgentRolloutResult{}, err
		}
		return contract.AgentRolloutResult{Removed: true}, nil
	}
	var applied contract.AgentApplied
	if err := workflow.ExecuteActivity(short, a.ApplyAgent, in).Get(ctx, &applied); err != nil {
		return contract.AgentRolloutResult{}, err
	}
	wait := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: agentReadyTimeout,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         retry,
	})
	var ready contract.AgentReadiness
	if err := workflow.ExecuteActivity(wait, a.WaitAgentReady, contract.AgentRef{
		Cluster: in.Cluster, Namespace: applied.Namespace, DaemonSet: applied.DaemonSet,
	}).Get(ctx, &ready); err != nil {
		return contract.AgentRolloutResult{}, err
	}
	return contract.AgentRolloutResult{
		ReadyNodes: ready.ReadyNodes, TotalNodes: ready.TotalNodes,
		AuthorizedFingerprints: applied.AuthorizedFingerprints, HostKeyFingerprint: applied.HostKeyFingerprint,
	}, nil
}
