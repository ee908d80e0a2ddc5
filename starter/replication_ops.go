package starter

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"go.temporal.io/api/serviceerror"

	"github.com/dr-syncer/dr-syncer/contract"
)

// ErrNothingToRetry is returned by Retry when the last run did not fail.
var ErrNothingToRetry = errors.New("nothing to retry")

// replicationQuery selects the runs of one Replication in visibility; the
// runs carry the search attribute from their start.
func replicationQuery(ref contract.ObjectRef) string {
	return fmt.Sprintf("WorkflowType = %q AND %s = %q", contract.ReplicationName, contract.AttrReplication.GetName(), ref.String())
}

// History returns the Replication's runs, newest first, with their status and
// times (Run.Duration). Visibility is eventually consistent: a run that
// started or ended a moment ago may show its previous state.
func (s *Starter) History(ctx context.Context, ref contract.ObjectRef, limit int) ([]Run, error) {
	runs, err := s.List(ctx, ListOptions{Query: replicationQuery(ref), Limit: limit})
	if err != nil {
		return nil, fmt.Errorf("history of replication %s: %w", ref, err)
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Start.After(runs[j].Start) })
	return runs, nil
}

// OpenRuns returns the Replication's runs that are still running.
func (s *Starter) OpenRuns(ctx context.Context, ref contract.ObjectRef) ([]Run, error) {
	runs, err := s.List(ctx, ListOptions{Query: replicationQuery(ref) + ` AND ExecutionStatus = "Running"`})
	if err != nil {
		return nil, fmt.Errorf("open runs of replication %s: %w", ref, err)
	}
	return runs, nil
}

// Cancel asks every running run of the Replication to cancel; each run then
// cancels its PVC syncs, which clean up after themselves. It returns the
// workflow IDs it cancelled.
func (s *Starter) Cancel(ctx context.Context, ref contract.ObjectRef) ([]string, error) {
	runs, err := s.OpenRuns(ctx, ref)
	if err != nil {
		return nil, err
	}
	var cancelled []string
	for _, r := range runs {
		if err := s.CancelRun(ctx, r.WorkflowID, r.RunID); err != nil {
			return cancelled, err
		}
		cancelled = append(cancelled, r.WorkflowID)
	}
	return cancelled, nil
}

// CancelRun asks one run to cancel; a run that is gone or already closed is
// not an error, since the caller wants it not running and it is not.
func (s *Starter) CancelRun(ctx context.Context, workflowID, runID string) error {
	err := s.Client.CancelWorkflow(ctx, workflowID, runID)
	var notFound *serviceerror.NotFound
	if err != nil && !errors.As(err, &notFound) {
		return fmt.Errorf("cancel run %s: %w", workflowID, err)
	}
	return nil
}

// Retry re-runs the Replication after a failed last run. It starts a new run
// rather than resetting the old one: the new run reads the current spec (the
// fix the user just made) and runs the current workflow code. Its trigger is
// "retry-" plus the failed run's short run ID, so retrying one failure twice
// (a double click, a re-run script) still starts one run.
func (s *Starter) Retry(ctx context.Context, ref contract.ObjectRef) (StartedRun, error) {
	runs, err := s.History(ctx, ref, 100)
	if err != nil {
		return StartedRun{}, err
	}
	if len(runs) == 0 {
		return StartedRun{}, fmt.Errorf("replication %s has no runs: %w; start one instead", ref, ErrNothingToRetry)
	}
	last := runs[0]
	switch last.Status {
	case "Running":
		return StartedRun{}, fmt.Errorf("run %s of %s is still running: %w", last.WorkflowID, ref, ErrNothingToRetry)
	case "Completed":
		return StartedRun{}, fmt.Errorf("last run %s of %s completed: %w; start a new one instead", last.WorkflowID, ref, ErrNothingToRetry)
	}
	return s.StartRun(ctx, ref, RetryTrigger(last.RunID))
}

// RetryTrigger is the trigger of the run that retries the failed run runID.
func RetryTrigger(runID string) string {
	if len(runID) > 8 {
		runID = runID[:8]
	}
	return contract.TriggerRetryPrefix + runID
}

// Status returns the newest run of the Replication: its progress while it
// runs, its outcome once closed.
func (s *Starter) Status(ctx context.Context, ref contract.ObjectRef) (RunState, error) {
	runs, err := s.History(ctx, ref, 20)
	if err != nil {
		return RunState{}, err
	}
	if len(runs) == 0 {
		return RunState{}, fmt.Errorf("replication %s: %w (no runs yet)", ref, ErrRunNotFound)
	}
	st, err := s.RunState(ctx, runs[0].WorkflowID, runs[0].RunID)
	if st.Unanswered {
		st.Start = runs[0].Start // the listing has it; the run did not say
	}
	return st, err
}
