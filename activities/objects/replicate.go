package objects

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// ReplicateKind brings one kind of the DR namespace in line with the source:
// it lists the kind once on each side and creates and updates what differs.
// It deletes nothing: the DR objects of this replication whose source is
// gone are returned in Prune, and DR volumes are kept (StateSourceDeleted).
// Idempotent: a retry redoes only what is still different. A plan or kind
// its Replication does not name is refused before either cluster is read
// (authorize.go).
//
// Objects DR rejects are reported, not returned as an error; when some
// failed for reasons a retry may fix, it returns a retryable
// ErrTypeObjectsFailed error whose details are the KindResult.
func (a *ResourceActivities) ReplicateKind(ctx context.Context, in contract.ReplicateKindInput) (contract.KindResult, error) {
	plan, k := in.Plan, in.Kind
	result := contract.KindResult{Kind: k.String()}
	src, dst, err := a.authorized(ctx, "ReplicateKind", plan, kindInput(k, plan))
	if err != nil {
		return result, err
	}
	sources, err := listObjects(ctx, src, k, plan.SourceNamespace)
	if apierrors.IsNotFound(err) {
		result.Objects = []contract.ObjectStatus{kindNotFound(k, "source")}
		return result, nil
	}
	if err != nil {
		// Without the source list nothing is pruned: a failed read must never delete DR data.
		return result, fmt.Errorf("list %s in source namespace %s: %w", k.Resource, plan.SourceNamespace, err)
	}
	existing, err := listObjects(ctx, dst, k, plan.DestinationNamespace)
	if apierrors.IsNotFound(err) {
		result.Objects = []contract.ObjectStatus{kindNotFound(k, "DR")}
		return result, nil
	}
	if err != nil {
		return result, fmt.Errorf("list %s in DR namespace %s: %w", k.Resource, plan.DestinationNamespace, err)
	}

	r := &kindRun{plan: plan, kind: k, dst: dst.Resource(k.GVR()).Namespace(plan.DestinationNamespace),
		cluster: dst, opts: planOptions(plan), handling: handling(plan, k)}
	if k.Kind == "PersistentVolumeClaim" && r.opts.PVC.SyncPersistentVolumes {
		volumes, err := a.replicateVolumes(ctx, src, dst, plan, sources, &r.opts)
		result.Objects = append(result.Objects, volumes.Objects...)
		result.Writes += volumes.Writes
		if err != nil {
			return result, err
		}
	}
	r.run(ctx, sources, existing, &result)
	return result, transientFailures(result)
}

func kindNotFound(k resources.Kind, cluster string) contract.ObjectStatus {
	return contract.ObjectStatus{Kind: k.String(), State: contract.StateFailed, Category: contract.CategoryNotFound,
		Error: fmt.Sprintf("the %s cluster does not serve %s", cluster, k.GVR())}
}

// transientFailures returns a retryable error carrying result when some
// object failed for a reason a retry may fix.
func transientFailures(result contract.KindResult) error {
	var failed []string
	for _, o := range result.Objects {
		if o.State == contract.StateFailed && (o.Category == contract.CategoryNetwork || o.Category == contract.CategoryConflict) && o.Action != string(resources.ActionConflict) {
			failed = append(failed, o.Name+": "+o.Error)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	msg := fmt.Sprintf("%d %s failed: %s", len(failed), result.Kind, strings.Join(failed, "; "))
	return temporal.NewApplicationErrorWithOptions(msg, contract.ErrTypeObjectsFailed, temporal.ApplicationErrorOptions{Details: []any{result}})
}

// kindRun replicates one kind.
type kindRun struct {
	plan     contract.ReplicationPlan
	kind     resources.Kind
	cluster  dynamic.Interface
	dst      dynamic.ResourceInterface
	opts     resources.Options
	handling drv1.ImmutableHandling
}

// resourceItem is one DR object to decide on: from a source object, or a
// DR volume whose source is gone.
type resourceItem struct {
	name     string
	desired  resources.Desired
	existing *unstructured.Unstructured
	orphan   bool
}

func (r *kindRun) run(ctx context.Context, sources, existing []unstructured.Unstructured, result *contract.KindResult) {
	have := map[string]*unstructured.Unstructured{}
	for i := range existing {
		have[existing[i].GetName()] = &existing[i]
		if resources.Owned(&existing[i], r.opts.Replication) {
			result.Owned++
		}
	}
	var items []resourceItem
	inSource := map[string]bool{}
	for i := range sources {
		name := sources[i].GetName()
		inSource[name] = true
		items = append(items, resourceItem{name: name, desired: resources.Transform(r.kind, &sources[i], r.opts), existing: have[name]})
	}
	for _, e := range existing {
		switch {
		case r.opts.Reverse:
			// A failback deletes and keeps-as-orphan nothing in the source:
			// what DR lacks may be what the source still needs.
		case inSource[e.GetName()] || !resources.Owned(&e, r.opts.Replication):
		case resources.IsVolume(r.kind):
			items = append(items, resourceItem{name: e.GetName(), existing: have[e.GetName()], orphan: true})
		default:
			result.Prune = append(result.Prune, e.GetName())
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].name < items[j].name })
	sort.Strings(result.Prune)

	statuses := make([]contract.ObjectStatus, len(items))
	scales := make([]*contract.WorkloadScale, len(items))
	var writes, done atomic.Int64
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < resourceWriters; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				var wrote bool
				statuses[i], scales[i], wrote = r.one(ctx, items[i])
				if wrote {
					writes.Add(1)
				}
				activity.RecordHeartbeat(ctx, contract.ReplicateKindProgress{Kind: r.kind.String(), Done: done.Add(1), Total: len(items)})
			}
		}()
	}
	for i := range items {
		work <- i
	}
	close(work)
	wg.Wait()

	for i, s := range statuses {
		// Skipped system objects (kube-root-ca.crt and friends) are in every
		// namespace; listing them in status would only be noise.
		if s.State == contract.StateSkipped && items[i].desired.Skip != "" && !userSkip(items[i].desired.Skip) {
			continue
		}
		result.Objects = append(result.Objects, s)
		if scales[i] != nil {
			result.Scales = append(result.Scales, *scales[i])
		}
	}
	result.Writes += int(writes.Load())
}

// userSkip tells skips a user asked for (the ignore label) from the
// objects every cluster makes for itself.
func userSkip(reason string) bool { return strings.HasPrefix(reason, "labelled ") }

// one decides on and writes one object; wrote reports a write to DR.
func (r *kindRun) one(ctx context.Context, it resourceItem) (status contract.ObjectStatus, scale *contract.WorkloadScale, wrote bool) {
	status = contract.ObjectStatus{Kind: r.kind.String(), Name: it.name}
	if it.orphan {
		return r.keepVolume(ctx, it.existing, status)
	}
	if it.desired.Object == nil {
		status.State, status.Error = contract.StateSkipped, it.desired.Skip
		if it.existing != nil && userSkip(it.desired.Skip) && !r.opts.Reverse &&
			(resources.Owned(it.existing, r.opts.Replication) || resources.Released(it.existing, r.opts.Replication)) {
			return r.release(ctx, it.existing, status)
		}
		return status, nil, false
	}
	if r.opts.Reverse && r.kind.Kind == "PersistentVolumeClaim" && it.existing == nil && r.plan.Spec.PVCConfig.SyncData {
		// The data sync creates it, as a copy of its DR claim it can tell
		// from a stranger's claim on a retry; created here it would be an
		// unmarked claim the sync must refuse.
		status.State, status.Error = contract.StateSkipped, "missing in the source; the failback's data sync creates it and copies its data"
		return status, nil, false
	}
	d := r.decide(it)
	status.Action = string(d.Action)
	if s := it.desired.Scale; s != nil {
		scale = &contract.WorkloadScale{Kind: r.kind.Kind, Name: it.name, OriginalReplicas: s.Original, DRReplicas: s.DR}
	}
	switch d.Action {
	case resources.ActionConflict:
		status.State, status.Error, status.Category = contract.StateFailed, d.Reason, contract.CategoryConflict
		return status, nil, false
	case resources.ActionKeep:
		status.State, status.Error = contract.StateSkipped, d.Reason
		return status, nil, false
	}
	patched, err := r.dropStaleMarks(ctx, it.existing, it.desired.Object)
	if err != nil {
		return failedStatus(status, err), nil, patched
	}
	if d.Action == resources.ActionNone {
		status.State = contract.StateSynced
		return status, scale, patched
	}
	detail, err := r.write(ctx, d, it.existing)
	status.Detail = detail
	if err != nil {
		return failedStatus(status, err), nil, true
	}
	if len(d.Immutable) > 0 && status.Detail == "" {
		status.Detail = "immutable fields changed: " + strings.Join(d.Immutable, ", ")
	}
	status.State = contract.StateSynced
	return status, scale, true
}

// decide is Decide, or DecideReverse in a failback.
func (r *kindRun) decide(it resourceItem) resources.Decision {
	if r.opts.Reverse {
		return resources.DecideReverse(r.kind, it.desired.Object, it.existing, r.opts.Replication)
	}
	return resources.Decide(r.kind, it.desired.Object, it.existing, r.opts.Replication, r.handling)
}

func failedStatus(s contract.ObjectStatus, err error) contract.ObjectStatus {
	s.State, s.Error = contract.StateFailed, err.Error()
	s.Category, _ = categorizeAPIError(err)
	return s
}
