package workflows

import (
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
)

// RetryPolicy is the Temporal retry policy of a step that fails with mode:
// FailFast and WaitForNextSync never retry (the first failure counts);
// RetryAndWait and RetryOnly retry maxRetries times with retryConfig's
// backoff. rc comes resolved, defaults applied. Pure, so it is safe in
// workflow code.
func RetryPolicy(rc contract.RetrySettings, mode contract.FailureMode) *temporal.RetryPolicy {
	p := &temporal.RetryPolicy{
		InitialInterval:    rc.InitialBackoff.Value(),
		MaximumInterval:    rc.MaxBackoff.Value(),
		BackoffCoefficient: float64(rc.BackoffMultiplier) / 100,
		MaximumAttempts:    max(rc.MaxRetries, 0) + 1,
	}
	if p.MaximumInterval < p.InitialInterval {
		// Temporal rejects such a policy; the user's intent is "no growth".
		p.MaximumInterval = p.InitialInterval
	}
	if p.BackoffCoefficient < 1 {
		// Temporal rejects a shrinking backoff; the schema's minimum is 100%.
		p.BackoffCoefficient = 1
	}
	if mode == contract.FailureFailFast || mode == contract.FailureWaitForNextSync {
		p.MaximumAttempts = 1
	}
	return p
}
