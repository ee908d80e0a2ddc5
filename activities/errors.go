package activities

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// errInvalidSpec marks errors a user must fix in the CRs.
var errInvalidSpec = errors.New("invalid spec")

// Classify turns errors a user must fix into non-retryable application
// errors, and leaves the rest to the retry policy.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, kube.ErrInvalidClusterRef) || errors.Is(err, errInvalidSpec) {
		return temporal.NewNonRetryableApplicationError(err.Error(), contract.ErrTypeInvalidSpec, err)
	}
	return err
}

// NonRetryable is a non-retryable application error of errType (one of
// contract's ErrType names).
func NonRetryable(errType, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return temporal.NewNonRetryableApplicationError(msg, errType, nil)
}

// InvalidSpec is a non-retryable InvalidSpec error: something a user must
// fix in the CRs, which the message says.
func InvalidSpec(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return Classify(fmt.Errorf("%w: %s", errInvalidSpec, strings.TrimSpace(msg)))
}
