package integration

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// A sync pod whose identity was issued just before a host-key rotation
// pins only the old key; if its node's agent restarted with the new key
// before the mover dialled, the mover refuses it. Transfer retries that
// (the retry's new pod pins both keys), and only that: a refused key while
// the pod pinned everything the control cluster pins stays permanent.
func TestTransferRetriesHostKeyPinnedBeforeRotation(t *testing.T) {
	// The credentials as issued before the rotation: only the old key pinned.
	ct := newCredentialedTransfer(t, "pins")
	cluster, acts, in, hostRef := ct.cluster, ct.acts, ct.in, ct.hostRef
	ctx := context.Background()
	// The mover ended refusing the agent's key, as cmd/mover reports it.
	refused, err := json.Marshal(progress.Summary{
		Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassPermanent, ExitCode: rsyncargs.NotRun, Reason: "cannot connect to the agent"},
		Error:   "ssh handshake with 10.255.0.11:2222: " + mover.ErrHostKeyMismatch.Error() + ": got SHA256:other, pinned SHA256:old",
	})
	require.NoError(t, err)
	pod := kube.SyncPod(kube.SyncPodOptions{Name: in.Op.Name("sync"), Namespace: "app", Node: "dr-1", Claim: "data",
		Image: in.Image.Reference, Labels: in.Op.Labels("sync"), CredentialsSecret: in.Credentials, SSHSecret: in.Credentials})
	create(t, cluster.Client, pod)
	pod.Status.Phase = corev1.PodSucceeded // re-attached to, so its pins stay as issued
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "mover", State: corev1.ContainerState{
		Terminated: &corev1.ContainerStateTerminated{ExitCode: 76, Message: string(refused), Reason: "Error"}}}}
	require.NoError(t, cluster.Client.Status().Update(ctx, pod))
	transfer := func() *temporal.ApplicationError {
		err := runActivity(t, acts, acts.Transfer, in, nil)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(err, &appErr), "got %v", err)
		return appErr
	}

	// No rotation: the pod pinned what is pinned now, so the agent
	// presented a key nobody trusts.
	got := transfer()
	assert.True(t, got.NonRetryable(), "a wrong host key may be an attack: %v", got)
	assert.Equal(t, contract.ErrTypeTransferFailed, got.Type())

	// The host key rotated after the pod's identity was issued.
	var host corev1.Secret
	require.NoError(t, cluster.Client.Get(ctx, client.ObjectKey{Namespace: hostRef.Namespace, Name: hostRef.Name}, &host))
	priv, pub, err := keys.GenerateHostKey("agent, rotated")
	require.NoError(t, err)
	host.Data[contract.SecretKeyHostPrivate], host.Data[contract.SecretKeyHostPublic] = priv.Reveal(), pub
	host.Data[contract.SecretKeyHostPreviousPublic] = ct.hostPub
	require.NoError(t, cluster.Client.Update(ctx, &host))
	got = transfer()
	assert.False(t, got.NonRetryable(), "pins from before the rotation are retried: %v", got)
	assert.Contains(t, got.Error(), "pinned the agent host keys of before a host-key rotation")
}
