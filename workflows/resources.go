package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/objects"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// Timeouts of the resource steps. A kind of a few thousand objects takes
// seconds; recreating with a drain waits up to drainTimeout plus twice
// forceDeleteTimeout per object, which resourceStepTimeout leaves room for.
const (
	resourceHeartbeatTimeout = time.Minute
	namespaceStepTimeout     = 2 * time.Minute
	minResourceStepTimeout   = 30 * time.Minute
)

// ReplicateResources replicates a plan's namespace and objects into DR:
// the namespace, then one activity per kind, kinds of one stage at the same
// time and stages in dependency order. failureHandling decides per failure
// category whether the run stops (FailFast), fails at the end (RetryOnly) or
// records the failure and completes (RetryAndWait, WaitForNextSync).
func ReplicateResources(ctx workflow.Context, plan contract.ReplicationPlan) (contract.ResourcesResult, error) {
	fh := plan.Spec.FailureHandling
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: resourceStepTimeout(plan.Spec.ImmutableResourceConfig),
		HeartbeatTimeout:    resourceHeartbeatTimeout,
		// Retries are for failures a retry may fix, which are the network's.
		RetryPolicy: RetryPolicy(plan.Spec.RetryConfig, fh.NetworkError),
	})
	var a *objects.ResourceActivities
	run := &resourcesRun{fh: fh, groups: map[string]int{}}

	var sel contract.KindSelection
	if err := workflow.ExecuteActivity(ctx, a.SelectKinds, plan).Get(ctx, &sel); err != nil {
		return run.result, fmt.Errorf("select resource types: %w", err)
	}
	for _, name := range sel.Unknown {
		run.record(contract.ObjectStatus{Kind: name, State: contract.StateFailed, Category: contract.CategoryNotFound,
			Error: fmt.Sprintf("unknown resource type %q: not a supported kind and not served by the source cluster", name)})
	}
	if run.stop {
		return run.finish()
	}

	nsCtx := workflow.WithStartToCloseTimeout(ctx, namespaceStepTimeout)
	if err := workflow.ExecuteActivity(nsCtx, a.EnsureNamespace, plan).Get(ctx, &run.result.Namespace); err != nil {
		run.stepFailed("Namespace", err)
		// Nothing can be written without the namespace.
		run.stop = true
		return run.finish()
	}
	run.result.Changed = run.result.Namespace.Created || run.result.Namespace.Updated

	for _, stage := range sel.Stages {
		futures := make([]workflow.Future, len(stage))
		for i, k := range stage {
			futures[i] = workflow.ExecuteActivity(ctx, a.ReplicateKind, contract.ReplicateKindInput{Plan: plan, Kind: k})
		}
		// Collect in stage order, so the result does not depend on which finished first.
		for i, f := range futures {
			var kr contract.KindResult
			err := f.Get(ctx, &kr)
			if err != nil {
				var appErr *temporal.ApplicationError
				if errors.As(err, &appErr) && appErr.Type() == contract.ErrTypeObjectsFailed && appErr.HasDetails() && appErr.Details(&kr) == nil {
					// The last attempt's per-object status, failures included.
					run.kind(stage[i], kr)
					continue
				}
				run.stepFailed(stage[i].String(), err)
				continue
			}
			run.kind(stage[i], kr)
		}
		if run.stop {
			break
		}
	}
	// Runs from before the deletion guard replay without a prune step; their
	// ReplicateKind deleted on its own, today's deletes nothing. A reverse
	// run (failback) never deletes in the source: what DR lacks may be what
	// the source still needs, and its acknowledgement would let the
	// deletion guard through.
	if !run.stop && hasChange(ctx, changeDeletionGuard) && plan.Direction != contract.DirectionReverse {
		run.prune(ctx, plan)
	}
	return run.finish()
}

// resourcesRun accumulates a run's result and what failures decided.
type resourcesRun struct {
	fh     contract.FailureHandling
	result contract.ResourcesResult
	groups map[string]int // kind -> index in result.Groups
	stop   bool           // a FailFast failure: run no further steps
	fail   []string       // failures whose mode fails the run
	// prunes are the kinds with owned DR objects whose source is gone, in
	// the order the kinds ran; owned counts all the run's owned objects.
	prunes []pruneSet
	owned  int
}

// pruneSet is one kind's owned DR objects whose source is gone.
type pruneSet struct {
	kind  resources.Kind
	names []string
}

func (r *resourcesRun) kind(k resources.Kind, kr contract.KindResult) {
	if kr.Writes > 0 {
		r.result.Changed = true
	}
	r.owned += kr.Owned
	if len(kr.Prune) > 0 {
		r.prunes = append(r.prunes, pruneSet{kind: k, names: kr.Prune})
	}
	r.result.Scales = append(r.result.Scales, kr.Scales...)
	for _, o := range kr.Objects {
		r.record(o)
	}
}

func (r *resourcesRun) record(o contract.ObjectStatus) {
	res := &r.result
	res.Resources = append(res.Resources, o)
	i, ok := r.groups[o.Kind]
	if !ok {
		i = len(res.Groups)
		r.groups[o.Kind] = i
		res.Groups = append(res.Groups, contract.ResourceGroup{Kind: o.Kind})
	}
	g := &res.Groups[i]
	g.Total++
	res.Total++
	switch o.State {
	case contract.StateSynced:
		g.Synced++
		res.Synced++
	case contract.StateSkipped, contract.StateSourceDeleted, contract.StateDeletionHeld:
		g.Skipped++
		res.Skipped++
	default:
		g.Failed++
		res.Failed++
		r.failure(o.Category, fmt.Sprintf("%s %s: %s", o.Kind, o.Name, o.Error))
	}
}

// stepFailed records an activity that failed as a whole (after its retries).
func (r *resourcesRun) stepFailed(step string, err error) {
	category := contract.CategoryNetwork
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && (appErr.Type() == contract.ErrTypeInvalidSpec || appErr.Type() == contract.ErrTypeForbidden) {
		category = contract.CategoryValidation
	}
	r.record(contract.ObjectStatus{Kind: step, State: contract.StateFailed, Category: category, Error: rootMessage(err)})
}

// failure applies the failure mode of a category.
func (r *resourcesRun) failure(category contract.ErrorCategory, msg string) {
	switch modeOf(r.fh, category) {
	case contract.FailureFailFast:
		if !r.stop {
			r.result.Stopped = msg
		}
		r.stop = true
		r.fail = append(r.fail, msg)
	case contract.FailureRetryOnly:
		r.fail = append(r.fail, msg)
	}
}

// finish returns the result, as the details of an ErrTypeResourcesFailed
// error when a failure's mode fails the run.
func (r *resourcesRun) finish() (contract.ResourcesResult, error) {
	if len(r.fail) == 0 {
		return r.result, nil
	}
	msg := fmt.Sprintf("%d resource failures fail the run; first: %s", len(r.fail), r.fail[0])
	return r.result, temporal.NewNonRetryableApplicationError(msg, contract.ErrTypeResourcesFailed, nil, r.result)
}

func modeOf(fh contract.FailureHandling, c contract.ErrorCategory) contract.FailureMode {
	var m contract.FailureMode
	switch c {
	case contract.CategoryValidation:
		m = fh.ValidationFailure
	case contract.CategoryNotFound:
		m = fh.ResourceNotFound
	case contract.CategoryNetwork:
		m = fh.NetworkError
	}
	if m == "" {
		m = fh.DefaultMode
	}
	return m
}

// resourceStepTimeout leaves a recreation room to drain and force-delete.
func resourceStepTimeout(irc contract.ImmutableSettings) time.Duration {
	return max(minResourceStepTimeout, 2*(irc.DrainTimeout.Value()+2*irc.ForceDeleteTimeout.Value()))
}

// rootMessage is the failing activity's own message, what a user reads in
// status, without Temporal's "activity error (...)" wrapping.
func rootMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}
