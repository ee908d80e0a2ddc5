package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// cmKeySecret reads the mapping's key Secret from the control cluster.
func cmKeySecret(t *testing.T, env *testenv.Env) (*corev1.Secret, bool) {
	t.Helper()
	var s corev1.Secret
	err := env.DR.Client.Get(context.Background(), client.ObjectKey{Namespace: testenv.ControlNamespace, Name: contract.ClusterKeySecretName("source", "dr")}, &s)
	return &s, err == nil
}

// cmFingerprint checks the Secret's key pair and returns the public key's fingerprint.
func cmFingerprint(t *testing.T, s *corev1.Secret) string {
	t.Helper()
	signer, err := keys.ParsePrivateKey(s.Data[contract.SecretKeyClusterPrivate])
	require.NoError(t, err, "private key is OpenSSH PEM")
	assert.Equal(t, "ssh-ed25519", signer.PublicKey().Type())
	pub, err := keys.ParsePublicKey(s.Data[contract.SecretKeyClusterPublic])
	require.NoError(t, err)
	assert.Equal(t, keys.Fingerprint(pub), keys.Fingerprint(signer.PublicKey()), "public half matches the private key")
	return keys.Fingerprint(pub)
}

// cmAuthorized lists the fingerprints the source agent's authorized-keys Secret holds.
func cmAuthorized(t *testing.T, env *testenv.Env) []string {
	t.Helper()
	var s corev1.Secret
	if err := env.Source.Client.Get(context.Background(), client.ObjectKey{Namespace: contract.AgentNamespace, Name: "dr-syncer-agent-authorized-keys"}, &s); err != nil {
		return nil
	}
	set, err := keys.ParseAuthorizedKeys(s.Data["authorized_keys"])
	require.NoError(t, err)
	var fps []string
	for _, k := range set.Keys() {
		fps = append(fps, k.Fingerprint)
	}
	return fps
}

// The ClusterMapping reconciler (with the RemoteCluster reconciler, which
// rolls its keys out) against real API servers, Temporal and a worker.
func TestControllerClusterMapping(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	agentStartWorker(t, env)
	agentRunController(t, env)

	agentEditRC(t, env, "source", func(rc *drv1.RemoteCluster) { rc.Spec.PVCSync = &drv1.PVCSyncSpec{Enabled: true} })
	m := &drv1.ClusterMapping{
		ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "source-to-dr"},
		// Keys only; TestConnectivity covers the check.
		Spec: drv1.ClusterMappingSpec{SourceCluster: "source", TargetCluster: "dr", VerifyConnectivity: ptrTo(false)},
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

	var first string
	t.Run("the cluster-pair key is generated, stored and rolled out to the source agent", func(t *testing.T) {
		var s *corev1.Secret
		agentEventually(t, "key Secret", func() bool {
			var ok bool
			s, ok = cmKeySecret(t, env)
			return ok
		})
		first = cmFingerprint(t, s)
		assert.Empty(t, s.Data[contract.SecretKeyClusterPreviousPublic])
		agentEventually(t, "status.keyGeneratedAt", func() bool { return getM().Status.KeyGeneratedAt != nil })

		agentEventually(t, "the key in the agent's authorized keys", func() bool {
			return assert.ObjectsAreEqual([]string{first}, cmAuthorized(t, env))
		})
		got := getM()
		assert.Equal(t, drv1.ClusterMappingPending, got.Status.Phase)
		assert.Equal(t, controller.ReasonWaitingForAgent, ready(got).Reason)
		assert.Contains(t, ready(got).Message, "waiting for the agent on source RemoteCluster source")

		agentPlayDaemonSetController(t, env.Source.Client, 2)
		agentEventually(t, "mapping sees the agent ready", func() bool {
			c := ready(getM())
			return c != nil && c.Reason == controller.ReasonNotVerified
		})
	})

	t.Run("rotate-keys rotates with an overlap, then drops the previous key once the agent has the new one", func(t *testing.T) {
		// One node's agent is restarting: the rollout that carries the new
		// key waits for it, and so the overlap must hold. (The keys change
		// no pod template: a ready agent ends the overlap within a second.)
		agentPlayDaemonSet(t, env.Source.Client, 2, 1, 0)
		testenv.Edit(t, env.DR.Client, getM(), func(m *drv1.ClusterMapping) {
			m.Annotations = map[string]string{drv1.AnnotationRotateKeys: "r1"}
		})

		var s *corev1.Secret
		agentEventually(t, "rotated key", func() bool {
			s, _ = cmKeySecret(t, env)
			return s != nil && len(s.Data[contract.SecretKeyClusterPreviousPublic]) > 0
		})
		second := cmFingerprint(t, s)
		assert.NotEqual(t, first, second)
		prev, err := keys.ParsePublicKey(s.Data[contract.SecretKeyClusterPreviousPublic])
		require.NoError(t, err)
		assert.Equal(t, first, keys.Fingerprint(prev), "the previous key is the old one")
		agentEventually(t, "rotateKeysHandled", func() bool { return getM().Status.RotateKeysHandled == "r1" })
		assert.Contains(t, ready(getM()).Message, "key rotation in progress")

		// Both keys are authorized during the overlap.
		agentEventually(t, "both keys authorized", func() bool {
			fps := cmAuthorized(t, env)
			return len(fps) == 2 && strings.Contains(strings.Join(fps, " "), first) && strings.Contains(strings.Join(fps, " "), second)
		})
		// The previous key stays until the rollout that carries the new one completes.
		time.Sleep(4 * ctlPoll)
		s, _ = cmKeySecret(t, env)
		assert.NotEmpty(t, s.Data[contract.SecretKeyClusterPreviousPublic], "overlap holds while the agent rolls out")

		agentPlayDaemonSetController(t, env.Source.Client, 2)
		agentEventually(t, "previous key dropped", func() bool {
			s, _ = cmKeySecret(t, env)
			return s != nil && len(s.Data[contract.SecretKeyClusterPreviousPublic]) == 0
		})
		assert.Equal(t, second, cmFingerprint(t, s), "the new key stays")
		agentEventually(t, "only the new key authorized", func() bool {
			return assert.ObjectsAreEqual([]string{second}, cmAuthorized(t, env))
		})
	})

	t.Run("a missing RemoteCluster fails the mapping with what to fix", func(t *testing.T) {
		bad := &drv1.ClusterMapping{
			ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "prod-to-dr"},
			Spec:       drv1.ClusterMappingSpec{SourceCluster: "prod", TargetCluster: "dr"},
		}
		require.NoError(t, env.DR.Client.Create(ctx, bad))
		var got drv1.ClusterMapping
		agentEventually(t, "Failed", func() bool {
			require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKeyFromObject(bad), &got))
			return got.Status.Phase == drv1.ClusterMappingFailed
		})
		c := meta.FindStatusCondition(got.Status.Conditions, drv1.ConditionReady)
		require.NotNil(t, c)
		assert.Equal(t, controller.ReasonMappingInvalidReference, c.Reason)
		assert.Contains(t, c.Message, "RemoteCluster dr-syncer-system/prod not found")
	})
}
