package starter

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
)

// listingTimeout bounds a restore-point listing from start to result: a
// listing nobody waits for any more is worth nothing, so one that no worker
// picks up in time ends rather than lingering.
const listingTimeout = 2 * time.Minute

// RestorePoints runs the RestorePoints workflow and waits for its result:
// where the Replication's DR copies are and their restore points, newest
// first.
func (s *Starter) RestorePoints(ctx context.Context, in contract.RestorePointsInput) (contract.RestorePointsResult, error) {
	id := contract.RestorePointsWorkflowID(in.Replication.Namespace, in.Replication.Name, uniqueNow())
	meta := s.replicationMeta(ctx, "Restore-point listing", in.Replication, "")
	run, err := s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		StaticSummary:            meta.Summary,
		StaticDetails:            meta.Details,
		TaskQueue:                s.TaskQueue,
		WorkflowExecutionTimeout: listingTimeout,
		TypedSearchAttributes:    temporal.NewSearchAttributes(contract.RestoreAttributes(in.Replication, in.PVC)...),
	}, contract.RestorePointsName, in)
	if err != nil {
		return contract.RestorePointsResult{}, fmt.Errorf("start listing %s: %w", id, err)
	}
	var result contract.RestorePointsResult
	return result, s.WaitRun(ctx, StartedRun{WorkflowID: id, RunID: run.GetRunID()}, &result)
}

// StartRestore starts a RestorePVC run, which makes a new PVC from a
// restore point; WaitRun waits for its contract.RestoreResult. Each call is
// a restore of its own: the new PVC and the restore's temporary objects
// are marked with the run's ID.
func (s *Starter) StartRestore(ctx context.Context, in contract.RestoreInput) (StartedRun, error) {
	id := contract.RestoreWorkflowID(in.Replication.Namespace, in.Replication.Name, in.PVC, uniqueNow())
	meta := s.replicationMeta(ctx, "Restore of PVC "+in.PVC+" for", in.Replication, "")
	return s.startUnlessOpen(ctx, id, contract.RestoreName, in, temporal.NewSearchAttributes(contract.RestoreAttributes(in.Replication, in.PVC)...),
		enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY, meta)
}

// WaitRun waits until run closes and decodes its result into result. A
// run that did not complete is a *RunError; a ctx that ends first is ctx's
// error, and the run goes on.
func (s *Starter) WaitRun(ctx context.Context, run StartedRun, result any) error {
	err := s.Client.GetWorkflow(ctx, run.WorkflowID, run.RunID).Get(ctx, result)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("waiting for %s: %w", run.WorkflowID, ctx.Err())
	}
	runErr := &RunError{WorkflowID: run.WorkflowID, RunID: run.RunID, Message: err.Error()}
	var appErr *temporal.ApplicationError
	var canceled *temporal.CanceledError
	switch {
	case errors.As(err, &appErr):
		runErr.Type, runErr.Message = appErr.Type(), appErr.Message()
	case errors.As(err, &canceled):
		runErr.Type, runErr.Message = StatusCanceled, "the run was canceled"
	}
	return runErr
}

// RunError is why a run did not complete: the innermost application
// error, whose message says what to fix, and its type (a contract ErrType).
type RunError struct {
	WorkflowID, RunID string
	Type, Message     string
}

func (e *RunError) Error() string {
	if e.Type == "" {
		return fmt.Sprintf("%s failed: %s", e.WorkflowID, e.Message)
	}
	return fmt.Sprintf("%s failed (%s): %s", e.WorkflowID, e.Type, e.Message)
}

// uniqueNow tells apart runs started by hand, to the millisecond.
func uniqueNow() string { return time.Now().UTC().Format("20060102t150405.000z") }
