package starter

import (
	"context"
	"errors"
	"fmt"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/dr-syncer/dr-syncer/contract"
)

// OperationOpenError is a failover or failback refused because another
// failover or failback of the same Replication is still open: two at once
// would scale the same workloads in opposite directions.
type OperationOpenError struct {
	Replication contract.ObjectRef
	// Type and WorkflowID name the open operation.
	Type       string
	WorkflowID string
}

func (e *OperationOpenError) Error() string {
	return fmt.Sprintf("%s %s of %s is still open: wait for it (drsyncer describe %s) or cancel it (temporal workflow cancel -w %q) first",
		strings.ToLower(e.Type), e.WorkflowID, e.Replication, e.WorkflowID, e.WorkflowID)
}

// StartFailover starts a failover of in.Replication to DR under id (the
// annotation's value, or the CLI's), unless another failover or failback of
// it is open (*OperationOpenError). The ID is used once, ever: starting it
// again finds the run that holds it, open or closed (StartedRun.Started is
// false), so a repeated request attaches instead of failing over twice.
func (s *Starter) StartFailover(ctx context.Context, in contract.FailoverInput, id string) (StartedRun, error) {
	wid := contract.FailoverWorkflowID(in.Replication.Namespace, in.Replication.Name, id)
	return s.startOperation(ctx, in.Replication, wid, contract.FailoverName, in, true)
}

// StartFailback starts a failback of in.Replication to its source under id,
// with StartFailover's refusal and once-ever ID.
func (s *Starter) StartFailback(ctx context.Context, in contract.FailbackInput, id string) (StartedRun, error) {
	wid := contract.FailbackWorkflowID(in.Replication.Namespace, in.Replication.Name, id)
	return s.startOperation(ctx, in.Replication, wid, contract.FailbackName, in, true)
}

// StartDrill starts a DR drill of in.Replication under id, once ever. Drills
// run beside anything else: they touch only their own scratch namespace.
func (s *Starter) StartDrill(ctx context.Context, in contract.DrillInput, id string) (StartedRun, error) {
	wid := contract.DrillWorkflowID(in.Replication.Namespace, in.Replication.Name, id)
	return s.startOperation(ctx, in.Replication, wid, contract.DrillName, in, false)
}

func (s *Starter) startOperation(ctx context.Context, ref contract.ObjectRef, wid, name string, input any, exclusive bool) (StartedRun, error) {
	// An ID already used is attached to before the open check, so repeating
	// a request that is now running is never refused by its own run.
	existing, err := s.describeRun(ctx, wid, "")
	switch {
	case err == nil:
		return StartedRun{WorkflowID: wid, RunID: existing.GetWorkflowExecutionInfo().GetExecution().GetRunId()}, nil
	case !errors.Is(err, ErrRunNotFound):
		return StartedRun{}, fmt.Errorf("start %s: %w", name, err)
	}
	if exclusive {
		if err := s.refuseWhileOpen(ctx, ref, wid); err != nil {
			return StartedRun{}, err
		}
	}
	meta := s.replicationMeta(ctx, name, ref, "")
	run, err := s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:            wid,
		StaticSummary: meta.Summary,
		StaticDetails: meta.Details,
		TaskQueue:     s.TaskQueue,
		// As StartRun: one request is one operation, ever. Re-running a
		// failed failover under the same ID after a lost status write would
		// fail over a second time nobody asked for; a new request is a new ID.
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		// The source cluster and namespace are upserted by the workflow once
		// it has located them; the starter knows only the Replication.
		TypedSearchAttributes: replicationAttributes(ref),
	}, name, input)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return StartedRun{WorkflowID: wid, RunID: started.RunId}, nil
	}
	if err != nil {
		return StartedRun{}, fmt.Errorf("start %s %s: %w", name, wid, err)
	}
	return StartedRun{WorkflowID: wid, RunID: run.GetRunID(), Started: true}, nil
}

// refuseWhileOpen returns an *OperationOpenError naming an open failover or
// failback of ref other than wid. Visibility is eventually consistent, so
// two requests within a second may both pass; the workflows then refuse on
// status.failover (ErrTypeAlreadyFailedOver, ErrTypeNotFailedOver).
func (s *Starter) refuseWhileOpen(ctx context.Context, ref contract.ObjectRef, wid string) error {
	open, err := s.OpenOperations(ctx, ref)
	if err != nil {
		return err
	}
	for _, r := range open {
		if r.WorkflowID != wid {
			return &OperationOpenError{Replication: ref, Type: r.Type, WorkflowID: r.WorkflowID}
		}
	}
	return nil
}

// OpenOperations returns the failovers and failbacks of ref still running.
func (s *Starter) OpenOperations(ctx context.Context, ref contract.ObjectRef) ([]Run, error) {
	query := fmt.Sprintf(`(WorkflowType = %q OR WorkflowType = %q) AND %s = %q AND ExecutionStatus = "Running"`,
		contract.FailoverName, contract.FailbackName, contract.AttrReplication.GetName(), ref.String())
	runs, err := s.List(ctx, ListOptions{Query: query})
	if err != nil {
		return nil, fmt.Errorf("open failovers and failbacks of %s: %w", ref, err)
	}
	return runs, nil
}
