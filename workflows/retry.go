package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// Defaults of retryConfig, for a spec that reached a workflow without them.
const (
	defaultMaxRetries        = 5
	defaultInitialBackoff    = 5 * time.Second
	defaultMaxBackoff        = 5 * time.Minute
	defaultBackoffMultiplier = 200
)

// RetryPolicy is the Temporal retry policy of a step that fails with mode:
// FailFast and WaitForNextSync never retry (the first failure counts);
// RetryAndWait and RetryOnly retry maxRetries times with retryConfig's
// backoff. Pure, so it is safe in workflow code.
func RetryPolicy(rc *drv1.RetryConfig, mode drv1.FailureMode) *temporal.RetryPolicy {
	p := &temporal.RetryPolicy{
		InitialInterval:    defaultInitialBackoff,
		MaximumInterval:    defaultMaxBackoff,
		BackoffCoefficient: defaultBackoffMultiplier / 100.0,
		MaximumAttempts:    defaultMaxRetries + 1,
	}
	if rc != nil {
		if rc.MaxRetries != nil && *rc.MaxRetries >= 0 {
			p.MaximumAttempts = *rc.MaxRetries + 1
		}
		p.InitialInterval = durationOr(rc.InitialBackoff, p.InitialInterval)
		p.MaximumInterval = durationOr(rc.MaxBackoff, p.MaximumInterval)
		if rc.BackoffMultiplier >= 100 {
			p.BackoffCoefficient = float64(rc.BackoffMultiplier) / 100
		}
	}
	if p.MaximumInterval < p.InitialInterval {
		// Temporal rejects such a policy; the user's intent is "no growth".
		p.MaximumInterval = p.InitialInterval
	}
	if mode == drv1.FailureFailFast || mode == drv1.FailureWaitForNextSync {
		p.MaximumAttempts = 1
	}
	return p
}

// durationOr parses a schema-validated duration; a zero or unparsable value
// (only possible when the schema was bypassed) keeps the default.
func durationOr(d drv1.Duration, def time.Duration) time.Duration {
	v, err := time.ParseDuration(string(d))
	if err != nil || v <= 0 {
		return def
	}
	return v
}
