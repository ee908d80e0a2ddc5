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
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// SSHKeyData is what a DR pod needs to reach an agent: the cluster-pair
// private key and the agent's pinned host key, read from the control
// cluster's Secrets, as data for the pod's own Secret.
func SSHKeyData(ctx context.Context, control client.Reader, clusterKey, agentHostKey contract.SecretRef) (map[string][]byte, error) {
	data := map[string][]byte{}
	for _, want := range []struct {
		key string
		ref contract.SecretRef
	}{{kube.SecretKeyClusterKey, clusterKey}, {kube.SecretKeyAgentHostKey, agentHostKey}} {
		key, ref := want.key, want.ref
		var s corev1.Secret
		err := control.Get(ctx, types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}, &s)
		if apierrors.IsNotFound(err) {
			return nil, InvalidSpec("Secret %s/%s with the SSH key %q not found; the ClusterMapping's key rollout creates it", ref.Namespace, ref.Name, key)
		}
		if err != nil {
			return nil, fmt.Errorf("get Secret %s/%s: %w", ref.Namespace, ref.Name, err)
		}
		if len(s.Data[key]) == 0 {
			return nil, InvalidSpec("Secret %s/%s has no key %q", ref.Namespace, ref.Name, key)
		}
		data[key] = s.Data[key]
	}
	return data, nil
}

// WriteSecret creates s, or updates it when an earlier attempt created it.
func WriteSecret(ctx context.Context, secrets corev1client.SecretInterface, s *corev1.Secret) error {
	_, err := secrets.Create(ctx, s, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		_, err = secrets.Update(ctx, s, metav1.UpdateOptions{})
	}
	return err
}
