package kube_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// A RemoteCluster of team-a whose kubeconfig Secret is in team-b would let
// team-a act in a cluster with team-b's credentials. The worker's clients
// and the controller's check both read through ReadKubeconfig, so both
// refuse it, before reading the Secret; the system namespace is allowed.
func TestReadKubeconfigRefusesAnotherTenantsSecret(t *testing.T) {
	kubeconfig := kubeconfigWith(``, `token: t`)
	secret := func(ns string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prod-kubeconfig"},
			Data: map[string][]byte{"kubeconfig": kubeconfig}}
	}
	rc := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "prod"},
		Spec: drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Namespace: "team-b", Name: "prod-kubeconfig", Key: "kubeconfig"}}}
	r := fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(secret("team-b"), secret("dr-syncer-system"), rc).Build()
	policy := kube.KubeconfigPolicy{SystemNamespace: "dr-syncer-system"}

	_, err := kube.ReadKubeconfig(context.Background(), r, rc, policy)
	require.Error(t, err)
	assert.True(t, errors.Is(err, kube.ErrInvalidClusterRef), "a problem a user must fix: %v", err)
	assert.ErrorContains(t, err, "RemoteCluster team-a/prod: spec.kubeconfigSecretRef.namespace points into namespace team-b")
	assert.ErrorContains(t, err, "its own namespace team-a or the dr-syncer system namespace dr-syncer-system")

	_, err = kube.NewClusters(r, policy).Config(context.Background(), "team-a", "prod")
	assert.True(t, errors.Is(err, kube.ErrInvalidClusterRef), "the worker's clients refuse it too: %v", err)

	rc.Spec.KubeconfigSecretRef.Namespace = "dr-syncer-system"
	data, err := kube.ReadKubeconfig(context.Background(), r, rc, policy)
	require.NoError(t, err, "the system namespace holds shared kubeconfigs")
	assert.Equal(t, kubeconfig, data)
}
