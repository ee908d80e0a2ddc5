package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// changeLocalSteps is the GetVersion change ID of a PVC sync running its
// short Kubernetes API steps (Discover, EnsureTargetPVC, PlanCopySource,
// ChooseNodes, MarkSynced) as local activities (2026-12-06). Each was a
// regular activity: three events, a task for the server to match and a
// workflow task after it, for a step of one or two API calls. Run locally,
// the steps in a row share one workflow task and leave one marker each;
// the Temporal server's load per PVC is what paced runs of many PVCs.
const changeLocalSteps = "2026-12-06-local-steps"

// apiStepTimeout bounds one attempt of a short API step.
const apiStepTimeout = time.Minute

// apiSteps runs a PVC sync's short API steps, with its retry policy.
// Every step is idempotent (it reads, or makes or marks an object by
// name), so a local one that a lost worker ran again does no harm.
type apiSteps struct {
	local bool
	retry *temporal.RetryPolicy
}

// newAPISteps takes changeLocalSteps; syncs started before it replay
// their steps as regular activities.
func newAPISteps(ctx workflow.Context, retry *temporal.RetryPolicy) apiSteps {
	return apiSteps{retry: retry, local: hasChange(ctx, changeLocalSteps)}
}

// run starts the step activity(arg), summarised for the Web UI.
func (s apiSteps) run(ctx workflow.Context, summary string, activity, arg any) workflow.Future {
	if s.local {
		return workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: apiStepTimeout, ScheduleToCloseTimeout: allAttempts(s.retry), RetryPolicy: s.retry, Summary: summary,
		}), activity, arg)
	}
	return workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: apiStepTimeout, RetryPolicy: s.retry, Summary: summary,
	}), activity, arg)
}

// allAttempts is the time every attempt the policy allows may take, with
// the longest backoff between them. A local activity's ScheduleToClose
// defaults to its StartToClose, and no retry starts after it: one minute
// for all attempts, where a regular activity had one per attempt.
func allAttempts(p *temporal.RetryPolicy) time.Duration {
	if p == nil || p.MaximumAttempts <= 0 {
		return 24 * time.Hour
	}
	return time.Duration(p.MaximumAttempts) * (apiStepTimeout + p.MaximumInterval)
}
