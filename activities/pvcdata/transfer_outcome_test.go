package pvcdata

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// A mover that refused the agent's host key because it pinned the keys of
// before a rotation is retried with a new pod that pins the current ones.
// A followed container cannot be that new pod: FollowedMoverLost, so the
// sync takes its own. A key nobody pinned stays a permanent failure.
func TestFollowedContainerPinnedKeysOfBeforeARotation(t *testing.T) {
	ctx := context.Background()
	_, oldHost, err := keys.GenerateHostKey("agent old")
	require.NoError(t, err)
	newPriv, newHost, err := keys.GenerateHostKey("agent new")
	require.NoError(t, err)
	pair, err := keys.GenerateClusterPairKey("source->dr")
	require.NoError(t, err)
	pairRef := contract.SecretRef{Namespace: "dr-syncer", Name: "pair"}
	hostRef := contract.SecretRef{Namespace: "dr-syncer", Name: "host"}
	a := &PVCActivities{Control: ctrlfake.NewClientBuilder().WithObjects(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: pairRef.Namespace, Name: pairRef.Name},
			Data: map[string][]byte{contract.SecretKeyClusterPrivate: pair.PrivateKey.Reveal(), contract.SecretKeyClusterPublic: pair.AuthorizedKey}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: hostRef.Namespace, Name: hostRef.Name},
			Data: map[string][]byte{contract.SecretKeyHostPrivate: newPriv.Reveal(), contract.SecretKeyHostPublic: newHost}},
	).Build()}
	refused := progress.Summary{Outcome: rsyncargs.Outcome{Class: rsyncargs.ClassPermanent, ExitCode: 255, Reason: "ssh"},
		Error: "dial agent: " + mover.ErrHostKeyMismatch.Error()}

	for _, tc := range []struct {
		name    string
		pinned  []byte
		follow  *contract.FollowedMover
		errType string // "" is a plain, retryable error
	}{
		{"own sync pod, keys of before the rotation: retried", oldHost, nil, ""},
		{"followed container, keys of before the rotation: the sync takes its own pods", oldHost,
			&contract.FollowedMover{Pod: batchPod, Container: kube.BatchMoverContainer(1)}, contract.ErrTypeFollowedMoverLost},
		{"followed container, current keys pinned: permanent", newHost,
			&contract.FollowedMover{Pod: batchPod, Container: kube.BatchMoverContainer(1)}, contract.ErrTypeTransferFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBatchCluster(t)
			_, err := b.cs.CoreV1().Secrets("app").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "creds"},
				Data: map[string][]byte{kube.SecretKeyAgentHostKey: tc.pinned}}, metav1.CreateOptions{})
			require.NoError(t, err)
			in := contract.TransferInput{PVC: contract.PVCRef{Cluster: contract.ClusterRef{Namespace: "dr-syncer", Name: "dr"}, Namespace: "app", Name: "data-b"},
				Credentials: "creds", ClusterKey: &pairRef, AgentHostKey: &hostRef, Follow: tc.follow}
			_, err = a.transferOutcome(ctx, b.cs, in, refused, 0)
			require.Error(t, err)
			var appErr *temporal.ApplicationError
			if tc.errType == "" {
				assert.False(t, errors.As(err, &appErr), "%v", err)
				assert.Contains(t, err.Error(), "retrying with the current ones")
				return
			}
			require.ErrorAs(t, err, &appErr)
			assert.Equal(t, tc.errType, appErr.Type())
			assert.True(t, appErr.NonRetryable())
		})
	}
}
