package integration

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"go.temporal.io/sdk/activity"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/agent"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
	"github.com/dr-syncer/dr-syncer/worker"
	"github.com/dr-syncer/dr-syncer/workflows"
)

// agentStartWorker runs a worker with everything worker.Register adds plus
// the agent lifecycle. The agent registrations skip the duplicate check, so
// the test keeps working once worker.Register adds them itself.
func agentStartWorker(t *testing.T, env *testenv.Env) {
	t.Helper()
	deps := worker.Dependencies{Clusters: kube.NewClusters(env.DR.Client, kube.KubeconfigPolicy{}), Control: env.DR.Client}
	w := sdkworker.New(env.Temporal.Client, env.Temporal.TaskQueue, sdkworker.Options{})
	worker.Register(w, deps)
	w.RegisterWorkflowWithOptions(workflows.AgentRollout, workflow.RegisterOptions{Name: contract.AgentRolloutName, DisableAlreadyRegisteredCheck: true})
	w.RegisterActivityWithOptions(&agent.AgentActivities{Clusters: deps.Clusters, Control: deps.Control}, activity.RegisterOptions{DisableAlreadyRegisteredCheck: true})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}

// agentRunController runs the RemoteCluster and ClusterMapping reconcilers
// in a manager against the DR (control) cluster, as cmd/controller does.
func agentRunController(t *testing.T, env *testenv.Env) {
	t.Helper()
	mgr := ctlManager(t, env)
	s := ctlStarter(env)
	rcs := &controller.RemoteClusterReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Temporal: s,
		Prober:       kube.NewClusters(mgr.GetAPIReader(), kube.KubeconfigPolicy{}),
		Recorder:     mgr.GetEventRecorder("dr-syncer-controller"),
		PollInterval: ctlPoll, HealthInterval: 2 * time.Second,
	}
	require.NoError(t, rcs.SetupWithManager(mgr))
	cms := &controller.ClusterMappingReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Temporal: s, PollInterval: ctlPoll}
	require.NoError(t, cms.SetupWithManager(mgr))
	ctlStartManager(t, mgr)
}

func agentGetRC(t *testing.T, env *testenv.Env, name string) *drv1.RemoteCluster {
	t.Helper()
	var rc drv1.RemoteCluster
	require.NoError(t, env.DR.Client.Get(context.Background(), client.ObjectKey{Namespace: testenv.ControlNamespace, Name: name}, &rc))
	return &rc
}

// agentEditRC edits a RemoteCluster of the control cluster, retrying on
// conflicts: the controller writes it too (its finalizer, its status).
func agentEditRC(t *testing.T, env *testenv.Env, name string, edit func(*drv1.RemoteCluster)) {
	t.Helper()
	testenv.Edit(t, env.DR.Client, agentGetRC(t, env, name), edit)
}

// agentWaitRC waits until check accepts the RemoteCluster and returns it.
func agentWaitRC(t *testing.T, env *testenv.Env, name, what string, check func(*drv1.RemoteCluster) bool) *drv1.RemoteCluster {
	t.Helper()
	var last atomic.Pointer[drv1.RemoteCluster]
	if !assert.Eventually(t, func() bool {
		rc := agentGetRC(t, env, name)
		last.Store(rc)
		return check(rc)
	}, 60*time.Second, 200*time.Millisecond) {
		t.Fatalf("RemoteCluster %s never reached %s; status: %+v", name, what, last.Load().Status)
	}
	return last.Load()
}

func agentReady(rc *drv1.RemoteCluster) *metav1.Condition {
	return meta.FindStatusCondition(rc.Status.Conditions, drv1.ConditionReady)
}

// agentEventually waits for check against the source cluster.
func agentEventually(t *testing.T, what string, check func() bool) {
	t.Helper()
	if !assert.Eventually(t, check, 60*time.Second, 200*time.Millisecond) {
		t.Fatalf("never: %s", what)
	}
}

// agentPlayDaemonSetController does what kube-controller-manager would:
// envtest runs none, so the DaemonSet's status is set by hand, once the
// rollout (which writes the key Secrets first) has applied the DaemonSet.
// It returns the generation it reported as rolled out.
func agentPlayDaemonSetController(t *testing.T, c client.Client, nodes int32) int64 {
	t.Helper()
	return agentPlayDaemonSet(t, c, nodes, nodes, 0)
}

// agentPlayDaemonSet reports ready of nodes running the agent DaemonSet's
// template, once its generation is past after. A rollout that changes the
// pod template writes the Secrets before the DaemonSet, so a test that saw
// the new Secrets passes the generation it last reported: reporting the
// old template as rolled out would leave the new one waiting forever.
func agentPlayDaemonSet(t *testing.T, c client.Client, nodes, ready int32, after int64) int64 {
	t.Helper()
	var played int64
	agentEventually(t, fmt.Sprintf("the agent DaemonSet exists past generation %d and takes its status", after), func() bool {
		var ds appsv1.DaemonSet
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: contract.AgentNamespace, Name: "dr-syncer-agent"}, &ds); err != nil || ds.Generation <= after {
			return false
		}
		ds.Status = appsv1.DaemonSetStatus{
			ObservedGeneration: ds.Generation, DesiredNumberScheduled: nodes, CurrentNumberScheduled: nodes,
			UpdatedNumberScheduled: nodes, NumberReady: ready, NumberAvailable: ready,
		}
		played = ds.Generation
		return c.Status().Update(context.Background(), &ds) == nil
	})
	return played
}

// The RemoteCluster reconciler against the real control and source API
// servers, a real Temporal dev server and a real worker.
func TestControllerRemoteCluster(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	agentStartWorker(t, env)
	agentRunController(t, env)

	t.Run("reachable cluster is Healthy, a missing kubeconfig Secret Unhealthy with what to fix", func(t *testing.T) {
		rc := agentWaitRC(t, env, "source", "Healthy", func(rc *drv1.RemoteCluster) bool { return rc.Status.Health == controller.HealthHealthy })
		c := agentReady(rc)
		require.NotNil(t, c)
		assert.Equal(t, metav1.ConditionTrue, c.Status)
		assert.Equal(t, controller.ReasonClusterReachable, c.Reason)
		assert.NotNil(t, rc.Status.LastHealthCheck)
		assert.Nil(t, rc.Status.Agent, "no pvcSync, no agent")

		broken := &drv1.RemoteCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "lost"},
			Spec:       drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Name: "lost-kubeconfig", Key: "kubeconfig"}},
		}
		require.NoError(t, env.DR.Client.Create(ctx, broken))
		got := agentWaitRC(t, env, "lost", "Unhealthy", func(rc *drv1.RemoteCluster) bool { return rc.Status.Health == controller.HealthUnhealthy })
		c = agentReady(got)
		require.NotNil(t, c)
		assert.Equal(t, metav1.ConditionFalse, c.Status)
		assert.Equal(t, controller.ReasonKubeconfigMissing, c.Reason)
		assert.Contains(t, c.Message, "Secret dr-syncer-system/lost-kubeconfig with the kubeconfig of RemoteCluster dr-syncer-system/lost not found")

		// A kubeconfig pointing nowhere is Unreachable.
		require.NoError(t, env.DR.Client.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "lost-kubeconfig"},
			Data: map[string][]byte{"kubeconfig": []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: x}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`)},
		}))
		got = agentWaitRC(t, env, "lost", "Unreachable", func(rc *drv1.RemoteCluster) bool {
			c := agentReady(rc)
			return c != nil && c.Reason == controller.ReasonUnreachable
		})
		assert.Equal(t, controller.HealthUnhealthy, got.Status.Health)
		assert.Contains(t, agentReady(got).Message, "cannot reach the API server")
	})

	t.Run("pvcSync rolls the agent out with the spec's settings, reports 0/N, then N/N", func(t *testing.T) {
		agentEditRC(t, env, "source", func(rc *drv1.RemoteCluster) {
			rc.Spec.PVCSync = &drv1.PVCSyncSpec{
				Enabled: true,
				Image:   &drv1.ImageSpec{Repository: "registry.example/dr-syncer/dataplane", Tag: "v9", PullPolicy: corev1.PullAlways},
				SSH:     &drv1.SSHSpec{Port: 2345},
				Deployment: &drv1.AgentDeploymentSpec{
					HostNetwork:  ptrTo(true),
					NodeSelector: map[string]string{"dr-syncer.io/agent": "yes"},
					Tolerations:  []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "storage", Effect: corev1.TaintEffectNoSchedule}},
				},
			}
		})

		// The host key is generated into the control cluster.
		var hostKey corev1.Secret
		agentEventually(t, "host key Secret", func() bool {
			return env.DR.Client.Get(ctx, client.ObjectKey{Namespace: testenv.ControlNamespace, Name: contract.AgentHostKeySecretName("source")}, &hostKey) == nil
		})
		signer, err := keys.ParsePrivateKey(hostKey.Data[contract.SecretKeyHostPrivate])
		require.NoError(t, err)
		pub, err := keys.ParsePublicKey(hostKey.Data[contract.SecretKeyHostPublic])
		require.NoError(t, err)
		assert.Equal(t, keys.Fingerprint(pub), keys.Fingerprint(signer.PublicKey()), "public half matches the private key")

		// The DaemonSet lands in the source cluster with the spec's settings.
		var ds appsv1.DaemonSet
		agentEventually(t, "agent DaemonSet in the source cluster", func() bool {
			return env.Source.Client.Get(ctx, client.ObjectKey{Namespace: contract.AgentNamespace, Name: "dr-syncer-agent"}, &ds) == nil
		})
		pod := ds.Spec.Template.Spec
		require.Len(t, pod.Containers, 1)
		assert.Equal(t, "registry.example/dr-syncer/dataplane:v9", pod.Containers[0].Image)
		assert.Equal(t, corev1.PullAlways, pod.Containers[0].ImagePullPolicy)
		assert.Contains(t, pod.Containers[0].Args, "--listen=:2345")
		assert.Equal(t, int32(2345), pod.Containers[0].Ports[0].HostPort)
		// Metrics on by default, at a named port of the node, as the API server stored it.
		assert.Contains(t, pod.Containers[0].Args, "--metrics-addr=:2223")
		assert.Contains(t, pod.Containers[0].Ports, corev1.ContainerPort{Name: "metrics", ContainerPort: 2223, HostPort: 2223, Protocol: corev1.ProtocolTCP})
		assert.True(t, pod.HostNetwork)
		assert.Equal(t, map[string]string{"dr-syncer.io/agent": "yes"}, pod.NodeSelector)
		require.Len(t, pod.Tolerations, 1)
		assert.Equal(t, "dedicated", pod.Tolerations[0].Key)
		checksum := ds.Spec.Template.Annotations[contract.AnnotationAgentChecksum]
		assert.NotEmpty(t, checksum)

		var ns corev1.Namespace
		require.NoError(t, env.Source.Client.Get(ctx, client.ObjectKey{Name: contract.AgentNamespace}, &ns))
		var sa corev1.ServiceAccount
		require.NoError(t, env.Source.Client.Get(ctx, client.ObjectKey{Namespace: contract.AgentNamespace, Name: "dr-syncer-agent"}, &sa))
		var role rbacv1.ClusterRole
		require.NoError(t, env.Source.Client.Get(ctx, client.ObjectKey{Name: "dr-syncer-agent"}, &role))
		var binding rbacv1.ClusterRoleBinding
		require.NoError(t, env.Source.Client.Get(ctx, client.ObjectKey{Name: "dr-syncer-agent"}, &binding))
		var remoteHost corev1.Secret
		require.NoError(t, env.Source.Client.Get(ctx, client.ObjectKey{Namespace: contract.AgentNamespace, Name: "dr-syncer-agent-host-key"}, &remoteHost))
		assert.Equal(t, string(hostKey.Data[contract.SecretKeyHostPrivate]), string(remoteHost.Data[contract.SecretKeyHostPrivate]))
		var authorized corev1.Secret
		require.NoError(t, env.Source.Client.Get(ctx, client.ObjectKey{Namespace: contract.AgentNamespace, Name: "dr-syncer-agent-authorized-keys"}, &authorized))
		_, err = keys.ParseAuthorizedKeys(authorized.Data["authorized_keys"])
		require.NoError(t, err)

		// envtest has no DaemonSet controller: the status says 0 ready while waiting...
		got := agentWaitRC(t, env, "source", "AgentRollingOut", func(rc *drv1.RemoteCluster) bool {
			c := agentReady(rc)
			return c != nil && c.Reason == controller.ReasonAgentRollingOut && rc.Status.Agent != nil && rc.Status.Agent.Rollout != nil
		})
		assert.Equal(t, int32(0), got.Status.Agent.ReadyNodes)
		assert.NotNil(t, got.Status.Agent.KeyGeneratedAt)
		assert.Contains(t, got.Status.Agent.Rollout.WorkflowID, "agent-rollout/dr-syncer-system/source/")
		firstRollout := got.Status.Agent.Rollout.WorkflowID

		// ...and N/N once the DaemonSet is ready on every node.
		agentPlayDaemonSetController(t, env.Source.Client, 3)
		got = agentWaitRC(t, env, "source", "AgentReady", func(rc *drv1.RemoteCluster) bool {
			c := agentReady(rc)
			return c != nil && c.Reason == controller.ReasonAgentReady
		})
		assert.Equal(t, metav1.ConditionTrue, agentReady(got).Status)
		assert.Equal(t, int32(3), got.Status.Agent.ReadyNodes)
		assert.Equal(t, int32(3), got.Status.Agent.TotalNodes)
		assert.Equal(t, "Completed", got.Status.Agent.Rollout.Result)
		assert.Equal(t, firstRollout, got.Status.Agent.Rollout.WorkflowID, "one rollout per version, however often reconciled")

		// A spec change rolls out under a new ID and updates the DaemonSet.
		testenv.Edit(t, env.DR.Client, got, func(rc *drv1.RemoteCluster) { rc.Spec.PVCSync.SSH.Port = 2400 })
		agentEventually(t, "DaemonSet on the new port", func() bool {
			var ds appsv1.DaemonSet
			return env.Source.Client.Get(ctx, client.ObjectKey{Namespace: contract.AgentNamespace, Name: "dr-syncer-agent"}, &ds) == nil &&
				len(ds.Spec.Template.Spec.Containers) == 1 && ds.Spec.Template.Spec.Containers[0].Args[0] == "--listen=:2400" &&
				ds.Spec.Template.Annotations[contract.AnnotationAgentChecksum] != checksum
		})
		got = agentWaitRC(t, env, "source", "a new rollout", func(rc *drv1.RemoteCluster) bool {
			return rc.Status.Agent != nil && rc.Status.Agent.Rollout != nil && rc.Status.Agent.Rollout.WorkflowID != firstRollout
		})
		agentPlayDaemonSetController(t, env.Source.Client, 3)
		agentWaitRC(t, env, "source", "AgentReady again", func(rc *drv1.RemoteCluster) bool {
			c := agentReady(rc)
			return c != nil && c.Reason == controller.ReasonAgentReady && c.ObservedGeneration == rc.Generation
		})
	})

	t.Run("disabling pvcSync removes what the rollout installed, and nothing else", func(t *testing.T) {
		keep := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: contract.AgentNamespace, Name: "not-ours"}}
		require.NoError(t, env.Source.Client.Create(ctx, keep))
		agentEditRC(t, env, "source", func(rc *drv1.RemoteCluster) { rc.Spec.PVCSync.Enabled = false })
		got := agentWaitRC(t, env, "source", "agent removed", func(rc *drv1.RemoteCluster) bool {
			return rc.Status.Agent == nil && rc.Status.ObservedGeneration == rc.Generation
		})
		assert.Equal(t, controller.ReasonClusterReachable, agentReady(got).Reason)
		var dss appsv1.DaemonSetList
		require.NoError(t, env.Source.Client.List(ctx, &dss, client.InNamespace(contract.AgentNamespace)))
		assert.Empty(t, dss.Items)
		var secrets corev1.SecretList
		require.NoError(t, env.Source.Client.List(ctx, &secrets, client.InNamespace(contract.AgentNamespace)))
		assert.Empty(t, secrets.Items)
		var roles rbacv1.ClusterRoleList
		require.NoError(t, env.Source.Client.List(ctx, &roles, client.MatchingLabels{"app.kubernetes.io/component": "agent"}))
		assert.Empty(t, roles.Items)
		var sas corev1.ServiceAccountList
		require.NoError(t, env.Source.Client.List(ctx, &sas, client.InNamespace(contract.AgentNamespace)))
		assert.Empty(t, sas.Items)
		require.NoError(t, env.Source.Client.Get(ctx, client.ObjectKeyFromObject(keep), keep), "an object the rollout did not install stays")
	})
}

func ptrTo[T any](v T) *T { return &v }
