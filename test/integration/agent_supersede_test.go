package integration

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/activities/agent"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
	"github.com/dr-syncer/dr-syncer/workflows"
)

// heldClusters holds ApplyAgent at its first cluster call until release
// is closed, so the test can cancel the rollout while its activity runs.
type heldClusters struct {
	activities.ClusterResolver
	once             sync.Once
	entered, release chan struct{}
}

func (h *heldClusters) Config(ctx context.Context, namespace, name string) (*rest.Config, error) {
	h.once.Do(func() { close(h.entered) })
	<-h.release
	return h.ClusterResolver.Config(ctx, namespace, name)
}

// A rollout the controller superseded is cancelled while its ApplyAgent
// runs; the activity must not go on to write the agent. Seen in
// TestLabDeployedSyncNow: the cancelled first rollout, planned before the
// mapping's key existed, wrote its version over its successor's, and drift
// detection re-ran the successor a minute later.
func TestCancelledAgentRolloutWritesNothing(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	ownerEnable(t, env, agentGetRC(t, env, "source"))
	in := contract.AgentRolloutInput{Cluster: contract.ClusterRef{Namespace: testenv.ControlNamespace, Name: "source"},
		Version: "superseded", Config: contract.AgentConfig{Image: "registry.example/agent:v1", PullPolicy: corev1.PullIfNotPresent, Port: 2345},
		HostKey: ownerHostKey(t, env, "source")}

	held := &heldClusters{ClusterResolver: kube.NewClusters(env.DR.Client, kube.KubeconfigPolicy{}),
		entered: make(chan struct{}), release: make(chan struct{})}
	w := sdkworker.New(env.Temporal.Client, env.Temporal.TaskQueue, sdkworker.Options{})
	w.RegisterWorkflowWithOptions(workflows.AgentRollout, workflow.RegisterOptions{Name: contract.AgentRolloutName})
	w.RegisterActivity(&agent.AgentActivities{Clusters: held, Control: env.DR.Client})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	var once sync.Once
	releaseHeld := func() { once.Do(func() { close(held.release) }) }
	t.Cleanup(releaseHeld)

	s := ctlStarter(env)
	run, err := s.StartAgentRollout(ctx, in)
	require.NoError(t, err)
	select {
	case <-held.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("ApplyAgent never ran")
	}
	require.NoError(t, s.CancelRun(ctx, run.WorkflowID, run.RunID))
	err = env.Temporal.Client.GetWorkflow(ctx, run.WorkflowID, run.RunID).Get(ctx, nil)
	require.Error(t, err, "the rollout ends cancelled, as the controller's supersede leaves it")
	releaseHeld()

	assert.Never(t, func() bool {
		_, ok := agentDS(t, env)
		var s corev1.Secret
		return ok || env.Source.Client.Get(ctx, client.ObjectKey{Namespace: contract.AgentNamespace, Name: "dr-syncer-agent-authorized-keys"}, &s) == nil
	}, 5*time.Second, 100*time.Millisecond, "a cancelled rollout wrote the agent DaemonSet or its authorized keys")
}
