package integration

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/activities/agent"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// ownerHostKey creates the control-cluster host key Secret of a RemoteCluster.
func ownerHostKey(t *testing.T, env *testenv.Env, cluster string) contract.SecretRef {
	t.Helper()
	private, public, err := keys.GenerateHostKey("test " + cluster)
	require.NoError(t, err)
	ref := contract.SecretRef{Namespace: testenv.ControlNamespace, Name: contract.AgentHostKeySecretName(cluster)}
	require.NoError(t, env.DR.Client.Create(context.Background(), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name},
		Data:       map[string][]byte{contract.SecretKeyHostPrivate: private.Reveal(), contract.SecretKeyHostPublic: public},
	}))
	return ref
}

// ownerEnable turns pvcSync on in a RemoteCluster of the control cluster,
// which is what makes it a live owner or sharer.
func ownerEnable(t *testing.T, env *testenv.Env, rc *drv1.RemoteCluster) {
	t.Helper()
	rc.Spec.PVCSync = &drv1.PVCSyncSpec{Enabled: true}
	require.NoError(t, env.DR.Client.Update(context.Background(), rc))
}

// The activities themselves decide ownership of the cluster's one agent:
// a conflicting apply changes nothing, a matching one only joins, and a
// removal never deletes an agent another RemoteCluster uses.
func TestAgentOwnership(t *testing.T) {
	env := testenv.Start(t)
	ctx := context.Background()
	a := &agent.AgentActivities{Clusters: kube.NewClusters(env.DR.Client, kube.KubeconfigPolicy{}), Control: env.DR.Client}
	ownerEnable(t, env, agentGetRC(t, env, "source"))
	twinRC := &drv1.RemoteCluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "twin"},
		Spec:       drv1.RemoteClusterSpec{KubeconfigSecretRef: agentGetRC(t, env, "source").Spec.KubeconfigSecretRef},
	}
	require.NoError(t, env.DR.Client.Create(ctx, twinRC))
	ownerEnable(t, env, twinRC)

	cfg := contract.AgentConfig{Image: "registry.example/agent:v1", PullPolicy: corev1.PullIfNotPresent, Port: 2345}
	source := contract.AgentRolloutInput{Cluster: contract.ClusterRef{Namespace: testenv.ControlNamespace, Name: "source"},
		Version: "s1", Config: cfg, HostKey: ownerHostKey(t, env, "source")}
	other := cfg
	other.Port = 2500
	twin := contract.AgentRolloutInput{Cluster: contract.ClusterRef{Namespace: testenv.ControlNamespace, Name: "twin"},
		Version: "t1", Config: other, HostKey: ownerHostKey(t, env, "twin")}

	applied, err := a.ApplyAgent(ctx, source)
	require.NoError(t, err)
	assert.Equal(t, "dr-syncer-system/source", applied.Owner)
	assert.False(t, applied.Shared)
	ds, _ := agentDS(t, env)
	var remoteKey corev1.Secret
	keyRef := client.ObjectKey{Namespace: contract.AgentNamespace, Name: "dr-syncer-agent-host-key"}
	require.NoError(t, env.Source.Client.Get(ctx, keyRef, &remoteKey))

	t.Run("other settings are refused, non-retryable, naming the owner, and nothing is applied", func(t *testing.T) {
		_, err := a.ApplyAgent(ctx, twin)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "an application error: %v", err)
		assert.Equal(t, contract.ErrTypeAgentConflict, appErr.Type())
		assert.True(t, appErr.NonRetryable())
		assert.Contains(t, appErr.Error(), "belongs to RemoteCluster dr-syncer-system/source")
		after, _ := agentDS(t, env)
		assert.Equal(t, ds.ResourceVersion, after.ResourceVersion, "the DaemonSet is untouched")
		var key corev1.Secret
		require.NoError(t, env.Source.Client.Get(ctx, keyRef, &key))
		assert.Equal(t, remoteKey.ResourceVersion, key.ResourceVersion, "the owner's host key is untouched")
	})

	t.Run("the same settings join: no spec change, listed as a sharer", func(t *testing.T) {
		same := twin
		same.Config, same.HostKey = cfg, source.HostKey
		applied, err := a.ApplyAgent(ctx, same)
		require.NoError(t, err)
		assert.True(t, applied.Shared)
		assert.Equal(t, "dr-syncer-system/source", applied.Owner)
		after, _ := agentDS(t, env)
		assert.Equal(t, ds.Generation, after.Generation)
		assert.Equal(t, "dr-syncer-system/twin", after.Annotations[contract.AnnotationAgentSharers])
		assert.Equal(t, "dr-syncer-system/source", after.Annotations[contract.AnnotationAgentOwner])

		// The owner's next apply keeps the sharer.
		_, err = a.ApplyAgent(ctx, source)
		require.NoError(t, err)
		after, _ = agentDS(t, env)
		assert.Equal(t, "dr-syncer-system/twin", after.Annotations[contract.AnnotationAgentSharers])
	})

	t.Run("a sharer's removal keeps the agent; the owner's hands it to a live sharer", func(t *testing.T) {
		removed, err := a.RemoveAgent(ctx, twin.Cluster)
		require.NoError(t, err)
		assert.Equal(t, "dr-syncer-system/source", removed.KeptFor)
		after, ok := agentDS(t, env)
		require.True(t, ok, "the owner's agent stays")
		assert.Empty(t, after.Annotations[contract.AnnotationAgentSharers])

		same := twin
		same.Config, same.HostKey = cfg, source.HostKey
		_, err = a.ApplyAgent(ctx, same)
		require.NoError(t, err)
		removed, err = a.RemoveAgent(ctx, source.Cluster)
		require.NoError(t, err)
		assert.Equal(t, "dr-syncer-system/twin", removed.KeptFor)
		after, ok = agentDS(t, env)
		require.True(t, ok, "the sharer's agent stays")
		assert.Equal(t, "dr-syncer-system/twin", after.Annotations[contract.AnnotationAgentOwner])

		// The last user's removal deletes it.
		removed, err = a.RemoveAgent(ctx, twin.Cluster)
		require.NoError(t, err)
		assert.Empty(t, removed.KeptFor)
		_, ok = agentDS(t, env)
		assert.False(t, ok)
	})
}
