package activities

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// ensureNamespace makes sure a DR namespace exists, creating it only when allowed.
func ensureNamespace(ctx context.Context, cs kubernetes.Interface, cluster, name string, create bool) error {
	_, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("get namespace %s in %s: %w", name, cluster, err)
	}
	if !create {
		return nonRetryable(contract.ErrTypeNamespaceNotFound,
			"namespace %s does not exist in cluster %s; create it or set namespaceConfig.createNamespace", name, cluster)
	}
	if err := createNamespace(ctx, cs, name, map[string]string{kube.LabelManagedBy: kube.ManagedBy}); err != nil {
		return fmt.Errorf("in %s: %w", cluster, err)
	}
	return nil
}

// createNamespace creates a namespace with labels unless it exists; one that
// exists keeps its own labels, so nothing a user made is taken over.
func createNamespace(ctx context.Context, cs kubernetes.Interface, name string, labels map[string]string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return nil
}
