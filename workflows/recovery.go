package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/recovery"
	"github.com/dr-syncer/dr-syncer/contract"
)

// recovery is one failover, failback or drill: its steps, as the steps
// query shows them, and the activity options its steps share.
type recoveryRun struct {
	progress contract.OperationProgress
	started  time.Time
	id       string
}

// recoveryRetry retries a recovery step through an API server's hiccups;
// a failover that gives up on the first error would half-happen.
var recoveryRetry = &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 15 * time.Second, MaximumAttempts: 10}

// newRecoveryRun answers the steps query and sets the search attributes.
func newRecoveryRun(ctx workflow.Context, ref contract.ObjectRef) (*recoveryRun, error) {
	info := workflow.GetInfo(ctx)
	r := &recoveryRun{started: info.WorkflowStartTime, id: info.WorkflowExecution.ID}
	if err := workflow.SetQueryHandler(ctx, contract.StepsQuery, func() (contract.OperationProgress, error) {
		return r.progress, nil
	}); err != nil {
		return nil, err
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, contract.AttrReplication.ValueSet(ref.String())); err != nil {
		return nil, err
	}
	return r, nil
}

// step runs fn as the named step and records how it ended; fn's detail
// says what it did.
func (r *recoveryRun) step(ctx workflow.Context, name string, fn func() (string, error)) error {
	i := len(r.progress.Steps)
	r.progress.Steps = append(r.progress.Steps, contract.Step{Name: name, State: contract.StepRunning, Started: workflow.Now(ctx)})
	showSteps(ctx, r.progress.Steps)
	detail, err := fn()
	s := &r.progress.Steps[i]
	s.Ended, s.Detail, s.State = workflow.Now(ctx), detail, contract.StepDone
	if err != nil {
		s.State, s.Detail = contract.StepFailed, errorMessage(err)
	}
	showSteps(ctx, r.progress.Steps)
	return err
}

// skip records a step that did not run, and why.
func (r *recoveryRun) skip(ctx workflow.Context, name, why string) {
	now := workflow.Now(ctx)
	r.progress.Steps = append(r.progress.Steps, contract.Step{Name: name, State: contract.StepSkipped, Detail: why, Started: now, Ended: now})
	showSteps(ctx, r.progress.Steps)
}

// steps is a copy of the steps so far, for a result.
func (r *recoveryRun) steps() []contract.Step {
	return append([]contract.Step(nil), r.progress.Steps...)
}

// shortOptions are for steps of one or a few API calls.
func shortOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute, RetryPolicy: recoveryRetry})
}

// waitOptions are for steps that wait, heartbeating, up to limit in all:
// a worker killed mid-wait is noticed within the heartbeat timeout and the
// wait resumes on another, without restarting its clock.
func waitOptions(ctx workflow.Context, limit time.Duration) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		ScheduleToCloseTimeout: limit, StartToCloseTimeout: limit, HeartbeatTimeout: 30 * time.Second, RetryPolicy: recoveryRetry,
	})
}

// recoveryActivities is the nil receiver workflows name activities with.
var recoveryActivities *recovery.RecoveryActivities

// locate finds where the Replication's workloads run.
func (r *recoveryRun) locate(ctx workflow.Context, ref contract.ObjectRef) (contract.RecoveryTarget, error) {
	var t contract.RecoveryTarget
	err := r.step(ctx, contract.StepLocate, func() (string, error) {
		err := workflow.ExecuteActivity(shortOptions(ctx), recoveryActivities.LocateRecovery, ref).Get(ctx, &t)
		return fmt.Sprintf("%s/%s → %s/%s, %s side active", t.Source.Name, t.SourceNamespace, t.Destination.Name, t.DestinationNamespace, t.ActiveSide), err
	})
	return t, err
}

// scale runs one scaling activity as a step and returns what it changed.
func (r *recoveryRun) scale(ctx workflow.Context, name string, activity any, in contract.WorkloadsInput) ([]contract.WorkloadChange, error) {
	var res contract.WorkloadsResult
	err := r.step(ctx, name, func() (string, error) {
		err := workflow.ExecuteActivity(shortOptions(ctx), activity, in).Get(ctx, &res)
		return describeChanges(res.Workloads, in), err
	})
	return res.Workloads, err
}

// wait waits, as a step, until workloads are Ready or, at zero, gone.
func (r *recoveryRun) wait(ctx workflow.Context, name string, in contract.WaitReadyInput, limit time.Duration) error {
	return r.step(ctx, name, func() (string, error) {
		err := workflow.ExecuteActivity(waitOptions(ctx, limit), recoveryActivities.WaitWorkloads, in).Get(ctx, nil)
		var timeout *temporal.TimeoutError
		if errors.As(err, &timeout) {
			why := errorMessage(err)
			var last contract.ReadyProgress
			if timeout.HasLastHeartbeatDetails() && timeout.LastHeartbeatDetails(&last) == nil && len(last.NotReady) > 0 {
				why = strings.Join(last.NotReady, "; ")
			}
			err = temporal.NewNonRetryableApplicationError(fmt.Sprintf("workloads in %s/%s not Ready within %s: %s",
				in.Cluster.Name, in.Namespace, limit, why), contract.ErrTypeNotReady, err)
		}
		return fmt.Sprintf("%d workloads in %s/%s", len(in.Workloads), in.Cluster.Name, in.Namespace), err
	})
}

// record writes status.failover.
func recordState(ctx workflow.Context, st contract.FailoverState) error {
	return workflow.ExecuteActivity(shortOptions(ctx), recoveryActivities.RecordFailoverState, st).Get(ctx, nil)
}

// syncRun runs one Replication run as a child of a recovery: the final
// sync of a failover, or a failback's copy back. Cancelling the recovery
// cancels it, and waits for its cleanup.
func syncRun(ctx workflow.Context, in contract.ReplicationInput) (string, contract.ReplicationResult, error) {
	id := contract.ReplicationWorkflowID(in.Replication.Namespace, in.Replication.Name, in.Trigger)
	childCtx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            id,
		WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY,
		ParentClosePolicy:     enumspb.PARENT_CLOSE_POLICY_REQUEST_CANCEL,
		WaitForCancellation:   true,
		TypedSearchAttributes: temporal.NewSearchAttributes(contract.AttrReplication.ValueSet(in.Replication.String())),
		StaticSummary:         "Sync " + in.Replication.String() + " (" + workflow.GetInfo(ctx).WorkflowType.Name + ")",
		StaticDetails:         fmt.Sprintf("**Replication:** %s\n\n**Trigger:** %s (%s)", in.Replication, workflow.GetInfo(ctx).WorkflowType.Name, in.Trigger),
	})
	var res contract.ReplicationResult
	err := workflow.ExecuteChildWorkflow(childCtx, contract.ReplicationName, in).Get(ctx, &res)
	var appErr *temporal.ApplicationError
	if err != nil && errors.As(err, &appErr) && appErr.HasDetails() {
		_ = appErr.Details(&res)
	}
	return id, res, err
}

// describeChanges says in one line what a scaling step did.
func describeChanges(changes []contract.WorkloadChange, in contract.WorkloadsInput) string {
	if len(changes) == 0 {
		return fmt.Sprintf("no workloads to change in %s/%s", in.Cluster.Name, in.Namespace)
	}
	s := fmt.Sprintf("%s/%s:", in.Cluster.Name, in.Namespace)
	for _, c := range changes {
		if c.Suspended != nil {
			s += fmt.Sprintf(" %s suspend=%t", c.Key(), *c.Suspended)
			continue
		}
		s += fmt.Sprintf(" %s %d→%d", c.Key(), c.From, c.To)
	}
	return s
}

// errorMessage is an error's message without the wrapping Temporal adds.
func errorMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// cancelled reports whether the workflow was cancelled.
func cancelled(ctx workflow.Context) bool {
	return errors.Is(ctx.Err(), workflow.ErrCanceled)
}
