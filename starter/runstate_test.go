package starter

import (
	"testing"

	"github.com/stretchr/testify/assert"
	enumspb "go.temporal.io/api/enums/v1"
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
