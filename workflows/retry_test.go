package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/sdk/temporal"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

func TestRetryPolicy(t *testing.T) {
	custom := contract.RetrySettings{MaxRetries: 3, InitialBackoff: "2s", MaxBackoff: "1m", BackoffMultiplier: 150}
	defaults := resolve.Settings(drv1.ReplicationSpec{}).RetryConfig
	tests := []struct {
		name string
		rc   contract.RetrySettings
		mode contract.FailureMode
		want temporal.RetryPolicy
	}{
		{"retryConfig maps one to one", custom, contract.FailureRetryAndWait,
			temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute, BackoffCoefficient: 1.5, MaximumAttempts: 4}},
		{"RetryOnly retries the same", custom, contract.FailureRetryOnly,
			temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute, BackoffCoefficient: 1.5, MaximumAttempts: 4}},
		{"FailFast never retries", custom, contract.FailureFailFast,
			temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute, BackoffCoefficient: 1.5, MaximumAttempts: 1}},
		{"WaitForNextSync never retries", custom, contract.FailureWaitForNextSync,
			temporal.RetryPolicy{InitialInterval: 2 * time.Second, MaximumInterval: time.Minute, BackoffCoefficient: 1.5, MaximumAttempts: 1}},
		{"maxRetries 0 is one attempt, not Temporal's unlimited", contract.RetrySettings{MaxRetries: 0, InitialBackoff: "5s", MaxBackoff: "5m", BackoffMultiplier: 200}, contract.FailureRetryAndWait,
			temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 5 * time.Minute, BackoffCoefficient: 2, MaximumAttempts: 1}},
		{"the API's defaults, resolved", defaults, contract.FailureRetryAndWait,
			temporal.RetryPolicy{InitialInterval: 5 * time.Second, MaximumInterval: 5 * time.Minute, BackoffCoefficient: 2, MaximumAttempts: 6}},
		{"maxBackoff below initialBackoff is raised to it", contract.RetrySettings{MaxRetries: 5, InitialBackoff: "10m", MaxBackoff: "1m", BackoffMultiplier: 200}, contract.FailureRetryAndWait,
			temporal.RetryPolicy{InitialInterval: 10 * time.Minute, MaximumInterval: 10 * time.Minute, BackoffCoefficient: 2, MaximumAttempts: 6}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, *RetryPolicy(tc.rc, tc.mode))
		})
	}
}
