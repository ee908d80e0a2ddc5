package activities

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// SSHAuthority is what gives a DR pod its SSH identity, read from the
// control cluster: the cluster-pair key, which signs per-operation
// certificates and is never copied out, and the agent host keys to pin.
type SSHAuthority struct {
	// CA is the cluster-pair private key.
	CA ssh.Signer
	// HostKeys are the pinned agent host keys as authorized_keys lines:
	// the current key, then the previous one during a host-key rotation.
	HostKeys []byte
}

// LoadSSHAuthority reads the cluster-pair key and the agent host keys from
// their control-cluster Secrets. A missing or malformed key is InvalidSpec
// naming the Secret: waiting does not fix it, the key rollout does.
func LoadSSHAuthority(ctx context.Context, control client.Reader, clusterKey, agentHostKey contract.SecretRef) (SSHAuthority, error) {
	pair, err := readSecret(ctx, control, clusterKey)
	if err != nil {
		return SSHAuthority{}, err
	}
	pem, err := secretValue(pair, clusterKey, contract.SecretKeyClusterPrivate)
	if err != nil {
		return SSHAuthority{}, err
	}
	ca, err := keys.ParsePrivateKey(pem)
	if err != nil {
		return SSHAuthority{}, InvalidSpec("Secret %s/%s key %q is not an OpenSSH private key: %v; rotate the ClusterMapping's keys to replace it",
			clusterKey.Namespace, clusterKey.Name, contract.SecretKeyClusterPrivate, err)
	}
	host, err := readSecret(ctx, control, agentHostKey)
	if err != nil {
		return SSHAuthority{}, err
	}
	current, err := secretValue(host, agentHostKey, contract.SecretKeyHostPublic)
	if err != nil {
		return SSHAuthority{}, err
	}
	pinned := append(bytes.TrimRight(bytes.Clone(current), "\n"), '\n')
	if prev := host.Data[contract.SecretKeyHostPreviousPublic]; len(bytes.TrimSpace(prev)) > 0 {
		pinned = append(pinned, append(bytes.TrimRight(bytes.Clone(prev), "\n"), '\n')...)
	}
	if _, err := keys.ParseHostKeys(pinned); err != nil {
		return SSHAuthority{}, InvalidSpec("Secret %s/%s: %v", agentHostKey.Namespace, agentHostKey.Name, err)
	}
	return SSHAuthority{CA: ca, HostKeys: pinned}, nil
}

// Identity issues a certificate for target, valid for validity (default
// keys.DefaultCertValidity), and returns it with the data of the DR pod's
// Secret: the per-operation key, the certificate and the pinned host keys.
func (a SSHAuthority) Identity(keyID, target string, validity time.Duration) (map[string][]byte, keys.OpCert, error) {
	oc, err := keys.IssueCert(keys.IssueRequest{CA: a.CA, KeyID: keyID, Target: target, Validity: validity})
	if err != nil {
		return nil, keys.OpCert{}, InvalidSpec("%v", err)
	}
	return map[string][]byte{
		kube.SecretKeyOpKey:        oc.PrivateKey.Reveal(),
		kube.SecretKeyOpCert:       oc.Certificate,
		kube.SecretKeyAgentHostKey: a.HostKeys,
	}, oc, nil
}

func readSecret(ctx context.Context, control client.Reader, ref contract.SecretRef) (*corev1.Secret, error) {
	var s corev1.Secret
	err := control.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &s)
	if apierrors.IsNotFound(err) {
		return nil, InvalidSpec("Secret %s/%s with SSH keys not found; the ClusterMapping's key rollout creates it", ref.Namespace, ref.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("get Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	return &s, nil
}

func secretValue(s *corev1.Secret, ref contract.SecretRef, key string) ([]byte, error) {
	if len(s.Data[key]) == 0 {
		return nil, InvalidSpec("Secret %s/%s has no key %q", ref.Namespace, ref.Name, key)
	}
	return s.Data[key], nil
}
