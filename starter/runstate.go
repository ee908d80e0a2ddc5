package starter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
)

// ErrRunNotFound is returned for a run Temporal does not know (any more).
var ErrRunNotFound = errors.New("workflow run not found")

// queryTimeout bounds a progress query: a run whose worker is busy or gone
// must not stall a reconcile or the CLI; its progress is then just unknown.
const queryTimeout = 3 * time.Second

// RunState is one Replication run: how it stands, how far it got while
// running, and how it ended once closed.
type RunState struct {
	WorkflowID string
	RunID      string
	// Status is Running, Completed, Failed, Canceled, Terminated, TimedOut or ContinuedAsNew.
	Status string
	Start  time.Time
	Close  time.Time

	// Progress is the run's answer to the progress query, while it runs;
	// nil when it did not answer (no worker picked it up yet).
	Progress *contract.ReplicationProgress
	// PVCs are the data syncs running now, with bytes from their heartbeats.
	PVCs []PVCProgress

	// Result is what a closed run reported, also for a failed run when the
	// failure carries it.
	Result *contract.ReplicationResult
	// Error and ErrorType say why a closed run did not complete.
	Error     string
	ErrorType string
}

// Running reports whether the run is still open.
func (r RunState) Running() bool {
	return r.Status == statusName(enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING)
}

// PVCProgress is one running PVC data sync.
type PVCProgress struct {
	PVC        string
	WorkflowID string
	// Phase is the PVC sync's step, from its progress query.
	Phase string
	// Transfer is the last heartbeat of the running transfer, if one runs.
	Transfer *contract.TransferProgress
	// Attempt and LastFailure show a step that is retrying.
	Attempt     int32
	LastFailure string
}

func statusName(s enumspb.WorkflowExecutionStatus) string { return s.String() }

// RunState describes the Replication run workflowID/runID (the latest run of
// the ID when runID is empty): progress while running, outcome once closed.
func (s *Starter) RunState(ctx context.Context, workflowID, runID string) (RunState, error) {
	resp, err := s.describeRun(ctx, workflowID, runID)
	if err != nil {
		return RunState{}, err
	}
	info := resp.GetWorkflowExecutionInfo()
	st := RunState{
		WorkflowID: workflowID,
		RunID:      info.GetExecution().GetRunId(),
		Status:     statusName(info.GetStatus()),
		Start:      info.GetStartTime().AsTime(),
		Close:      closeTime(info),
	}
	if st.Running() {
		st.Progress = s.queryProgress(ctx, workflowID, st.RunID)
		for _, child := range resp.GetPendingChildren() {
			if child.GetWorkflowTypeName() != contract.PVCSyncName {
				continue
			}
			st.PVCs = append(st.PVCs, s.pvcProgress(ctx, child.GetWorkflowId(), child.GetRunId()))
		}
		return st, nil
	}
	s.readOutcome(ctx, &st)
	return st, nil
}

func (s *Starter) queryProgress(ctx context.Context, workflowID, runID string) *contract.ReplicationProgress {
	qctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	v, err := s.Client.QueryWorkflow(qctx, workflowID, runID, contract.ProgressQuery)
	if err != nil {
		return nil
	}
	var p contract.ReplicationProgress
	if err := v.Get(&p); err != nil {
		return nil
	}
	return &p
}

// pvcProgress reads one PVC sync: its step from the progress query, bytes and
// percent from the Transfer activity's last heartbeat. What it cannot read
// stays empty: progress is best effort, never a reason to fail.
func (s *Starter) pvcProgress(ctx context.Context, workflowID, runID string) PVCProgress {
	p := PVCProgress{WorkflowID: workflowID, PVC: lastSegment(workflowID)}
	qctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	if v, err := s.Client.QueryWorkflow(qctx, workflowID, runID, contract.ProgressQuery); err == nil {
		var sp contract.PVCSyncProgress
		if v.Get(&sp) == nil {
			p.Phase = sp.Phase
		}
	}
	resp, err := s.Client.DescribeWorkflowExecution(ctx, workflowID, runID)
	if err != nil {
		return p
	}
	for _, pa := range resp.GetPendingActivities() {
		p.Attempt = pa.GetAttempt()
		if f := pa.GetLastFailure(); f != nil {
			p.LastFailure = f.GetMessage()
		}
		details := pa.GetHeartbeatDetails().GetPayloads()
		if pa.GetActivityType().GetName() != "Transfer" || len(details) == 0 {
			continue
		}
		var tp contract.TransferProgress
		if json.Unmarshal(details[len(details)-1].GetData(), &tp) == nil {
			p.Transfer = &tp
		}
	}
	return p
}

// readOutcome fills in the result and, for a run that did not complete, the
// innermost application error: that is the message that says what to fix.
func (s *Starter) readOutcome(ctx context.Context, st *RunState) {
	var result contract.ReplicationResult
	err := s.Client.GetWorkflow(ctx, st.WorkflowID, st.RunID).Get(ctx, &result)
	if err == nil {
		st.Result = &result
		return
	}
	st.Error = err.Error()
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		st.Error, st.ErrorType = appErr.Error(), appErr.Type()
		if appErr.HasDetails() && appErr.Details(&result) == nil {
			st.Result = &result
		}
		return
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) {
		st.Error, st.ErrorType = "the run was canceled", "Canceled"
		return
	}
	var terminated *temporal.TerminatedError
	if errors.As(err, &terminated) {
		st.Error, st.ErrorType = "the run was terminated", "Terminated"
		return
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		st.Error, st.ErrorType = "the run timed out", "TimedOut"
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
