package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// A RemoteCluster deleted while its agent rollout waits for a worker takes
// the rollout with it: the rollout is cancelled, and when a worker comes it
// ends without writing the agent. Before, it stayed open and the next
// worker applied the gone cluster's settings, re-rolling the agent that a
// RemoteCluster of the same name owned by then.
func TestDeletedRemoteClusterCancelsItsRollout(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	agentRunController(t, env) // no worker yet: the rollout stays open

	agentEditRC(t, env, "source", func(rc *drv1.RemoteCluster) { rc.Spec.PVCSync = &drv1.PVCSyncSpec{Enabled: true} })
	rc := agentWaitRC(t, env, "source", "a rollout started", func(rc *drv1.RemoteCluster) bool {
		return rc.Status.Agent != nil && rc.Status.Agent.Rollout != nil && rc.Status.Agent.Rollout.Result == ""
	})
	rollout := *rc.Status.Agent.Rollout

	require.NoError(t, env.DR.Client.Delete(ctx, rc))
	agentEventually(t, "the RemoteCluster gone", func() bool {
		return apierrors.IsNotFound(env.DR.Client.Get(ctx, client.ObjectKeyFromObject(rc), &drv1.RemoteCluster{}))
	})

	agentStartWorker(t, env)
	run := env.Temporal.Client.GetWorkflow(ctx, rollout.WorkflowID, rollout.RunID)
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := run.Get(waitCtx, nil)
	require.Error(t, err, "the rollout ends cancelled")
	desc, err := env.Temporal.Client.DescribeWorkflowExecution(ctx, rollout.WorkflowID, rollout.RunID)
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED, desc.WorkflowExecutionInfo.Status)
	var ds appsv1.DaemonSet
	err = env.Source.Client.Get(ctx, client.ObjectKey{Namespace: contract.AgentNamespace, Name: "dr-syncer-agent"}, &ds)
	assert.True(t, apierrors.IsNotFound(err), "no agent written for a deleted RemoteCluster: %v", err)
}
