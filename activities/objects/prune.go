package objects

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
// refused before anything is read (authorize.go).
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
	for _, name := range in.Names {
		status := contract.ObjectStatus{Kind: in.Kind.String(), Name: name, Action: "Prune", State: contract.StateSynced}
		if _, err := src.Resource(in.Kind.GVR()).Namespace(in.Plan.SourceNamespace).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			if err != nil {
				return result, fmt.Errorf("get source %s %s: %w", in.Kind, name, err)
			}
			status.Action, status.Detail = "None", "its source is back; kept"
			result.Objects = append(result.Objects, status)
			continue
		}
		obj, err := r.dst.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return result, fmt.Errorf("get DR %s %s: %w", in.Kind, name, err)
		case !resources.Owned(obj, r.opts.Replication):
			status.Action, status.Detail = "None", "no longer this Replication's; kept"
		default:
			if err := r.delete(ctx, obj, nil); err != nil && !apierrors.IsNotFound(err) {
				status = failedStatus(status, fmt.Errorf("prune %s %s: %w", in.Kind, name, err))
			} else {
				result.Writes++
			}
		}
		result.Objects = append(result.Objects, status)
	}
	return result, transientFailures(result)
}
