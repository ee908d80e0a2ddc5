// Package activities holds the steps workflows run: each method does one
// Kubernetes or data-plane action and knows nothing of reconciling CRs.
package activities

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Error types of non-retryable failures. Workflows and the controller match
// on them, so they are part of the API: never rename one.
const (
	// ErrTypeInvalidSpec: the CRs ask for something impossible; a user must fix them.
	ErrTypeInvalidSpec = "InvalidSpec"
)

// errInvalidSpec marks errors a user must fix in the CRs.
var errInvalidSpec = errors.New("invalid spec")

// classify turns errors a user must fix into non-retryable application
// errors, and leaves the rest to the retry policy.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, kube.ErrInvalidClusterRef) || errors.Is(err, errInvalidSpec) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidSpec, err)
	}
	return err
}

// Error types of PVC sync failures that retrying cannot fix.
const (
	// ErrTypePVCNotFound: the source PVC does not exist.
	ErrTypePVCNotFound = "PVCNotFound"
	// ErrTypePVCNotBound: the source PVC has no volume, so no data.
	ErrTypePVCNotBound = "PVCNotBound"
	// ErrTypeStorageClassNotFound: the DR storage class a PVC maps to does not exist.
	ErrTypeStorageClassNotFound = "StorageClassNotFound"
	// ErrTypeNamespaceNotFound: the DR namespace is missing and may not be created.
	ErrTypeNamespaceNotFound = "NamespaceNotFound"
	// ErrTypePodFailed: a mount or sync pod cannot start for a reason waiting will not fix.
	ErrTypePodFailed = "PodFailed"
	// ErrTypeTransferFailed: rsync failed permanently (usage, protocol, I/O on the target).
	ErrTypeTransferFailed = "TransferFailed"
)

// Error types of the DR-copy guards: each stops a step that would delete or
// overwrite the last good DR copy, leaves that copy as it is, and says how a
// person accepts the change (drv1.AnnotationAcceptChanges).
const (
	// ErrTypeSourceReplaced: the source PVC is not the one the DR copy was
	// made from (its UID changed: deleted and created again).
	ErrTypeSourceReplaced = "SourceReplaced"
	// ErrTypeSourceShrank: the source volume holds far fewer files than the DR copy.
	ErrTypeSourceShrank = "SourceShrank"
	// ErrTypeConflict: the DR object exists and is not this replication's copy
	// of this source; dr-syncer neither writes to nor mounts it.
	ErrTypeConflict = "Conflict"
)

func nonRetryable(errType, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return temporal.NewNonRetryableApplicationError(msg, errType, nil)
}
