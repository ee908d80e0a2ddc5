package starter

import (
	"context"
	"errors"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	querypb "go.temporal.io/api/query/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/dr-syncer/dr-syncer/contract"
)

// ErrRunNotFound is returned for a run Temporal does not know (any more).
var ErrRunNotFound = errors.New("workflow run not found")

// QueryTimeout bounds a progress query: a run whose worker is busy or gone
// must not stall a reconcile or the CLI; its progress is then just unknown.
const QueryTimeout = 3 * time.Second

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
	// Unanswered says the run is open but no worker answered its progress
	// query in time (all busy, or none running): only the IDs and Status
	// are known, and a caller keeps what it last heard of the run.
	Unanswered bool
	// PVCs are the data syncs running now, as they last reported to the run.
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
	// Phase is the PVC sync's step.
	Phase string
	// Transfer is the transfer's newest progress, if it started.
	Transfer *contract.TransferProgress
	// Attempt and LastFailure show a transfer that is retrying.
	Attempt     int32
	LastFailure string
	// UpdatedAt is when the run heard from the sync last (workflow time).
	UpdatedAt time.Time
}

// RunState describes the Replication run workflowID/runID (the latest run of
// the ID when runID is empty): progress while running, outcome once closed.
//
// While the run is open this is one Temporal call: the run's progress query,
// which the run answers for all its PVC syncs (they report to it). The
// query is rejected, not replayed on a worker, once the run has closed;
// only then is the run described and its outcome read. A query the run
// was too busy to answer (timed out, not ready, or too many queries
// waiting) is still one call: the server rejects the query of a closed run
// at once, so a run that is busy is open (Unanswered). Describing it then
// would double the calls exactly when the workers are busiest.
func (s *Starter) RunState(ctx context.Context, workflowID, runID string) (RunState, error) {
	p, answer := s.queryRunProgress(ctx, workflowID, runID)
	switch {
	case answer == queryAnswered && p.RunID != "":
		return runningState(workflowID, p), nil
	case answer == queryBusy:
		return RunState{WorkflowID: workflowID, RunID: runID, Status: StatusRunning, Unanswered: true}, nil
	}
	answered := answer == queryAnswered
	var result contract.ReplicationResult
	ws, err := s.WorkflowState(ctx, workflowID, runID, &result)
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
	if answered {
		// A worker from before runs said their run ID answered: its
		// counts, without the PVC syncs' figures.
		st.Progress = p
	}
	return st, nil
}

// queryAnswer is how a progress query went.
type queryAnswer int

const (
	queryFailed   queryAnswer = iota // rejected (closed), unknown run, or an error
	queryAnswered                    // the run answered
	// queryBusy: the run is open but could not answer now (see runBusy):
	// the query timed out waiting for a worker, the run's workflow task is
	// not ready, or too many queries already wait on it.
	queryBusy
)

// queryRunProgress asks the run for its progress, unless it has closed.
// It is one gRPC call: the workflow service directly, not the SDK's
// QueryWorkflow, which retries a busy run's ResourceExhausted (too many
// queries already wait on it) within the same poll, and gives the call only
// half of QueryTimeout.
func (s *Starter) queryRunProgress(ctx context.Context, workflowID, runID string) (*contract.ReplicationProgress, queryAnswer) {
	qctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	resp, err := s.Client.WorkflowService().QueryWorkflow(qctx, &workflowservice.QueryWorkflowRequest{
		Namespace:            s.namespace(),
		Execution:            &commonpb.WorkflowExecution{WorkflowId: workflowID, RunId: runID},
		Query:                &querypb.WorkflowQuery{QueryType: contract.ProgressQuery},
		QueryRejectCondition: enumspb.QUERY_REJECT_CONDITION_NOT_OPEN,
	})
	if err != nil && ctx.Err() == nil && runBusy(err) {
		return nil, queryBusy
	}
	if err != nil || resp.GetQueryRejected() != nil || resp.GetQueryResult() == nil {
		return nil, queryFailed
	}
	var p contract.ReplicationProgress
	if err := s.dataConverter().FromPayloads(resp.GetQueryResult(), &p); err != nil {
		return nil, queryFailed
	}
	return &p, queryAnswered
}

// namespace is the Temporal namespace the starter's client uses.
func (s *Starter) namespace() string {
	if s.Namespace == "" {
		return client.DefaultNamespace
	}
	return s.Namespace
}

// runBusy says a query failed because its open run could not answer in
// time: the server gave up waiting for a worker (it does so at about half
// the caller's deadline), the run's workflow task is failing or timing out
// on overloaded workers (WorkflowNotReady), or too many queries already wait
// on it (ResourceExhausted). A closed run never gets here: the server
// rejects its query at once.
func runBusy(err error) bool {
	var (
		deadline  *serviceerror.DeadlineExceeded
		notReady  *serviceerror.WorkflowNotReady
		exhausted *serviceerror.ResourceExhausted
	)
	return errors.As(err, &deadline) || errors.As(err, &notReady) || errors.As(err, &exhausted) ||
		errors.Is(err, context.DeadlineExceeded)
}

// runningState is RunState from the run's own answer.
func runningState(workflowID string, p *contract.ReplicationProgress) RunState {
	st := RunState{WorkflowID: workflowID, RunID: p.RunID, Status: StatusRunning, Start: p.Start, Progress: p}
	for _, pvc := range p.PVCs {
		st.PVCs = append(st.PVCs, PVCProgress{PVC: pvc.PVC, WorkflowID: pvc.WorkflowID, Phase: pvc.Phase,
			Transfer: pvc.Transfer, Attempt: pvc.Attempt, LastFailure: pvc.LastFailure, UpdatedAt: pvc.UpdatedAt})
	}
	return st
}
