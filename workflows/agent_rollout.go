package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
)

// AgentRolloutName is the registered type name of AgentRollout.
const AgentRolloutName = "AgentRollout"

// AgentRolloutWorkflowID is one ID per cluster and version (a hash of the
// spec and keys it installs), so a double reconcile finds the rollout it
// already started, and each change gets a run of its own.
func AgentRolloutWorkflowID(namespace, cluster, version string) string {
	return fmt.Sprintf("agent-rollout/%s/%s/%s", namespace, cluster, version)
}

// AgentRolloutResult is what the rollout installed and how ready it is.
// Fingerprints only: no key material enters the history.
type AgentRolloutResult struct {
	Removed                bool     `json:"removed,omitempty"`
	ReadyNodes             int32    `json:"readyNodes"`
	TotalNodes             int32    `json:"totalNodes"`
	AuthorizedFingerprints []string `json:"authorizedFingerprints,omitempty"`
	HostKeyFingerprint     string   `json:"hostKeyFingerprint,omitempty"`
}

// agentReadyTimeout bounds the wait for every node's agent; a node that
// cannot pull the image fails the rollout with the reason visible in the
// Web UI rather than hanging forever.
const agentReadyTimeout = 30 * time.Minute

// AgentRollout installs the agent into a RemoteCluster and waits until it
// is ready on every node — or, with in.Remove, uninstalls it.
func AgentRollout(ctx workflow.Context, in activities.AgentRolloutInput) (AgentRolloutResult, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, AttrSourceCluster.ValueSet(in.Cluster.Name)); err != nil {
		return AgentRolloutResult{}, err
	}
	var a *activities.AgentActivities
	// Cluster API errors retry until the cluster is back; spec errors are
	// non-retryable and end the run with a message saying what to fix.
	retry := &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute}
	short := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 2 * time.Minute, RetryPolicy: retry})
	if in.Remove {
		var removed activities.AgentRemoved
		if err := workflow.ExecuteActivity(short, a.RemoveAgent, in.Cluster).Get(ctx, &removed); err != nil {
			return AgentRolloutResult{}, err
		}
		return AgentRolloutResult{Removed: true}, nil
	}
	var applied activities.AgentApplied
	if err := workflow.ExecuteActivity(short, a.ApplyAgent, in).Get(ctx, &applied); err != nil {
		return AgentRolloutResult{}, err
	}
	wait := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: agentReadyTimeout,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         retry,
	})
	var ready activities.AgentReadiness
	if err := workflow.ExecuteActivity(wait, a.WaitAgentReady, activities.AgentRef{
		Cluster: in.Cluster, Namespace: applied.Namespace, DaemonSet: applied.DaemonSet,
	}).Get(ctx, &ready); err != nil {
		return AgentRolloutResult{}, err
	}
	return AgentRolloutResult{
		ReadyNodes: ready.ReadyNodes, TotalNodes: ready.TotalNodes,
		AuthorizedFingerprints: applied.AuthorizedFingerprints, HostKeyFingerprint: applied.HostKeyFingerprint,
	}, nil
}
