package starter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
)

// WorkflowState is one run of an agent-lifecycle workflow: how it stands,
// the last heartbeat of its pending activity, and its result once closed.
type WorkflowState struct {
	WorkflowID string
	RunID      string
	// Status is Running, Completed, Failed, Canceled, Terminated or TimedOut.
	Status string
	Start  time.Time
	Close  time.Time
	// Heartbeat is the JSON of the newest heartbeat of a pending activity.
	Heartbeat []byte
	// Error says why a closed run did not complete.
	Error string

	result []byte
}

// Running reports whether the run is still open.
func (w WorkflowState) Running() bool {
	return w.Status == statusName(enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING)
}

// Completed reports whether the run ended successfully.
func (w WorkflowState) Completed() bool {
	return w.Status == statusName(enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
}

// Result decodes a completed run's result into v.
func (w WorkflowState) Result(v any) error {
	if !w.Completed() {
		return fmt.Errorf("run %s is %s, not completed", w.WorkflowID, w.Status)
	}
	return json.Unmarshal(w.result, v)
}

// AgentRolloutState decodes a rollout's progress and result.
type AgentRolloutState struct {
	WorkflowState
	Progress *contract.AgentReadiness
	Outcome  *contract.AgentRolloutResult
}

// StartWorkflowOnce starts workflow type name under id unless a run of id is
// open, or closed without failing: the conflict policy refuses a second open
// run and the reuse policy a re-run of a completed one (a failed one may run
// again, which is how a fixed problem gets retried). A refusal is success,
// returning the run that holds the ID.
func (s *Starter) StartWorkflowOnce(ctx context.Context, id, name string, input any, attrs temporal.SearchAttributes) (StartedRun, error) {
	run, err := s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                s.TaskQueue,
		WorkflowIDReusePolicy:                    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    attrs,
	}, name, input)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return StartedRun{WorkflowID: id, RunID: started.RunId}, nil
	}
	if err != nil {
		return StartedRun{}, fmt.Errorf("start %s %s: %w", name, id, err)
	}
	return StartedRun{WorkflowID: id, RunID: run.GetRunID(), Started: true}, nil
}

// StartAgentRollout starts the rollout of in, at most once per version.
func (s *Starter) StartAgentRollout(ctx context.Context, in contract.AgentRolloutInput) (StartedRun, error) {
	id := contract.AgentRolloutWorkflowID(in.Cluster.Namespace, in.Cluster.Name, in.Version)
	return s.StartWorkflowOnce(ctx, id, contract.AgentRolloutName, in,
		temporal.NewSearchAttributes(contract.AttrSourceCluster.ValueSet(in.Cluster.Name)))
}

// AgentRolloutState reads a rollout: nodes ready while it waits, the
// result once it completed.
func (s *Starter) AgentRolloutState(ctx context.Context, workflowID, runID string) (AgentRolloutState, error) {
	ws, err := s.WorkflowState(ctx, workflowID, runID)
	if err != nil {
		return AgentRolloutState{}, err
	}
	st := AgentRolloutState{WorkflowState: ws}
	if len(ws.Heartbeat) > 0 {
		var p contract.AgentReadiness
		if json.Unmarshal(ws.Heartbeat, &p) == nil {
			st.Progress = &p
		}
	}
	if ws.Completed() {
		var r contract.AgentRolloutResult
		if err := ws.Result(&r); err != nil {
			return st, fmt.Errorf("decode result of %s: %w", workflowID, err)
		}
		st.Outcome = &r
	}
	return st, nil
}

// WorkflowState describes any run of workflowID (the latest when runID is
// empty); ErrRunNotFound when Temporal does not know it.
func (s *Starter) WorkflowState(ctx context.Context, workflowID, runID string) (WorkflowState, error) {
	resp, err := s.describeRun(ctx, workflowID, runID)
	if err != nil {
		return WorkflowState{}, err
	}
	info := resp.GetWorkflowExecutionInfo()
	st := WorkflowState{
		WorkflowID: workflowID,
		RunID:      info.GetExecution().GetRunId(),
		Status:     statusName(info.GetStatus()),
		Start:      info.GetStartTime().AsTime(),
		Close:      closeTime(info),
	}
	for _, pa := range resp.GetPendingActivities() {
		if d := pa.GetHeartbeatDetails().GetPayloads(); len(d) > 0 {
			st.Heartbeat = d[len(d)-1].GetData()
		}
		if f := pa.GetLastFailure(); f != nil {
			st.Error = f.GetMessage()
		}
	}
	if st.Running() {
		return st, nil
	}
	var raw json.RawMessage
	err = s.Client.GetWorkflow(ctx, workflowID, st.RunID).Get(ctx, &raw)
	if err == nil {
		st.result = raw
		return st, nil
	}
	st.Error = err.Error()
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		st.Error = appErr.Error()
	}
	return st, nil
}
