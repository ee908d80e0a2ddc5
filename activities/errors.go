// Package activities holds the steps workflows run: each method does one
// Kubernetes or data-plane action and knows nothing of reconciling CRs.
package activities

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
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
		return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeInvalidSpec, err)
	}
	return err
}

func nonRetryable(errType, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return temporal.NewNonRetryableApplicationError(msg, errType, nil)
}
