package objects

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// PruneObjects deletes DR objects this replication owns whose source is
// gone, after the workflow's deletion guard agreed. Each is checked again
// first: an object whose source is back, or that is no longer this
// replication's, is left alone, and volumes are never deleted here.
// Idempotent: an object already gone counts as pruned. A plan its
// Replication does not name, or one that talked the guard round, is
// refused before anything is read (authorize.go); names more than the
// deletion guard allows, counted afresh, are refused before anything is
// deleted (prune_guard.go).
func (a *ResourceActivities) PruneObjects(ctx context.Context, in contract.PruneInput) (contract.KindResult, error) {
	result := contract.KindResult{Kind: in.Kind.String()}
	if resources.IsVolume(in.Kind) {
		return result, activities.InvalidSpec("%s are never pruned", in.Kind)
	}
	src, dst, err := a.authorized(ctx, "PruneObjects", in.Plan, pruneInput(in.Kind, in.Plan))
	if err != nil {
		return result, err
	}
	r := &kindRun{plan: in.Plan, kind: in.Kind, cluster: dst, dst: dst.Resource(in.Kind.GVR()).Namespace(in.Plan.DestinationNamespace), opts: planOptions(in.Plan)}
	result.Objects = make([]contract.ObjectStatus, len(in.Names))
	doomed := map[int]*unstructured.Unstructured{} // by index in in.Names
	for i, name := range in.Names {
		status := contract.ObjectStatus{Kind: in.Kind.String(), Name: name, Action: "Prune", State: contract.StateSynced}
		_, err := src.Resource(in.Kind.GVR()).Namespace(in.Plan.SourceNamespace).Get(ctx, name, metav1.GetOptions{})
		switch {
		case err == nil:
			status.Action, status.Detail = "None", "its source is back; kept"
		case !apierrors.IsNotFound(err):
			return result, fmt.Errorf("get source %s %s: %w", in.Kind, name, err)
		default:
			obj, err := r.dst.Get(ctx, name, metav1.GetOptions{})
			switch {
			case apierrors.IsNotFound(err): // pruned already
			case err != nil:
				return result, fmt.Errorf("get DR %s %s: %w", in.Kind, name, err)
			case !resources.Owned(obj, r.opts.Replication):
				status.Action, status.Detail = "None", "no longer this Replication's; kept"
			default:
				doomed[i] = obj
			}
		}
		result.Objects[i] = status
	}
	if len(doomed) > 0 {
		if err := a.recheckDeletionGuard(ctx, in.Plan, src, dst, len(doomed)); err != nil {
			return contract.KindResult{Kind: in.Kind.String()}, err
		}
	}
	for i, obj := range doomed {
		if err := r.delete(ctx, obj, nil); err != nil && !apierrors.IsNotFound(err) {
			result.Objects[i] = failedStatus(result.Objects[i], fmt.Errorf("prune %s %s: %w", in.Kind, in.Names[i], err))
		} else {
			result.Writes++
		}
	}
	return result, transientFailures(result)
}
