package activities

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/dr-syncer/dr-syncer/contract"
)

// GetPVC reads a PVC; a missing one is a non-retryable PVCNotFound.
func GetPVC(ctx context.Context, cs kubernetes.Interface, ref contract.PVCRef) (*corev1.PersistentVolumeClaim, error) {
	pvc, err := cs.CoreV1().PersistentVolumeClaims(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, NonRetryable(contract.ErrTypePVCNotFound, "PVC %s not found", ref)
	}
	if err != nil {
		return nil, fmt.Errorf("get PVC %s: %w", ref, err)
	}
	return pvc, nil
}
