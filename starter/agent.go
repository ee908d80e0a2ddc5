package starter

import (
	"context"
	"errors"
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
)

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
	return s.startUnlessOpen(ctx, id, name, input, attrs, enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY, workflowMeta(name, id))
}

// startUnlessOpen starts name under id unless a run of id is open (the
// conflict policy refuses a second one, so two starts never run two
// rollouts at once); reuse says which closed runs id may follow. A refusal
// is success, returning the run that holds the ID.
func (s *Starter) startUnlessOpen(ctx context.Context, id, name string, input any, attrs temporal.SearchAttributes, reuse enumspb.WorkflowIdReusePolicy, meta runMeta) (StartedRun, error) {
	run, err := s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                s.TaskQueue,
		WorkflowIDReusePolicy:                    reuse,
		WorkflowIDConflictPolicy:                 enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes:                    attrs,
		StaticSummary:                            meta.Summary,
		StaticDetails:                            meta.Details,
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

// StartAgentRollout starts the rollout of in unless one of its version is
// running (then that one is returned). A completed run of the version does
// not stop a new one: the controller asks for a rollout when the cluster's
// DaemonSet differs from the spec, and a version applied once may have been
// replaced since (A → B → A) or its DaemonSet deleted.
func (s *Starter) StartAgentRollout(ctx context.Context, in contract.AgentRolloutInput) (StartedRun, error) {
	id := contract.AgentRolloutWorkflowID(in.Cluster.Namespace, in.Cluster.Name, in.Version)
	return s.startUnlessOpen(ctx, id, contract.AgentRolloutName, in,
		temporal.NewSearchAttributes(contract.AttrSourceCluster.ValueSet(in.Cluster.Name)),
		enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
		runMeta{Summary: fmt.Sprintf("Agent rollout to %s/%s (version %s)", in.Cluster.Namespace, in.Cluster.Name, in.Version),
			Details: fmt.Sprintf("**RemoteCluster:** %s/%s\n\n**Version:** %s\n\n**Trigger:** agent spec or keys changed", in.Cluster.Namespace, in.Cluster.Name, in.Version)})
}

// AgentRolloutState reads a rollout: nodes ready while it waits, the
// result once it completed.
func (s *Starter) AgentRolloutState(ctx context.Context, workflowID, runID string) (AgentRolloutState, error) {
	var r contract.AgentRolloutResult
	ws, err := s.WorkflowState(ctx, workflowID, runID, &r)
	if err != nil {
		return AgentRolloutState{}, err
	}
	st := AgentRolloutState{WorkflowState: ws}
	var p contract.AgentReadiness
	if ws.Heartbeat(&p) {
		st.Progress = &p
	}
	if ws.Completed() {
		if !ws.resultRead {
			return st, fmt.Errorf("decode result of %s: %s", workflowID, ws.Error)
		}
		st.Outcome = &r
	}
	return st, nil
}
