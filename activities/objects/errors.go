package objects

import (
	"errors"
	"net"

	"github.com/dr-syncer/dr-syncer/contract"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// categorizeAPIError sorts an API error; transient says a retry may succeed.
func categorizeAPIError(err error) (category contract.ErrorCategory, transient bool) {
	var netErr net.Error
	switch {
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsForbidden(err),
		apierrors.IsRequestEntityTooLargeError(err), apierrors.IsMethodNotSupported(err), apierrors.IsUnauthorized(err):
		return contract.CategoryValidation, false
	case apierrors.IsNotFound(err):
		return contract.CategoryNotFound, false
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		// A concurrent write or a delete still in progress: retry.
		return contract.CategoryConflict, true
	case errors.As(err, &netErr):
		return contract.CategoryNetwork, true
	default:
		return contract.CategoryNetwork, true
	}
}
