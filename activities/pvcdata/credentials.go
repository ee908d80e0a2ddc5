package pvcdata

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// EnsureCredentials creates the operation's rsync credentials in the source
// namespace (for the mount pod) and, with the pinned agent host keys, in the
// DR namespace (for the sync pod). The cluster-pair key stays in the control
// cluster: Transfer adds a per-operation key and certificate to the DR
// Secret when it creates the sync pod (syncIdentity), once the target is
// known. Reading the keys here already fails a sync whose key Secrets are
// missing before any pod starts. A retry reuses the credentials already made.
func (a *PVCActivities) EnsureCredentials(ctx context.Context, in contract.CredentialsInput) (contract.Credentials, error) {
	if err := a.checkCredentials(ctx, in); err != nil {
		return contract.Credentials{}, err
	}
	src, err := a.Clusters.Clientset(ctx, in.Source.Namespace, in.Source.Name)
	if err != nil {
		return contract.Credentials{}, activities.Classify(err)
	}
	dst, err := a.Clusters.Clientset(ctx, in.Destination.Namespace, in.Destination.Name)
	if err != nil {
		return contract.Credentials{}, activities.Classify(err)
	}
	authority, err := activities.LoadSSHAuthority(ctx, a.Control, in.ClusterKey, in.AgentHostKey)
	if err != nil {
		return contract.Credentials{}, err
	}
	name := in.Op.Name("creds")
	sourceSecrets := src.CoreV1().Secrets(in.SourceNamespace)
	creds, err := sourceSecrets.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		generated, genErr := keys.NewRsyncCredentials()
		if genErr != nil {
			return contract.Credentials{}, genErr
		}
		creds = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in.SourceNamespace, Labels: in.Op.Labels("credentials")},
			Data: map[string][]byte{
				kube.SecretKeyRsyncUser:     []byte(generated.User),
				kube.SecretKeyRsyncPassword: generated.Password.Reveal(),
			},
		}
		if creds, err = sourceSecrets.Create(ctx, creds, metav1.CreateOptions{}); err != nil {
			return contract.Credentials{}, fmt.Errorf("create credentials Secret %s/%s in %s: %w", in.SourceNamespace, name, in.Source.Name, err)
		}
	} else if err != nil {
		return contract.Credentials{}, fmt.Errorf("get credentials Secret %s/%s in %s: %w", in.SourceNamespace, name, in.Source.Name, err)
	}

	drSecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: in.DestinationNamespace, Labels: in.Op.Labels("credentials")},
		Data:       map[string][]byte{kube.SecretKeyAgentHostKey: authority.HostKeys},
	}
	drSecret.Data[kube.SecretKeyRsyncUser] = creds.Data[kube.SecretKeyRsyncUser]
	drSecret.Data[kube.SecretKeyRsyncPassword] = creds.Data[kube.SecretKeyRsyncPassword]
	if err := activities.WriteSecret(ctx, dst.CoreV1().Secrets(in.DestinationNamespace), drSecret); err != nil {
		return contract.Credentials{}, fmt.Errorf("write credentials Secret %s/%s in %s: %w", in.DestinationNamespace, name, in.Destination.Name, err)
	}
	return contract.Credentials{Secret: name}, nil
}
