package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// The agent host key rotates on the rotate-host-key annotation: the
// previous key stays in the Secret, pinned by every sync credential issued
// meanwhile, until the rollout of the new key completed on every node; a
// second request waits for that. Real API servers, a real Temporal dev
// server and a real worker; the test plays the DaemonSet controller, which
// envtest lacks, so it decides when "every node runs the new key".
func TestControllerHostKeyRotation(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	agentStartWorker(t, env)
	agentRunController(t, env)
	hostRef := contract.SecretRef{Namespace: testenv.ControlNamespace, Name: contract.AgentHostKeySecretName("source")}
	hostKey := func() *corev1.Secret {
		var s corev1.Secret
		require.NoError(t, env.DR.Client.Get(ctx, client.ObjectKey{Namespace: hostRef.Namespace, Name: hostRef.Name}, &s))
		return &s
	}
	// pinned is what a sync credential issued now pins: the activities'
	// own reading of the two Secrets.
	clusterRef := contract.SecretRef{Namespace: testenv.ControlNamespace, Name: "pair"}
	pair, err := keys.GenerateClusterPairKey("test")
	require.NoError(t, err)
	require.NoError(t, env.DR.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: clusterRef.Namespace, Name: clusterRef.Name},
		Data:       map[string][]byte{contract.SecretKeyClusterPrivate: pair.PrivateKey.Reveal(), contract.SecretKeyClusterPublic: pair.AuthorizedKey},
	}))
	pinned := func() []string {
		auth, err := activities.LoadSSHAuthority(ctx, env.DR.Client, clusterRef, hostRef)
		require.NoError(t, err)
		ks, err := keys.ParseHostKeys(auth.HostKeys)
		require.NoError(t, err)
		var fps []string
		for _, k := range ks {
			fps = append(fps, keys.Fingerprint(k))
		}
		return fps
	}
	fingerprint := resolve.PublicKeyFingerprint
	rotating := func(rc *drv1.RemoteCluster) *metav1.Condition {
		return meta.FindStatusCondition(rc.Status.Conditions, drv1.ConditionHostKeyRotating)
	}
	agentRunsKey := func(fp string) {
		t.Helper()
		agentEventually(t, "the agent's host key Secret in the source cluster carries "+fp, func() bool {
			var s corev1.Secret
			return env.Source.Client.Get(ctx, client.ObjectKey{Namespace: contract.AgentNamespace, Name: "dr-syncer-agent-host-key"}, &s) == nil &&
				fingerprint(s.Data[contract.SecretKeyHostPublic]) == fp
		})
	}

	agentEditRC(t, env, "source", func(rc *drv1.RemoteCluster) { rc.Spec.PVCSync = &drv1.PVCSyncSpec{Enabled: true} })
	played := agentPlayDaemonSetController(t, env.Source.Client, 3)
	agentWaitRC(t, env, "source", "AgentReady", func(rc *drv1.RemoteCluster) bool {
		c := agentReady(rc)
		return c != nil && c.Reason == controller.ReasonAgentReady
	})
	first := fingerprint(hostKey().Data[contract.SecretKeyHostPublic])
	assert.Equal(t, []string{first}, pinned())

	// Annotating rotates: a new pair, the old public key kept as previous.
	agentEditRC(t, env, "source", func(rc *drv1.RemoteCluster) {
		metav1.SetMetaDataAnnotation(&rc.ObjectMeta, drv1.AnnotationRotateHostKey, "r1")
	})
	agentEventually(t, "the host key Secret rotated", func() bool {
		return hostKey().Annotations[contract.AnnotationRotateKeysHandled] == "r1"
	})
	s := hostKey()
	second := fingerprint(s.Data[contract.SecretKeyHostPublic])
	assert.NotEqual(t, first, second)
	assert.Equal(t, first, fingerprint(s.Data[contract.SecretKeyHostPreviousPublic]))
	signer, err := keys.ParsePrivateKey(s.Data[contract.SecretKeyHostPrivate])
	require.NoError(t, err)
	assert.Equal(t, second, keys.Fingerprint(signer.PublicKey()), "the private half is the new key's")
	assert.ElementsMatch(t, []string{first, second}, pinned(), "a sync issued during the rotation accepts agents with either key")
	agentWaitRC(t, env, "source", "HostKeyRotating True, rolling out", func(rc *drv1.RemoteCluster) bool {
		c := rotating(rc)
		return c != nil && c.Status == metav1.ConditionTrue && rc.Status.Agent.RotateHostKeyHandled == "r1" &&
			strings.Contains(c.Message, "agents rolling out with the new key "+second) &&
			strings.Contains(c.Message, "the previous key stays pinned until all 3 nodes run it")
	})
	agentRunsKey(second)

	// A second request during the overlap waits: nothing is rotated, the
	// first key stays pinned, while the agents have not all restarted.
	agentEditRC(t, env, "source", func(rc *drv1.RemoteCluster) {
		metav1.SetMetaDataAnnotation(&rc.ObjectMeta, drv1.AnnotationRotateHostKey, "r2")
	})
	time.Sleep(6 * ctlPoll)
	s = hostKey()
	assert.Equal(t, "r1", s.Annotations[contract.AnnotationRotateKeysHandled])
	assert.Equal(t, second, fingerprint(s.Data[contract.SecretKeyHostPublic]))
	assert.Equal(t, first, fingerprint(s.Data[contract.SecretKeyHostPreviousPublic]))
	got := agentGetRC(t, env, "source")
	assert.Contains(t, rotating(got).Message, "the next rotation asked for waits until this one ends")

	// Every node runs the new agent: the first key goes, and the waiting
	// request rotates again, keeping the second key pinned. The new key
	// changes the pod template, so the rollout moves the generation on.
	played = agentPlayDaemonSet(t, env.Source.Client, 3, 3, played)
	agentEventually(t, "the second rotation, after the first overlap ended", func() bool {
		return hostKey().Annotations[contract.AnnotationRotateKeysHandled] == "r2"
	})
	s = hostKey()
	third := fingerprint(s.Data[contract.SecretKeyHostPublic])
	assert.Equal(t, second, fingerprint(s.Data[contract.SecretKeyHostPreviousPublic]), "the previous key is the one the agents run")
	assert.ElementsMatch(t, []string{second, third}, pinned(), "the first key is no longer pinned")
	agentEventually(t, "the first overlap's end is an Event", func() bool {
		return len(rcEvents(t, env, "source", controller.EventHostKeyRotationComplete)) > 0
	})

	agentRunsKey(third)
	agentPlayDaemonSet(t, env.Source.Client, 3, 3, played)
	agentEventually(t, "the previous key dropped", func() bool {
		return len(hostKey().Data[contract.SecretKeyHostPreviousPublic]) == 0
	})
	assert.Equal(t, []string{third}, pinned())
	got = agentWaitRC(t, env, "source", "HostKeyRotating False", func(rc *drv1.RemoteCluster) bool {
		c := rotating(rc)
		return c != nil && c.Status == metav1.ConditionFalse
	})
	assert.Equal(t, controller.ReasonHostKeyRotationComplete, rotating(got).Reason)
	assert.Contains(t, rotating(got).Message, "all 3 nodes run the new key "+third)
	assert.Equal(t, "r2", got.Status.Agent.RotateHostKeyHandled)
	agentEventually(t, "one Event per rotation", func() bool {
		return len(rcEvents(t, env, "source", controller.EventHostKeyRotated)) == 2
	})
}

// rcEvents lists the Events with reason recorded on the RemoteCluster.
func rcEvents(t *testing.T, env *testenv.Env, name, reason string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	require.NoError(t, env.DR.Client.List(context.Background(), &list, client.InNamespace(testenv.ControlNamespace)))
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "RemoteCluster" && e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}
