package kube_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// kubeconfigWith is a kubeconfig whose cluster and user carry the given
// extra lines.
func kubeconfigWith(cluster, user string) []byte {
	return []byte(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://10.0.0.1:6443"` + cluster + `}}]
users: [{name: u, user: {` + user + `}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`)
}

func TestKubeconfigPolicy(t *testing.T) {
	for name, tc := range map[string]struct {
		kubeconfig []byte
		refused    string // what the problem names; "" for accepted
	}{
		"embedded token":             {kubeconfigWith(`, certificate-authority-data: Zm9v`, `token: abc`), ""},
		"embedded client cert":       {kubeconfigWith(``, `client-certificate-data: Zm9v, client-key-data: YmFy`), ""},
		"exec plugin":                {kubeconfigWith(``, `exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh, args: [-c, "cat /etc/shadow"]}`), `user "u" uses exec`},
		"auth provider":              {kubeconfigWith(``, `auth-provider: {name: gcp}`), `user "u" uses auth-provider`},
		"token file":                 {kubeconfigWith(``, `tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token`), `user "u" uses tokenFile`},
		"client certificate path":    {kubeconfigWith(``, `client-certificate: /etc/kubernetes/pki/admin.crt, client-key: /etc/kubernetes/pki/admin.key`), `user "u" uses client-certificate, user "u" uses client-key`},
		"certificate authority path": {kubeconfigWith(`, certificate-authority: /etc/ssl/ca.crt`, `token: abc`), `cluster "c" uses certificate-authority`},
	} {
		t.Run(name, func(t *testing.T) {
			problem := kube.KubeconfigPolicy{}.Problem(tc.kubeconfig)
			if tc.refused == "" {
				assert.Empty(t, problem)
				return
			}
			assert.Contains(t, problem, tc.refused)
			assert.Contains(t, problem, "--"+kube.AllowExternalFlag, "says how to allow it")
			assert.Empty(t, kube.KubeconfigPolicy{AllowExternal: true}.Problem(tc.kubeconfig), "allowed by the flag")
		})
	}
}

// TestReadKubeconfigRefusesExternalCredentials: the controller's reference
// check and the worker's clients both read through ReadKubeconfig, so an
// exec kubeconfig is refused before anything loads it, with a message
// naming the RemoteCluster, the Secret and what to do.
func TestReadKubeconfigRefusesExternalCredentials(t *testing.T) {
	scheme := kube.NewScheme()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "dr-syncer-system", Name: "prod-kubeconfig"},
		Data: map[string][]byte{"kubeconfig": kubeconfigWith(``, `exec: {apiVersion: client.authentication.k8s.io/v1, command: touch, args: [/tmp/pwned]}`)}}
	rc := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "dr-syncer-system", Name: "prod"},
		Spec: drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Name: "prod-kubeconfig", Key: "kubeconfig"}}}
	r := fake.NewClientBuilder().WithScheme(scheme).WithObjects(secret, rc).Build()

	_, err := kube.ReadKubeconfig(context.Background(), r, rc, kube.KubeconfigPolicy{})
	require.Error(t, err)
	assert.True(t, errors.Is(err, kube.ErrInvalidClusterRef), "a problem a user must fix")
	assert.ErrorContains(t, err, "RemoteCluster dr-syncer-system/prod")
	assert.ErrorContains(t, err, `user "u" uses exec`)

	_, err = kube.NewClusters(r, kube.KubeconfigPolicy{}).Config(context.Background(), "dr-syncer-system", "prod")
	assert.True(t, errors.Is(err, kube.ErrInvalidClusterRef), "the worker's clients refuse it too: %v", err)

	data, err := kube.ReadKubeconfig(context.Background(), r, rc, kube.KubeconfigPolicy{AllowExternal: true})
	require.NoError(t, err)
	assert.Equal(t, secret.Data["kubeconfig"], data)
}

// FuzzKubeconfigPolicy checks the screening against the loader itself: any
// kubeconfig the default policy lets through must load into a REST config
// that runs no command and reads no local file.
func FuzzKubeconfigPolicy(f *testing.F) {
	for _, seed := range [][]byte{
		kubeconfigWith(`, certificate-authority-data: Zm9v`, `token: abc`),
		kubeconfigWith(`, certificate-authority: /etc/ssl/ca.crt`, `token: abc`),
		kubeconfigWith(``, `exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh}`),
		kubeconfigWith(``, `auth-provider: {name: gcp}`),
		kubeconfigWith(``, `tokenFile: /var/run/secrets/token`),
		kubeconfigWith(``, `client-certificate: a.crt, client-key: a.key`),
		[]byte(`{"apiVersion":"v1","kind":"Config","clusters":[{"name":"c","cluster":{"server":"https://x"}}]}`),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if (kube.KubeconfigPolicy{}).Problem(data) != "" {
			return
		}
		cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
		if err != nil {
			return
		}
		switch {
		case cfg.ExecProvider != nil:
			t.Fatalf("passed the screening but runs a command: %q", data)
		case cfg.AuthProvider != nil:
			t.Fatalf("passed the screening but uses an auth-provider plugin: %q", data)
		case cfg.BearerTokenFile != "", cfg.CertFile != "", cfg.KeyFile != "", cfg.CAFile != "":
			t.Fatalf("passed the screening but reads a local file (token %q, cert %q, key %q, CA %q): %q",
				cfg.BearerTokenFile, cfg.CertFile, cfg.KeyFile, cfg.CAFile, data)
		}
	})
}
