package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/sdk/temporal"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

func TestRetryPolicy(t *testing.T) {
	three := int32(3)
	zero := int32(0)
	custom := &drv1.RetryConfig{MaxRetries: &three, InitialBackoff: "2s", MaxBackoff: "1m", BackoffMultiplier: 150}
	tests := []struct {
		name string
		rc   *drv1.RetryConfig
		mode drv1.FailureMode
		want temporal.RetryPolicy
	}{
		{"retryConfig maps one to one", custom, drv1.FailureRetryAndWait,
			temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute, BackoffCoefficient: 1.5, MaximumAttempts: 4}},
		{"RetryOnly retries the same", custom, drv1.FailureRetryOnly,
			temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute, BackoffCoefficient: 1.5, MaximumAttempts: 4}},
		{"FailFast never retries", custom, drv1.FailureFailFast,
			temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute, BackoffCoefficient: 1.5, MaximumAttempts: 1}},
		{"WaitForNextSync never retries", custom, drv1.FailureWaitForNextSync,
			temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute, BackoffCoefficient: 1.5, MaximumAttempts: 1}},
		{"maxRetries 0 is one attempt, not Temporal's unlimited", &drv1.RetryConfig{MaxRetries: &zero}, drv1.FailureRetryAndWait,
			temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 5 * time.Minute, BackoffCoefficient: 2, MaximumAttempts: 1}},
		{"no retryConfig takes the CRD defaults", nil, "",
			temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 5 * time.Minute, BackoffCoefficient: 2, MaximumAttempts: 6}},
		{"maxBackoff below initialBackoff is raised to it", &drv1.RetryConfig{InitialBackoff: "10m", MaxBackoff: "1m"}, drv1.FailureRetryAndWait,
			temporal.RetryPolicy{InitialInterval: 10 * time.Minute, MaximumInterval: 10 * time.Minute, BackoffCoefficient: 2, MaximumAttempts: 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, *RetryPolicy(tc.rc, tc.mode))
		})
	}
}
