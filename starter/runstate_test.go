package starter

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
)

// The status constants the controller matches on are Temporal's own names.
func TestStatusNamesAreTemporals(t *testing.T) {
	for want, s := range map[string]enumspb.WorkflowExecutionStatus{
		StatusRunning: enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, StatusCompleted: enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED,
		StatusFailed: enumspb.WORKFLOW_EXECUTION_STATUS_FAILED, StatusCanceled: enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED,
		StatusTerminated: enumspb.WORKFLOW_EXECUTION_STATUS_TERMINATED, StatusTimedOut: enumspb.WORKFLOW_EXECUTION_STATUS_TIMED_OUT,
	} {
		assert.Equal(t, want, statusName(s))
	}
}

// Only a query that an open run could not answer in time counts as busy;
// an unknown run or a refused query is described instead.
func TestRunBusy(t *testing.T) {
	for err, busy := range map[error]bool{
		serviceerror.NewDeadlineExceeded("context deadline exceeded"):                true,
		fmt.Errorf("query: %w", context.DeadlineExceeded):                            true,
		serviceerror.NewWorkflowNotReady("workflow task in failed state"):            true,
		serviceerror.NewResourceExhausted(0, "query buffer full"):                    true,
		serviceerror.NewNotFound("workflow not found"):                               false,
		serviceerror.NewInvalidArgument("unknown query type"):                        false,
		serviceerror.NewUnavailable("connection refused"):                            false,
		serviceerror.NewFailedPrecondition("no poller seen for task queue recently"): false,
	} {
		assert.Equal(t, busy, runBusy(err), "%T %v", err, err)
	}
}
