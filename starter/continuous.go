package starter

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/dr-syncer/dr-syncer/contract"
)

// A Continuous Replication is one long-running ContinuousReplication
// workflow rather than a Schedule; these functions present it to the
// controller in the shape of a Schedule (settings note, paused, next run,
// recent runs), so the reconciler treats both modes alike.

// describeContinuous returns the continuous workflow as a ScheduleState, or
// nil when none runs.
func (s *Starter) describeContinuous(ctx context.Context, ref contract.ObjectRef) (*ScheduleState, error) {
	id := contract.ContinuousReplicationWorkflowID(ref.Namespace, ref.Name)
	d, err := s.Client.DescribeWorkflowExecution(ctx, id, "")
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", id, err)
	}
	if d.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return nil, nil
	}
	v, err := s.Client.QueryWorkflow(ctx, id, "", contract.ProgressQuery)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", id, err)
	}
	var state contract.ContinuousState
	if err := v.Get(&state); err != nil {
		return nil, fmt.Errorf("decode the state of %s: %w", id, err)
	}
	st := &ScheduleState{ID: id, Note: state.Settings.Note, Paused: state.Settings.Paused}
	if !state.NextRun.IsZero() {
		st.NextRuns = append(st.NextRuns, state.NextRun)
	}
	for _, r := range state.Recent {
		st.Recent = append(st.Recent, ScheduledRun{WorkflowID: r.WorkflowID, RunID: r.RunID, Started: r.Started})
	}
	if r := state.Running; r != nil {
		st.Running = append(st.Running, ScheduledRun{WorkflowID: r.WorkflowID, RunID: r.RunID, Started: r.Started})
	}
	return st, nil
}

// ensureContinuous starts the continuous workflow, or hands a running one
// its new settings.
func (s *Starter) ensureContinuous(ctx context.Context, ref contract.ObjectRef, spec ScheduleSpec) error {
	settings := contract.ContinuousSettings{Every: spec.Every, Paused: spec.Paused, Note: spec.note()}
	current, err := s.describeContinuous(ctx, ref)
	if err != nil {
		return err
	}
	id := contract.ContinuousReplicationWorkflowID(ref.Namespace, ref.Name)
	if current != nil {
		if current.Matches(spec) {
			return nil
		}
		if err := s.Client.SignalWorkflow(ctx, id, "", contract.SignalSettings, settings); err != nil {
			return fmt.Errorf("update %s: %w", id, err)
		}
		return nil
	}
	meta := s.replicationMeta(ctx, "Continuous sync", ref, contract.TriggerContinuous)
	_, err = s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                s.TaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		TypedSearchAttributes:    replicationAttributes(ref),
		StaticSummary:            meta.Summary,
		StaticDetails:            meta.Details,
	}, contract.ContinuousReplicationName, contract.ContinuousState{Replication: ref, Settings: settings})
	if err != nil {
		return fmt.Errorf("start %s: %w", id, err)
	}
	return nil
}

// stopContinuous cancels the continuous workflow; its running sync is
// cancelled with it and cleans up. Nothing running is not an error.
func (s *Starter) stopContinuous(ctx context.Context, ref contract.ObjectRef) error {
	id := contract.ContinuousReplicationWorkflowID(ref.Namespace, ref.Name)
	err := s.Client.CancelWorkflow(ctx, id, "")
	var notFound *serviceerror.NotFound
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("cancel %s: %w", id, err)
	}
	return nil
}

// SignalChange tells a Continuous Replication that its source changed; it
// syncs within seconds. A replication that is not continuous ignores it.
func (s *Starter) SignalChange(ctx context.Context, ref contract.ObjectRef, what string) error {
	id := contract.ContinuousReplicationWorkflowID(ref.Namespace, ref.Name)
	err := s.Client.SignalWorkflow(ctx, id, "", contract.SignalChange, what)
	var notFound *serviceerror.NotFound
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("signal %s: %w", id, err)
	}
	return nil
}
