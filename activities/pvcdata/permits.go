package pvcdata

import (
	"context"
	"errors"
	"fmt"

	"github.com/dr-syncer/dr-syncer/contract"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
)

// PermitActivities talk to the per-cluster semaphore workflows that bound PVC
// syncs across Replications (pvcSync.globalConcurrencyLimit).
type PermitActivities struct {
	Temporal client.Client
	// TaskQueue runs the semaphore workflows.
	TaskQueue string
}

// RequestPermit queues the requester at the semaphore, starting the
// semaphore if it is not running. The permit arrives as a signal.
func (a *PermitActivities) RequestPermit(ctx context.Context, in contract.AcquireInput) error {
	return a.signalAcquire(ctx, in, in.Request)
}

// RequestPermits queues a run's requests (in.Requests) at the semaphore,
// in order, as RequestPermit does one. Asking again for a request already
// queued or granted changes nothing, so a retry after a partial success is
// safe. It has a name of its own so that a worker from before it, which
// knows only Request, fails the task instead of asking for nothing.
func (a *PermitActivities) RequestPermits(ctx context.Context, in contract.AcquireInput) error {
	for _, req := range in.Requests {
		if err := a.signalAcquire(ctx, in, req); err != nil {
			return err
		}
	}
	return nil
}

func (a *PermitActivities) signalAcquire(ctx context.Context, in contract.AcquireInput, req contract.PermitRequest) error {
	_, err := a.Temporal.SignalWithStartWorkflow(ctx, in.SemaphoreID, contract.SignalAcquire, req,
		client.StartWorkflowOptions{
			ID:                       in.SemaphoreID,
			TaskQueue:                a.TaskQueue,
			WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		}, in.SemaphoreType, in.InitialState)
	if err != nil {
		return fmt.Errorf("request a permit from %s for %s: %w", in.SemaphoreID, req.Holder(), err)
	}
	return nil
}

// OpenWorkflows returns which of the workflow IDs still have an open run.
func (a *PermitActivities) OpenWorkflows(ctx context.Context, workflowIDs []string) ([]string, error) {
	var open []string
	for _, id := range workflowIDs {
		resp, err := a.Temporal.DescribeWorkflowExecution(ctx, id, "")
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", id, err)
		}
		if resp.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
			open = append(open, id)
		}
	}
	return open, nil
}
