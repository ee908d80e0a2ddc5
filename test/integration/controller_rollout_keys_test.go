package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// A RemoteCluster and its ClusterMapping applied together, as the lab's
// clusters.yaml does: the agent's first rollout carries the mapping's key.
// Seen in TestLabDeployedSyncNow: a first rollout planned before the
// mapping's reconciler wrote the key installed the agent without it; the
// rollout with the key that superseded it changed only the authorized-keys
// Secret, which reaches running agent pods when kubelet refreshes the
// volume (up to a minute), and the sync's Transfer was refused meanwhile.
// Here the test plays the mapping's reconciler, so it decides when the key
// appears: the rollout must wait for it, and only one rollout may run.
func TestControllerFirstRolloutCarriesANewMappingsKey(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	agentStartWorker(t, env)
	mgr := ctlManager(t, env)
	rcs := &controller.RemoteClusterReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Temporal: ctlStarter(env),
		Prober:       kube.NewClusters(mgr.GetAPIReader(), kube.KubeconfigPolicy{}),
		PollInterval: ctlPoll, HealthInterval: healthInterval,
	}
	require.NoError(t, rcs.SetupWithManager(mgr))
	ctlStartManager(t, mgr)

	m := &drv1.ClusterMapping{
		ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "source-to-dr"},
		Spec:       drv1.ClusterMappingSpec{SourceCluster: "source", TargetCluster: "dr"},
	}
	require.NoError(t, env.DR.Client.Create(ctx, m))
	agentEditRC(t, env, "source", func(rc *drv1.RemoteCluster) { rc.Spec.PVCSync = &drv1.PVCSyncSpec{Enabled: true} })

	rc := agentWaitRC(t, env, "source", "AgentPending naming the mapping", func(rc *drv1.RemoteCluster) bool {
		c := agentReady(rc)
		return c != nil && c.Reason == controller.ReasonAgentPending && strings.Contains(c.Message, "ClusterMapping dr-syncer-system/source-to-dr")
	})
	assert.Nil(t, rc.Status.Agent.Rollout, "no rollout without the mapping's key")
	time.Sleep(4 * ctlPoll) // a few more reconciles: still waiting
	rc = agentGetRC(t, env, "source")
	require.NotNil(t, rc.Status.Agent)
	assert.Nil(t, rc.Status.Agent.Rollout, "no rollout without the mapping's key")

	// What the mapping's reconciler does: the key Secret, then its status.
	k, err := keys.GenerateClusterPairKey("dr-syncer source->dr")
	require.NoError(t, err)
	require.NoError(t, env.DR.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: contract.ClusterKeySecretName("source", "dr")},
		Data:       map[string][]byte{contract.SecretKeyClusterPrivate: k.PrivateKey.Reveal(), contract.SecretKeyClusterPublic: k.AuthorizedKey},
	}))

	agentPlayDaemonSetController(t, env.Source.Client, 1)
	rc = agentWaitRC(t, env, "source", "AgentReady", agentReadyIs(controller.ReasonAgentReady))
	assert.Contains(t, cmAuthorized(t, env), k.Fingerprint, "the agent's authorized keys hold the mapping's key")

	// One rollout, the one with the key: none was superseded.
	resp, err := env.Temporal.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
		Namespace: env.Temporal.Namespace, Query: "WorkflowType = '" + contract.AgentRolloutName + "'",
	})
	require.NoError(t, err)
	var ids []string
	for _, e := range resp.Executions {
		ids = append(ids, e.Execution.WorkflowId)
	}
	assert.Equal(t, []string{rc.Status.Agent.Rollout.WorkflowID}, ids, "rollouts of the source cluster")
}
