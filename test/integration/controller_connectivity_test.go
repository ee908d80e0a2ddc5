package integration

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities/connectivity"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/sshcheck"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// connCheckPod waits for the check pod in the DR cluster and returns it.
func connCheckPod(t *testing.T, env *testenv.Env, notUID string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	agentEventually(t, "a connectivity check pod in the DR cluster", func() bool {
		var pods corev1.PodList
		require.NoError(t, env.DR.Client.List(context.Background(), &pods, client.InNamespace(contract.ConnectivityNamespace),
			client.MatchingLabels{kube.LabelRole: connectivity.RoleConnectivityCheck}))
		for i := range pods.Items {
			if string(pods.Items[i].UID) != notUID && pods.Items[i].DeletionTimestamp == nil {
				pod = &pods.Items[i]
				return true
			}
		}
		return false
	})
	return pod
}

// connPlayKubelet ends the check pod as the kubelet would once sshcheck
// exits: envtest runs no pods, so the status is written by hand.
func connPlayKubelet(t *testing.T, env *testenv.Env, pod *corev1.Pod, results []sshcheck.Result) {
	t.Helper()
	summary := sshcheck.Summarize(results)
	msg, err := summary.Marshal()
	require.NoError(t, err)
	exit, phase := int32(0), corev1.PodSucceeded
	if !summary.Connected {
		exit, phase = 1, corev1.PodFailed
	}
	pod.Status = corev1.PodStatus{Phase: phase, ContainerStatuses: []corev1.ContainerStatus{{
		Name: "sshcheck", Image: pod.Spec.Containers[0].Image,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: exit, Reason: "Completed", Message: string(msg),
			StartedAt: metav1.Now(), FinishedAt: metav1.Now(),
		}},
	}}}
	require.NoError(t, env.DR.Client.Status().Update(context.Background(), pod))
}

// connGone waits until the check's pod and Secret are deleted.
func connGone(t *testing.T, env *testenv.Env, pod *corev1.Pod) {
	t.Helper()
	op := pod.Labels[kube.LabelOperation]
	agentEventually(t, "check pod and Secret cleaned up", func() bool {
		var pods corev1.PodList
		var secrets corev1.SecretList
		sel := client.MatchingLabels{kube.LabelOperation: op}
		require.NoError(t, env.DR.Client.List(context.Background(), &pods, client.InNamespace(contract.ConnectivityNamespace), sel))
		require.NoError(t, env.DR.Client.List(context.Background(), &secrets, client.InNamespace(contract.ConnectivityNamespace), sel))
		return len(pods.Items) == 0 && len(secrets.Items) == 0
	})
}

// The connectivity check end to end against real API servers, Temporal and
// a worker: the controller starts the workflow, the activity creates the
// pod (the test plays its kubelet) and the mapping follows the result.
func TestConnectivity(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	agentStartWorker(t, env)
	agentRunController(t, env)
	node(t, env.Source.Client, "node-a", "10.0.0.1", "zone-a", true, false)
	node(t, env.Source.Client, "node-b", "10.0.0.2", "zone-a", true, false)

	agentEditRC(t, env, "source", func(rc *drv1.RemoteCluster) {
		rc.Spec.PVCSync = &drv1.PVCSyncSpec{Enabled: true, SSH: &drv1.SSHSpec{Port: 2022}}
	})
	m := &drv1.ClusterMapping{
		ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "source-to-dr"},
		Spec:       drv1.ClusterMappingSpec{SourceCluster: "source", TargetCluster: "dr"},
	}
	require.NoError(t, env.DR.Client.Create(ctx, m))
	getM := func() *drv1.ClusterMapping {
		var got drv1.ClusterMapping
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKeyFromObject(m), &got))
		return &got
	}
	ready := func(got *drv1.ClusterMapping) *metav1.Condition {
		return meta.FindStatusCondition(got.Status.Conditions, drv1.ConditionReady)
	}
	agentEventually(t, "the key in the agent's authorized keys", func() bool {
		s, ok := cmKeySecret(t, env)
		return ok && assert.ObjectsAreEqual([]string{cmFingerprint(t, s)}, cmAuthorized(t, env))
	})
	agentPlayDaemonSetController(t, env.Source.Client, 2)
	agents := []string{"10.0.0.1:2022", "10.0.0.2:2022"}

	t.Run("the check pod's spec is accepted by the API server", func(t *testing.T) {
		pod := kube.ConnectivityPod(kube.ConnectivityPodOptions{
			Name: "dry-run", Namespace: "default", Image: drv1.DefaultDataPlaneImage, PullPolicy: corev1.PullIfNotPresent,
			Labels: map[string]string{kube.LabelManagedBy: kube.ManagedBy}, KeySecret: "keys", Timeout: "10s", Agents: agents,
		})
		require.NoError(t, env.DR.Client.Create(ctx, pod, client.DryRunAll))
	})

	var first *corev1.Pod
	t.Run("Connecting, then Failed with a wrong key", func(t *testing.T) {
		agentEventually(t, "Connecting", func() bool { return getM().Status.Phase == drv1.ClusterMappingConnecting })
		defer func() {
			if t.Failed() {
				t.Logf("mapping status: %+v", getM().Status)
			}
		}()
		first = connCheckPod(t, env, "")
		c := first.Spec.Containers[0]
		assert.Equal(t, drv1.DefaultDataPlaneImage, c.Image)
		assert.Equal(t, "/usr/local/bin/sshcheck", c.Command[0])
		assert.Equal(t, agents, c.Command[len(c.Command)-2:], "one address per ready agent node, with pvcSync.ssh.port")
		assert.Equal(t, corev1.RestartPolicyNever, first.Spec.RestartPolicy)
		var keySecret corev1.Secret
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: first.Namespace, Name: first.Spec.Volumes[0].Secret.SecretName}, &keySecret))
		assert.NotContains(t, keySecret.Data, kube.SecretKeyClusterKey, "the cluster-pair key stays in the control cluster")
		assert.NotEmpty(t, keySecret.Data[kube.SecretKeyAgentHostKey])
		cert, err := keys.ParseCert(keySecret.Data[kube.SecretKeyOpCert])
		require.NoError(t, err)
		target, err := keys.CertTarget(cert)
		require.NoError(t, err)
		assert.Equal(t, keys.ProbeTarget, target, "a check certificate opens nothing")
		_, err = keys.CertSigner(keySecret.Data[kube.SecretKeyOpKey], keySecret.Data[kube.SecretKeyOpCert])
		require.NoError(t, err)
		got := getM()
		assert.Equal(t, controller.ReasonCheckingConnectivity, ready(got).Reason)
		require.NotNil(t, got.Status.ConnectivityCheck)
		assert.True(t, strings.HasPrefix(got.Status.ConnectivityCheck.WorkflowID, "connectivity/"+testenv.ControlNamespace+"/source-to-dr/"))

		connPlayKubelet(t, env, first, []sshcheck.Result{{Addr: agents[0], OK: true},
			{Addr: agents[1], Kind: sshcheck.KindAuth, Error: "authentication failed (the agent does not accept this cluster key)"}})
		agentEventually(t, "Failed", func() bool { return getM().Status.Phase == drv1.ClusterMappingFailed })
		got = getM()
		c2 := ready(got)
		assert.Equal(t, controller.ReasonConnectivityFailed, c2.Reason)
		assert.Equal(t, metav1.ConditionFalse, c2.Status)
		assert.Contains(t, c2.Message, "agent 10.0.0.2:2022: authentication failed (the agent does not accept this cluster key)")
		assert.Contains(t, c2.Message, "rotate keys")
		assert.NotContains(t, c2.Message, "10.0.0.1:2022", "only failing agents are named")
		assert.NotNil(t, got.Status.LastVerified)
		connGone(t, env, first)
	})

	t.Run("a new check after a spec change reaches Connected", func(t *testing.T) {
		require.NotNil(t, first, "the first check ran")
		got := getM()
		before := got.Status.ConnectivityCheck.WorkflowID
		testenv.Edit(t, env.DR.Client, got, func(m *drv1.ClusterMapping) { m.Spec.ConnectivityTimeoutSeconds = 120 })
		pod := connCheckPod(t, env, string(first.UID))
		assert.NotEqual(t, first.Labels[kube.LabelOperation], pod.Labels[kube.LabelOperation])
		connPlayKubelet(t, env, pod, []sshcheck.Result{{Addr: agents[0], OK: true}, {Addr: agents[1], OK: true}})
		agentEventually(t, "Connected", func() bool { return getM().Status.Phase == drv1.ClusterMappingConnected })
		got = getM()
		c := ready(got)
		assert.Equal(t, controller.ReasonConnected, c.Reason)
		assert.Equal(t, metav1.ConditionTrue, c.Status)
		assert.Contains(t, c.Message, "all 2 agents")
		require.NotNil(t, got.Status.ConnectivityCheck)
		assert.NotEqual(t, before, got.Status.ConnectivityCheck.WorkflowID)
		assert.NotEmpty(t, got.Status.ConnectivityCheck.RunID)
		assert.Equal(t, "Completed", got.Status.ConnectivityCheck.Result)
		assert.NotNil(t, got.Status.LastVerified)
		connGone(t, env, pod)

		// Key material never enters the workflow histories: they carry the
		// agents' addresses, and Secrets only by reference.
		key, ok := cmKeySecret(t, env)
		require.True(t, ok)
		pem := strings.Split(string(key.Data[contract.SecretKeyClusterPrivate]), "\n")
		require.Greater(t, len(pem), 3, "an OpenSSH PEM key")
		for _, id := range []string{before, got.Status.ConnectivityCheck.WorkflowID} {
			history := connHistoryText(t, env, id)
			assert.Contains(t, history, agents[1], "the history of %s is read in full", id)
			assert.NotContains(t, history, "PRIVATE KEY", id)
			assert.NotContains(t, history, pem[2], "the cluster key's key-pair line is not in %s", id)
		}
	})
}

// connHistoryText is the workflow's whole history as text, payloads included.
func connHistoryText(t *testing.T, env *testenv.Env, workflowID string) string {
	t.Helper()
	it := env.Temporal.Client.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var b strings.Builder
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		b.WriteString(ev.String())
	}
	return b.String()
}
