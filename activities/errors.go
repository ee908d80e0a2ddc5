// Package activities holds the steps workflows run: each method does one
// Kubernetes or data-plane action and knows nothing of reconciling CRs.
package activities

import (
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Error types of non-retryable failures. Workflows and the controller match
// on them, so they are part of the API: never rename one.
const (
	// ErrTypeInvalidSpec: the CRs ask for something impossible; a user must fix them.
	ErrTypeInvalidSpec = "InvalidSpec"
)

// classify turns errors a user must fix into non-retryable application
// errors, and leaves the rest to the retry policy.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, kube.ErrInvalidClusterRef) {
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeInvalidSpec, err)
	}
	return err
}
