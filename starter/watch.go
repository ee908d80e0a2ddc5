package starter

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DefaultWatchInterval is how often WatchRun asks a run for its progress.
const DefaultWatchInterval = 2 * time.Second

// WatchRun follows the Replication run workflowID/runID until it closes:
// every `every` it reads RunState (while the run is open, that is the one
// progress query the run answers for all its PVC syncs) and hands it to
// show, then returns the closed run's state with its result or error. A
// poll that fails (the server or the worker briefly away) shows nothing and
// is tried again; a run Temporal does not know ends the watch. ctx ending
// stops watching, never the run.
func (s *Starter) WatchRun(ctx context.Context, workflowID, runID string, every time.Duration, show func(RunState)) (RunState, error) {
	if every <= 0 {
		every = DefaultWatchInterval
	}
	for {
		st, err := s.RunState(ctx, workflowID, runID)
		switch {
		case errors.Is(err, ErrRunNotFound):
			return RunState{}, err
		case err == nil && !st.Running():
			return st, nil
		case err == nil:
			// Stay on this run: a later run of the same ID is not the one asked for.
			if runID == "" {
				runID = st.RunID
			}
			show(st)
		}
		select {
		case <-ctx.Done():
			return RunState{}, fmt.Errorf("stopped watching %s (the run goes on): %w", workflowID, ctx.Err())
		case <-time.After(every):
		}
	}
}
