package starter

import (
	"context"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

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

// RunState describes the Replication run workflowID/runID (the latest run of
// the ID when runID is empty): progress while running, outcome once closed.
func (s *Starter) RunState(ctx context.Context, workflowID, runID string) (RunState, error) {
	var result contract.ReplicationResult
	ws, resp, err := s.observe(ctx, workflowID, runID, &result)
	if err != nil {
		return RunState{}, err
	}
	st := RunState{WorkflowID: ws.WorkflowID, RunID: ws.RunID, Status: ws.Status, Start: ws.Start, Close: ws.Close}
	if !ws.Running() {
		st.Error, st.ErrorType = ws.Error, ws.ErrorType
		if ws.resultRead {
			st.Result = &result
		}
		return st, nil
	}
	st.Progress = s.queryProgress(ctx, workflowID, st.RunID)
	for _, child := range resp.GetPendingChildren() {
		if child.GetWorkflowTypeName() != contract.PVCSyncName {
			continue
		}
		st.PVCs = append(st.PVCs, s.pvcProgress(ctx, child.GetWorkflowId(), child.GetRunId()))
	}
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
	ws, resp, err := s.observe(ctx, workflowID, runID, nil)
	if err != nil {
		return p
	}
	transferring := false
	for _, pa := range resp.GetPendingActivities() {
		p.Attempt = pa.GetAttempt()
		if f := pa.GetLastFailure(); f != nil {
			p.LastFailure = f.GetMessage()
		}
		transferring = transferring || pa.GetActivityType().GetName() == contract.ActivityTransfer
	}
	var tp contract.TransferProgress
	if transferring && ws.Heartbeat(&tp) {
		p.Transfer = &tp
	}
	return p
}
