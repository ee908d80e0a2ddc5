package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// ReplicateResourcesName is the registered type name of ReplicateResources.
const ReplicateResourcesName = "ReplicateResources"

// ErrTypeResourcesFailed fails a ReplicateResources run whose failure mode
// (FailFast, RetryOnly) says the run fails; its details hold the
// ResourcesResult, so the caller still reports every object.
const ErrTypeResourcesFailed = "ResourcesFailed"

// ResourcesResult is what one ReplicateResources run did.
type ResourcesResult struct {
	Namespace activities.NamespaceResult `json:"namespace"`
	// Total counts the objects considered; Synced + Failed + Skipped == Total.
	Total   int `json:"total"`
	Synced  int `json:"synced"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// Groups count per kind, in the order the kinds ran (status.resourceGroups).
	Groups []ResourceGroup `json:"groups"`
	// Resources is every object's status (status.resourceStatus).
	Resources []activities.ObjectStatus `json:"resources"`
	// Scales lists the workloads scaled down in DR (status.deploymentScales).
	Scales []activities.WorkloadScale `json:"scales,omitempty"`
	// Changed says DR was written to; false means the controller has nothing new to report.
	Changed bool `json:"changed"`
	// Stopped names the failure that ended the run early (FailFast).
	Stopped string `json:"stopped,omitempty"`
	// DeletionGuard is what the mass-deletion breaker weighed; nil when the
	// run reached no deletion step.
	DeletionGuard *DeletionGuardResult `json:"deletionGuard,omitempty"`
}

// ResourceGroup counts the objects of one kind.
type ResourceGroup struct {
	Kind    string `json:"kind"`
	Total   int    `json:"total"`
	Synced  int    `json:"synced"`
	Failed  int    `json:"failed"`
	Skipped int    `json:"skipped"`
}

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
func ReplicateResources(ctx workflow.Context, plan activities.ReplicationPlan) (ResourcesResult, error) {
	fh := failureHandling(plan.Spec.FailureHandling)
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: resourceStepTimeout(plan.Spec.ImmutableResourceConfig),
		HeartbeatTimeout:    resourceHeartbeatTimeout,
		// Retries are for failures a retry may fix, which are the network's.
		RetryPolicy: RetryPolicy(plan.Spec.RetryConfig, fh.NetworkError),
	})
	var a *activities.ResourceActivities
	run := &resourcesRun{fh: fh, groups: map[string]int{}}

	var sel activities.KindSelection
	if err := workflow.ExecuteActivity(ctx, a.SelectKinds, plan).Get(ctx, &sel); err != nil {
		return run.result, fmt.Errorf("select resource types: %w", err)
	}
	for _, name := range sel.Unknown {
		run.record(activities.ObjectStatus{Kind: name, State: activities.StateFailed, Category: activities.CategoryNotFound,
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
			futures[i] = workflow.ExecuteActivity(ctx, a.ReplicateKind, activities.ReplicateKindInput{Plan: plan, Kind: k})
		}
		// Collect in stage order, so the result does not depend on which finished first.
		for i, f := range futures {
			var kr activities.KindResult
			err := f.Get(ctx, &kr)
			if err != nil {
				var appErr *temporal.ApplicationError
				if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeObjectsFailed && appErr.HasDetails() && appErr.Details(&kr) == nil {
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
	// ReplicateKind deleted on its own, today's deletes nothing.
	if !run.stop && workflow.GetVersion(ctx, changeDeletionGuard, workflow.DefaultVersion, 1) == 1 {
		run.prune(ctx, plan)
	}
	return run.finish()
}

// resourcesRun accumulates a run's result and what failures decided.
type resourcesRun struct {
	fh     drv1.FailureHandling
	result ResourcesResult
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

func (r *resourcesRun) kind(k resources.Kind, kr activities.KindResult) {
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

func (r *resourcesRun) record(o activities.ObjectStatus) {
	res := &r.result
	res.Resources = append(res.Resources, o)
	i, ok := r.groups[o.Kind]
	if !ok {
		i = len(res.Groups)
		r.groups[o.Kind] = i
		res.Groups = append(res.Groups, ResourceGroup{Kind: o.Kind})
	}
	g := &res.Groups[i]
	g.Total++
	res.Total++
	switch o.State {
	case activities.StateSynced:
		g.Synced++
		res.Synced++
	case activities.StateSkipped, activities.StateSourceDeleted, activities.StateDeletionHeld:
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
	category := activities.CategoryNetwork
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeInvalidSpec {
		category = activities.CategoryValidation
	}
	r.record(activities.ObjectStatus{Kind: step, State: activities.StateFailed, Category: category, Error: rootMessage(err)})
}

// failure applies the failure mode of a category.
func (r *resourcesRun) failure(category activities.ErrorCategory, msg string) {
	switch modeOf(r.fh, category) {
	case drv1.FailureFailFast:
		if !r.stop {
			r.result.Stopped = msg
		}
		r.stop = true
		r.fail = append(r.fail, msg)
	case drv1.FailureRetryOnly:
		r.fail = append(r.fail, msg)
	}
}

// finish returns the result, as the details of an ErrTypeResourcesFailed
// error when a failure's mode fails the run.
func (r *resourcesRun) finish() (ResourcesResult, error) {
	if len(r.fail) == 0 {
		return r.result, nil
	}
	msg := fmt.Sprintf("%d resource failures fail the run; first: %s", len(r.fail), r.fail[0])
	return r.result, temporal.NewNonRetryableApplicationError(msg, ErrTypeResourcesFailed, nil, r.result)
}

func modeOf(fh drv1.FailureHandling, c activities.ErrorCategory) drv1.FailureMode {
	var m drv1.FailureMode
	switch c {
	case activities.CategoryValidation:
		m = fh.ValidationFailure
	case activities.CategoryNotFound:
		m = fh.ResourceNotFound
	case activities.CategoryNetwork:
		m = fh.NetworkError
	}
	if m == "" {
		m = fh.DefaultMode
	}
	return m
}

// failureHandling fills what SetReplicationDefaults would, for a plan made without it.
func failureHandling(in *drv1.FailureHandling) drv1.FailureHandling {
	var fh drv1.FailureHandling
	if in != nil {
		fh = *in
	}
	if fh.DefaultMode == "" {
		fh.DefaultMode = drv1.FailureRetryAndWait
	}
	for _, m := range []*drv1.FailureMode{&fh.ResourceNotFound, &fh.ValidationFailure, &fh.NetworkError} {
		if *m == "" {
			*m = fh.DefaultMode
		}
	}
	return fh
}

func resourceStepTimeout(irc *drv1.ImmutableResourceConfig) time.Duration {
	t := minResourceStepTimeout
	if irc != nil {
		if need := 2 * (durationOr(irc.DrainTimeout, 5*time.Minute) + 2*durationOr(irc.ForceDeleteTimeout, 2*time.Minute)); need > t {
			t = need
		}
	}
	return t
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
