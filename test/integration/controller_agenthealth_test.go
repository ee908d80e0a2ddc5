package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// healthInterval is agentRunController's HealthInterval.
const healthInterval = 2 * time.Second

// agentDS reads the source cluster's one agent DaemonSet.
func agentDS(t *testing.T, env *testenv.Env) (*appsv1.DaemonSet, bool) {
	t.Helper()
	var ds appsv1.DaemonSet
	err := env.Source.Client.Get(context.Background(), client.ObjectKey{Namespace: contract.AgentNamespace, Name: contract.AgentDaemonSetName}, &ds)
	return &ds, err == nil
}

// agentListens is set when the DaemonSet's agent listens on port.
func agentListens(ds *appsv1.DaemonSet, port string) bool {
	c := ds.Spec.Template.Spec.Containers
	return len(c) == 1 && len(c[0].Args) > 0 && c[0].Args[0] == "--listen=:"+port
}

func agentReadyIs(reason string) func(*drv1.RemoteCluster) bool {
	return func(rc *drv1.RemoteCluster) bool {
		c := agentReady(rc)
		return c != nil && c.Reason == reason && c.ObservedGeneration == rc.Generation
	}
}

func agentSetPort(t *testing.T, env *testenv.Env, name string, port int32) {
	t.Helper()
	agentEditRC(t, env, name, func(rc *drv1.RemoteCluster) { rc.Spec.PVCSync.SSH.Port = port })
}

// agentRolledOut waits for the DaemonSet on port, plays the DaemonSet
// controller and waits for the RemoteCluster to be Ready.
func agentRolledOut(t *testing.T, env *testenv.Env, name, port string) *appsv1.DaemonSet {
	t.Helper()
	var ds *appsv1.DaemonSet
	agentEventually(t, "DaemonSet listening on "+port, func() bool {
		var ok bool
		ds, ok = agentDS(t, env)
		return ok && agentListens(ds, port)
	})
	agentPlayDaemonSetController(t, env.Source.Client, 2)
	agentWaitRC(t, env, name, "AgentReady", agentReadyIs(controller.ReasonAgentReady))
	ds, _ = agentDS(t, env)
	return ds
}

// Items 11 and 12 of #15 against real API servers and a real Temporal:
// the status reads the real DaemonSet, drift is re-applied, a reverted
// setting is rolled out again, and two RemoteClusters of one cluster
// share one agent or the second gets AgentConflict.
func TestControllerAgentHealth(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	agentStartWorker(t, env)
	agentRunController(t, env)
	agentWaitRC(t, env, "source", "Healthy", func(rc *drv1.RemoteCluster) bool { return rc.Status.Health == controller.HealthHealthy })
	agentEditRC(t, env, "source", func(rc *drv1.RemoteCluster) {
		rc.Spec.PVCSync = &drv1.PVCSyncSpec{
			Enabled: true, SSH: &drv1.SSHSpec{Port: 2345},
			Image: &drv1.ImageSpec{Repository: "registry.example/dr-syncer/dataplane", Tag: "v9"},
		}
	})
	ds := agentRolledOut(t, env, "source", "2345")
	assert.Equal(t, "dr-syncer-system/source", ds.Annotations[contract.AnnotationAgentOwner], "the DaemonSet names its owner")
	assert.NotEmpty(t, ds.Annotations[contract.AnnotationAgentVersion])

	t.Run("a DaemonSet deleted by hand: not ready within one health interval, then re-created", func(t *testing.T) {
		require.NoError(t, env.Source.Client.Delete(ctx, ds))
		deleted := time.Now()
		var notReadyAfter time.Duration
		agentEventually(t, "Ready turns False", func() bool {
			c := agentReady(agentGetRC(t, env, "source"))
			notReadyAfter = time.Since(deleted)
			return c != nil && c.Status == metav1.ConditionFalse
		})
		// One interval, plus a poll of this test and a reconcile.
		assert.Less(t, notReadyAfter, healthInterval+time.Second, "the status went not-ready only after %s", notReadyAfter)
		agentEventually(t, "an AgentDrifted event saying what was found", func() bool {
			var list eventsv1.EventList
			require.NoError(t, env.DR.Client.List(ctx, &list, client.InNamespace(testenv.ControlNamespace)))
			for _, e := range list.Items {
				if e.Regarding.Name == "source" && e.Reason == controller.ReasonAgentDrifted {
					return assert.Contains(t, e.Note, "agent DaemonSet dr-syncer/dr-syncer-agent missing in cluster source; re-applying")
				}
			}
			return false
		})
		ds = agentRolledOut(t, env, "source", "2345")
		assert.Equal(t, "dr-syncer-system/source", ds.Annotations[contract.AnnotationAgentOwner])
		got := agentGetRC(t, env, "source")
		assert.Equal(t, int32(2), got.Status.Agent.ReadyNodes, "counts from the DaemonSet")
		assert.Contains(t, agentReady(got).Message, "agent ready on 2/2 nodes")
	})

	t.Run("a setting reverted A → B → A ends with A applied", func(t *testing.T) {
		agentSetPort(t, env, "source", 2400)
		agentRolledOut(t, env, "source", "2400")
		agentSetPort(t, env, "source", 2345)
		ds = agentRolledOut(t, env, "source", "2345")
		assert.Equal(t, int32(2345), ds.Spec.Template.Spec.Containers[0].Ports[0].HostPort)
	})

	// A second RemoteCluster naming the same cluster, with its own host key.
	twin := &drv1.RemoteCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "twin"},
		Spec: drv1.RemoteClusterSpec{
			KubeconfigSecretRef: agentGetRC(t, env, "source").Spec.KubeconfigSecretRef,
			PVCSync: &drv1.PVCSyncSpec{Enabled: true, SSH: &drv1.SSHSpec{Port: 2500},
				Image: &drv1.ImageSpec{Repository: "registry.example/dr-syncer/dataplane", Tag: "v9"}},
		},
	}

	t.Run("other settings for the same cluster: AgentConflict naming the owner, its DaemonSet untouched", func(t *testing.T) {
		before, _ := agentDS(t, env)
		require.NoError(t, env.DR.Client.Create(ctx, twin))
		got := agentWaitRC(t, env, "twin", "AgentConflict", func(rc *drv1.RemoteCluster) bool {
			return meta.IsStatusConditionTrue(rc.Status.Conditions, drv1.ConditionAgentConflict)
		})
		c := meta.FindStatusCondition(got.Status.Conditions, drv1.ConditionAgentConflict)
		assert.Contains(t, c.Message, "belongs to RemoteCluster dr-syncer-system/source")
		assert.Contains(t, c.Message, "Give both RemoteClusters the same spec.pvcSync")
		assert.Equal(t, metav1.ConditionFalse, agentReady(got).Status)
		// Give a rollout that would wrongly run time to do harm.
		time.Sleep(2 * healthInterval)
		after, _ := agentDS(t, env)
		assert.Equal(t, before.Generation, after.Generation, "the owner's DaemonSet was not re-rolled")
		assert.True(t, agentListens(after, "2345"))
		assert.Equal(t, "dr-syncer-system/source", after.Annotations[contract.AnnotationAgentOwner])
		assert.Equal(t, controller.ReasonAgentReady, agentReady(agentGetRC(t, env, "source")).Reason, "the owner stays Ready")
	})

	t.Run("the same settings share the agent: both Ready, nothing re-rolled", func(t *testing.T) {
		before, _ := agentDS(t, env)
		agentEditRC(t, env, "twin", func(rc *drv1.RemoteCluster) {
			rc.Spec.PVCSync.SSH.Port = 2345
			// The same host key: it is part of what the agent runs with.
			rc.Spec.PVCSync.SSH.KeySecretRef = &drv1.SecretRef{Name: contract.AgentHostKeySecretName("source")}
		})
		got := agentWaitRC(t, env, "twin", "AgentReady", agentReadyIs(controller.ReasonAgentReady))
		assert.Contains(t, agentReady(got).Message, "shared: RemoteCluster dr-syncer-system/source owns")
		assert.False(t, meta.IsStatusConditionTrue(got.Status.Conditions, drv1.ConditionAgentConflict))
		after, _ := agentDS(t, env)
		assert.Equal(t, before.Generation, after.Generation, "sharing re-rolls nothing")
		assert.Equal(t, "dr-syncer-system/twin", after.Annotations[contract.AnnotationAgentSharers])
		assert.Equal(t, controller.ReasonAgentReady, agentReady(agentGetRC(t, env, "source")).Reason)
	})

	t.Run("when the owner is deleted, the sharer takes the agent over", func(t *testing.T) {
		require.NoError(t, env.DR.Client.Delete(ctx, agentGetRC(t, env, "source")))
		agentEventually(t, "twin owns the DaemonSet", func() bool {
			ds, ok := agentDS(t, env)
			return ok && ds.Annotations[contract.AnnotationAgentOwner] == "dr-syncer-system/twin"
		})
		ds, _ := agentDS(t, env)
		assert.Empty(t, ds.Annotations[contract.AnnotationAgentSharers], "the owner is no sharer of its own")
		agentPlayDaemonSetController(t, env.Source.Client, 2)
		got := agentWaitRC(t, env, "twin", "AgentReady as owner", func(rc *drv1.RemoteCluster) bool {
			c := agentReady(rc)
			return c != nil && c.Reason == controller.ReasonAgentReady && c.Message == "agent ready on 2/2 nodes"
		})
		assert.Equal(t, metav1.ConditionTrue, agentReady(got).Status)
	})
}
