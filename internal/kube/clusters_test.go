package kube_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

func TestClustersResolveRemoteClusters(t *testing.T) {
	control := testenv.StartCluster(t, "control")
	control.RegisterRemoteCluster(t, "ns", control)
	ctx := context.Background()
	clusters := kube.NewClusters(control.Client, kube.KubeconfigPolicy{})

	cs, err := clusters.Clientset(ctx, "ns", "control")
	require.NoError(t, err)
	version, err := cs.Discovery().ServerVersion()
	require.NoError(t, err)
	assert.Equal(t, "v1.36.3", version.GitVersion)

	again, err := clusters.Clientset(ctx, "ns", "control")
	require.NoError(t, err)
	assert.Same(t, cs, again, "an unchanged kubeconfig reuses the client")

	require.NoError(t, control.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "wrong-key"},
		Data:       map[string][]byte{"config": []byte("x")},
	}))
	require.NoError(t, control.Client.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "garbage"},
		Data:       map[string][]byte{"kubeconfig": []byte("{not a kubeconfig")},
	}))
	for name, ref := range map[string]drv1.SecretKeyRef{
		"no-secret": {Name: "absent"},
		"no-key":    {Name: "wrong-key", Key: "kubeconfig"},
		"garbage":   {Name: "garbage"},
	} {
		require.NoError(t, control.Client.Create(ctx, &drv1.RemoteCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
			Spec:       drv1.RemoteClusterSpec{KubeconfigSecretRef: ref},
		}))
	}

	for name, want := range map[string]string{
		"unknown":   "RemoteCluster ns/unknown not found; create it or fix the name",
		"no-secret": `Secret ns/absent with the kubeconfig of RemoteCluster ns/no-secret not found: create it or fix spec.kubeconfigSecretRef`,
		"no-key":    `Secret ns/wrong-key has no key "kubeconfig" with the kubeconfig of RemoteCluster ns/no-key: add it or fix spec.kubeconfigSecretRef.key`,
		"garbage":   "kubeconfig of RemoteCluster ns/garbage does not parse",
	} {
		_, err := clusters.Config(ctx, "ns", name)
		require.Error(t, err, name)
		assert.True(t, errors.Is(err, kube.ErrInvalidClusterRef), "%s: %v is not ErrInvalidClusterRef", name, err)
		assert.Contains(t, err.Error(), want)
	}

	t.Run("a worker reuses a resolved cluster for a while", func(t *testing.T) {
		reads := &countingReader{Reader: control.Client}
		reusing := kube.NewClusters(reads, kube.KubeconfigPolicy{}).ReuseFor(time.Hour)
		first, err := reusing.Clientset(ctx, "ns", "control")
		require.NoError(t, err)
		again, err := reusing.Clientset(ctx, "ns", "control")
		require.NoError(t, err)
		assert.Same(t, first, again)
		assert.Equal(t, 2, reads.gets, "one read of the RemoteCluster and one of its Secret")

		rereads := &countingReader{Reader: control.Client}
		refreshing := kube.NewClusters(rereads, kube.KubeconfigPolicy{}).ReuseFor(time.Second)
		_, err = refreshing.Clientset(ctx, "ns", "control")
		require.NoError(t, err)
		time.Sleep(1100 * time.Millisecond)
		for range 2 {
			_, err = refreshing.Clientset(ctx, "ns", "control")
			require.NoError(t, err)
		}
		assert.Equal(t, 4, rereads.gets, "read again once its reuse ended, and reused again after that read")

		expiring := kube.NewClusters(control.Client, kube.KubeconfigPolicy{}).ReuseFor(time.Millisecond)
		_, err = expiring.Clientset(ctx, "ns", "control")
		require.NoError(t, err)
		require.NoError(t, control.Client.Delete(ctx, &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "control"}}))
		_, err = reusing.Clientset(ctx, "ns", "control")
		assert.NoError(t, err, "within its reuse, a deleted RemoteCluster still serves")
		time.Sleep(10 * time.Millisecond)
		_, err = expiring.Clientset(ctx, "ns", "control")
		assert.ErrorIs(t, err, kube.ErrInvalidClusterRef, "after its reuse, the deletion takes effect")
		_, err = clusters.Clientset(ctx, "ns", "control")
		assert.ErrorIs(t, err, kube.ErrInvalidClusterRef, "without reuse, the deletion takes effect at once")
	})
}

// countingReader counts the Gets it passes on.
type countingReader struct {
	client.Reader
	gets int
}

func (r *countingReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.gets++
	return r.Reader.Get(ctx, key, obj, opts...)
}
