package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// rotate-host-key against a real API server: it annotates the
// RemoteCluster with a new value on every call, says when a rotation in
// progress makes it wait, and refuses a cluster without an agent.
func TestRotateHostKey(t *testing.T) {
	cluster := testenv.StartCluster(t, "control")
	ctx := context.Background()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, cluster.Kubeconfig, 0o600))
	testenv.EnsureNamespace(t, cluster.Client, "ops")
	for name, enabled := range map[string]bool{"source": true, "plain": false} {
		require.NoError(t, cluster.Client.Create(ctx, &drv1.RemoteCluster{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ops", Name: name},
			Spec: drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Name: "k"},
				PVCSync: &drv1.PVCSyncSpec{Enabled: enabled}},
		}))
	}
	annotation := func() string {
		var rc drv1.RemoteCluster
		require.NoError(t, cluster.Client.Get(ctx, client.ObjectKey{Namespace: "ops", Name: "source"}, &rc))
		return rc.Annotations[drv1.AnnotationRotateHostKey]
	}

	t0 := time.Date(2026, 12, 5, 13, 0, 0, 0, time.UTC)
	out, err := rotateOnce(ctx, t0, "ops/source", "--kubeconfig", kubeconfig)
	require.NoError(t, err)
	assert.Equal(t, "2026-12-05T13:00:00Z", annotation())
	assert.Contains(t, out, "asked for a host key rotation of RemoteCluster ops/source")
	assert.Contains(t, out, "HostKeyRotating")
	assert.NotContains(t, out, "in progress")

	// A rotation in progress: the new request is recorded, and waits.
	var rc drv1.RemoteCluster
	require.NoError(t, cluster.Client.Get(ctx, client.ObjectKey{Namespace: "ops", Name: "source"}, &rc))
	meta.SetStatusCondition(&rc.Status.Conditions, metav1.Condition{Type: drv1.ConditionHostKeyRotating, Status: metav1.ConditionTrue,
		Reason: "RotationInProgress", Message: "agents rolling out with the new key"})
	require.NoError(t, cluster.Client.Status().Update(ctx, &rc))
	out, err = rotateOnce(ctx, t0.Add(time.Nanosecond), "--kubeconfig", kubeconfig, "ops/source")
	require.NoError(t, err)
	assert.Equal(t, "2026-12-05T13:00:00.000000001Z", annotation(), "a new value each call, flags before or after the argument")
	assert.Contains(t, out, "a rotation is in progress, and this one starts when it ends: agents rolling out with the new key")

	_, err = rotateOnce(ctx, t0, "ops/plain", "--kubeconfig", kubeconfig)
	assert.ErrorContains(t, err, "RemoteCluster ops/plain runs no agent (spec.pvcSync.enabled is not true)")
	_, err = rotateOnce(ctx, t0, "ops/missing", "--kubeconfig", kubeconfig)
	assert.ErrorContains(t, err, "RemoteCluster ops/missing not found")
	_, err = rotateOnce(ctx, t0, "source", "--kubeconfig", kubeconfig)
	assert.ErrorContains(t, err, "want NAMESPACE/REMOTECLUSTER")
}

func rotateOnce(ctx context.Context, now time.Time, args ...string) (string, error) {
	var out bytes.Buffer
	err := rotateHostKey(ctx, args, &out, &out, now)
	return out.String(), err
}

func TestRotateHostKeyHelp(t *testing.T) {
	var out, help bytes.Buffer
	err := run(context.Background(), []string{"rotate-host-key", "--help"}, &out, &help)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, want := range []string{"usage: drsyncer rotate-host-key NAMESPACE/REMOTECLUSTER", "dr-syncer.io/rotate-host-key",
		"previous public key pinned", "-kubeconfig", "-context", "HostKeyRotating", "RotationComplete"} {
		assert.Contains(t, help.String(), want)
	}
	help.Reset()
	require.ErrorIs(t, run(context.Background(), []string{"--help"}, &out, &help), flag.ErrHelp)
	assert.Contains(t, help.String(), "rotate-host-key NS/REMOTECLUSTER")
}
