package controller

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// TestCheckKubeconfigRefusesExec: a RemoteCluster whose kubeconfig runs a
// command is a problem the Replication's and RemoteCluster's conditions
// name, unless the controller runs with the flag that allows it.
func TestCheckKubeconfigRefusesExec(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "dr-syncer-system", Name: "prod-kubeconfig"},
		Data: map[string][]byte{"kubeconfig": []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443"}}]
users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: sh}}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`)}}
	rc := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "dr-syncer-system", Name: "prod"},
		Spec: drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Name: "prod-kubeconfig", Key: "kubeconfig"}}}
	reader := fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(secret).Build()

	problem, err := (&ReplicationReconciler{APIReader: reader}).checkKubeconfig(context.Background(), rc)
	require.NoError(t, err)
	assert.Contains(t, problem, `RemoteCluster dr-syncer-system/prod`)
	assert.Contains(t, problem, `user "u" uses exec`)
	assert.Contains(t, problem, "--"+kube.AllowExternalFlag)

	problem, err = (&ReplicationReconciler{APIReader: reader, Kubeconfigs: kube.KubeconfigPolicy{AllowExternal: true}}).checkKubeconfig(context.Background(), rc)
	require.NoError(t, err)
	assert.Empty(t, problem)
}
