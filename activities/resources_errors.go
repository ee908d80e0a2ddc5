package activities

import (
	"errors"
	"net"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Error types of resource replication, matched by workflows.
const (
	// ErrTypeObjectsFailed: some objects of a kind failed for reasons a retry
	// may fix (the network, a conflicting write); the error's details hold
	// the KindResult so the last attempt's per-object status is not lost.
	ErrTypeObjectsFailed = "ObjectsFailed"
)

// ErrorCategory sorts failures the way failureHandling and status do.
type ErrorCategory string

// Error categories.
const (
	// CategoryValidation: the DR cluster rejects the object; a user must fix it.
	CategoryValidation ErrorCategory = "Validation"
	// CategoryNotFound: the type or a prerequisite does not exist.
	CategoryNotFound ErrorCategory = "NotFound"
	// CategoryConflict: another writer holds the object or its name.
	CategoryConflict ErrorCategory = "Conflict"
	// CategoryNetwork: the cluster could not be reached or did not answer in time.
	CategoryNetwork ErrorCategory = "Network"
)

// categorizeAPIError sorts an API error; transient says a retry may succeed.
func categorizeAPIError(err error) (category ErrorCategory, transient bool) {
	var netErr net.Error
	switch {
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsForbidden(err),
		apierrors.IsRequestEntityTooLargeError(err), apierrors.IsMethodNotSupported(err), apierrors.IsUnauthorized(err):
		return CategoryValidation, false
	case apierrors.IsNotFound(err):
		return CategoryNotFound, false
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		// A concurrent write or a delete still in progress: retry.
		return CategoryConflict, true
	case errors.As(err, &netErr):
		return CategoryNetwork, true
	default:
		return CategoryNetwork, true
	}
}
