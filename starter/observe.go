package starter

import (
	"context"
	"errors"
	"fmt"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// WorkflowState is one run of any dr-syncer workflow, read by one describe
// call: how it stands, its pending activities' newest heartbeat, and why it
// did not complete once closed. Payloads are decoded with the Starter's data
// converter, the one its client uses, so a payload codec does not break it.
type WorkflowState struct {
	WorkflowID string
	RunID      string
	// Status is Running, Completed, Failed, Canceled, Terminated, TimedOut or ContinuedAsNew.
	Status string
	Start  time.Time
	Close  time.Time
	// Error and ErrorType say why a closed run did not complete; Error also
	// carries a retrying activity's last failure while the run is open.
	Error     string
	ErrorType string

	heartbeat *commonpb.Payload
	converter converter.DataConverter
	// resultRead says the closed run's result, or its failure's details, was decoded.
	resultRead bool
}

// Running reports whether the run is still open.
func (w WorkflowState) Running() bool {
	return w.Status == statusName(enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING)
}

// Completed reports whether the run ended successfully.
func (w WorkflowState) Completed() bool {
	return w.Status == statusName(enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED)
}

// Heartbeat decodes the newest heartbeat of a pending activity into v and
// reports whether there was one to decode.
func (w WorkflowState) Heartbeat(v any) bool {
	return w.heartbeat != nil && w.converter.FromPayload(w.heartbeat, v) == nil
}

func statusName(s enumspb.WorkflowExecutionStatus) string { return s.String() }

// Run statuses, as WorkflowState.Status and RunState.Status spell them
// (Temporal's execution status names); the last three are also the
// ErrorType of a run that ended so.
const (
	StatusRunning    = "Running"
	StatusCompleted  = "Completed"
	StatusFailed     = "Failed"
	StatusCanceled   = "Canceled"
	StatusTerminated = "Terminated"
	StatusTimedOut   = "TimedOut"
)

// dataConverter is the converter the Starter's client was built with.
func (s *Starter) dataConverter() converter.DataConverter {
	if s.DataConverter != nil {
		return s.DataConverter
	}
	return converter.GetDefaultDataConverter()
}

// WorkflowState describes the run workflowID/runID (the latest run of the ID
// when runID is empty); ErrRunNotFound when Temporal does not know it. Once
// the run has closed, result (a pointer, or nil) receives its result, or the
// details of the application error a failed run carries.
func (s *Starter) WorkflowState(ctx context.Context, workflowID, runID string, result any) (WorkflowState, error) {
	st, _, err := s.observe(ctx, workflowID, runID, result)
	return st, err
}

func (s *Starter) observe(ctx context.Context, workflowID, runID string, result any) (WorkflowState, *workflowservice.DescribeWorkflowExecutionResponse, error) {
	resp, err := s.describeRun(ctx, workflowID, runID)
	if err != nil {
		return WorkflowState{}, nil, err
	}
	info := resp.GetWorkflowExecutionInfo()
	st := WorkflowState{
		WorkflowID: workflowID,
		RunID:      info.GetExecution().GetRunId(),
		Status:     statusName(info.GetStatus()),
		Start:      info.GetStartTime().AsTime(),
		Close:      closeTime(info),
		converter:  s.dataConverter(),
	}
	for _, pa := range resp.GetPendingActivities() {
		if d := pa.GetHeartbeatDetails().GetPayloads(); len(d) > 0 {
			st.heartbeat = d[len(d)-1]
		}
		if f := pa.GetLastFailure(); f != nil {
			st.Error = f.GetMessage()
		}
	}
	if !st.Running() {
		s.readOutcome(ctx, &st, result)
	}
	return st, resp, nil
}

// readOutcome fills in the result and, for a run that did not complete, the
// innermost application error: that is the message that says what to fix.
func (s *Starter) readOutcome(ctx context.Context, st *WorkflowState, result any) {
	err := s.Client.GetWorkflow(ctx, st.WorkflowID, st.RunID).Get(ctx, result)
	if err == nil {
		st.resultRead = result != nil
		return
	}
	st.Error = err.Error()
	var appErr *temporal.ApplicationError
	var canceled *temporal.CanceledError
	var terminated *temporal.TerminatedError
	var timeout *temporal.TimeoutError
	switch {
	case errors.As(err, &appErr):
		st.Error, st.ErrorType = appErr.Error(), appErr.Type()
		if result != nil && appErr.HasDetails() {
			st.resultRead = appErr.Details(result) == nil
		}
	case errors.As(err, &canceled):
		st.Error, st.ErrorType = "the run was canceled", StatusCanceled
	case errors.As(err, &terminated):
		st.Error, st.ErrorType = "the run was terminated", StatusTerminated
	case errors.As(err, &timeout):
		st.Error, st.ErrorType = "the run timed out", StatusTimedOut
	}
}

// describeRun describes a run; ErrRunNotFound when Temporal does not know it.
func (s *Starter) describeRun(ctx context.Context, workflowID, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	resp, err := s.Client.DescribeWorkflowExecution(ctx, workflowID, runID)
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return nil, fmt.Errorf("run %s %s: %w", workflowID, runID, ErrRunNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("describe run %s: %w", workflowID, err)
	}
	return resp, nil
}

// closeTime is when a run closed; zero while it runs.
func closeTime(info *workflowpb.WorkflowExecutionInfo) time.Time {
	if info.GetCloseTime() == nil {
		return time.Time{}
	}
	return info.GetCloseTime().AsTime()
}
