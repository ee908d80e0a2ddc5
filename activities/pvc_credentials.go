package activities

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// EnsureCredentials creates the operation's rsync credentials in the source
// namespace (for the mount pod) and, with the cluster-pair key, in the DR
// namespace (for the sync pod). A retry reuses the credentials already made.
func (a *PVCActivities) EnsureCredentials(ctx context.Context, in contract.CredentialsInput) (contract.Credentials, error) {
	src, err := a.Clusters.Clientset(ctx, in.Source.Namespace, in.Source.Name)
	if err != nil {
		return contract.Credentials{}, classify(err)
	}
	dst, err := a.Clusters.Clientset(ctx, in.Destination.Namespace, in.Destination.Name)
	if err != nil {
		return contract.Credentials{}, classify(err)
	}
	sshKeys, err := sshKeyData(ctx, a.Control, in.ClusterKey, in.AgentHostKey)
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
		Data:       sshKeys,
	}
	drSecret.Data[kube.SecretKeyRsyncUser] = creds.Data[kube.SecretKeyRsyncUser]
	drSecret.Data[kube.SecretKeyRsyncPassword] = creds.Data[kube.SecretKeyRsyncPassword]
	if err := writeSecret(ctx, dst.CoreV1().Secrets(in.DestinationNamespace), drSecret); err != nil {
		return contract.Credentials{}, fmt.Errorf("write credentials Secret %s/%s in %s: %w", in.DestinationNamespace, name, in.Destination.Name, err)
	}
	return contract.Credentials{Secret: name}, nil
}

// sshKeyData is what a DR pod needs to reach an agent: the cluster-pair
// private key and the agent's pinned host key, read from the control
// cluster's Secrets, as data for the pod's own Secret.
func sshKeyData(ctx context.Context, control client.Reader, clusterKey, agentHostKey contract.SecretRef) (map[string][]byte, error) {
	data := map[string][]byte{}
	for _, want := range []struct {
		key string
		ref contract.SecretRef
	}{{kube.SecretKeyClusterKey, clusterKey}, {kube.SecretKeyAgentHostKey, agentHostKey}} {
		key, ref := want.key, want.ref
		var s corev1.Secret
		err := control.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &s)
		if apierrors.IsNotFound(err) {
			return nil, invalidSpec("Secret %s/%s with the SSH key %q not found; the ClusterMapping's key rollout creates it", ref.Namespace, ref.Name, key)
		}
		if err != nil {
			return nil, fmt.Errorf("get Secret %s/%s: %w", ref.Namespace, ref.Name, err)
		}
		if len(s.Data[key]) == 0 {
			return nil, invalidSpec("Secret %s/%s has no key %q", ref.Namespace, ref.Name, key)
		}
		data[key] = s.Data[key]
	}
	return data, nil
}

// writeSecret creates s, or updates it when an earlier attempt created it.
func writeSecret(ctx context.Context, secrets corev1client.SecretInterface, s *corev1.Secret) error {
	_, err := secrets.Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
	}
	return err
}
