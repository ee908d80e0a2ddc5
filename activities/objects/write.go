package objects

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// resourcePollInterval paces the waits of recreate and drain.
const resourcePollInterval = 250 * time.Millisecond

var podsResource = schema.GroupVersionResource{Version: "v1", Resource: "pods"}

// write carries out a decision that writes; detail tells what a recreate did.
func (r *kindRun) write(ctx context.Context, d resources.Decision, existing *unstructured.Unstructured) (string, error) {
	name := d.Object.GetName()
	var detail string
	switch d.Action {
	case resources.ActionCreate, resources.ActionUpdate, resources.ActionPartialUpdate:
		// Server-side apply: fields dr-syncer no longer sets are removed,
		// fields DR allocated (cluster IPs, node ports) or other managers own stay.
		if _, err := r.dst.Apply(ctx, name, d.Object, resourceApply); err != nil {
			return "", fmt.Errorf("apply %s %s: %w", r.kind, name, err)
		}
		return "", nil
	case resources.ActionRecreateWithDrain:
		var err error
		if detail, err = r.drain(ctx, existing); err != nil {
			return detail, err
		}
		fallthrough
	case resources.ActionRecreate:
		forced, err := r.deleteAndWait(ctx, existing, false)
		if err != nil {
			return detail, err
		}
		if forced {
			detail = joinDetail(detail, "delete forced after forceDeleteTimeout "+string(r.plan.Spec.ImmutableResourceConfig.ForceDeleteTimeout))
		}
	case resources.ActionForceRecreate:
		if _, err := r.deleteAndWait(ctx, existing, true); err != nil {
			return "", err
		}
	default:
		return "", fmt.Errorf("%s %s: action %s does not write", r.kind, name, d.Action)
	}
	if _, err := r.dst.Apply(ctx, name, d.Object, resourceApply); err != nil {
		return detail, fmt.Errorf("create %s %s again: %w", r.kind, name, err)
	}
	return joinDetail(detail, "recreated because immutable fields changed"), nil
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// delete removes one DR object, only the very one listed (UID precondition),
// leaving its dependents to the DR garbage collector.
func (r *kindRun) delete(ctx context.Context, obj *unstructured.Unstructured, grace *int64) error {
	uid := obj.GetUID()
	background := metav1.DeletePropagationBackground
	return r.dst.Delete(ctx, obj.GetName(), metav1.DeleteOptions{
		Preconditions:      &metav1.Preconditions{UID: &uid},
		PropagationPolicy:  &background,
		GracePeriodSeconds: grace,
	})
}

// deleteAndWait deletes obj and waits up to forceDeleteTimeout for it to
// go; a graceful delete still pending then is repeated without grace.
// forced reports that it was.
func (r *kindRun) deleteAndWait(ctx context.Context, obj *unstructured.Unstructured, force bool) (forced bool, err error) {
	timeout := r.plan.Spec.ImmutableResourceConfig.ForceDeleteTimeout.Value()
	var grace *int64
	if force {
		grace = new(int64)
	}
	for {
		if err := r.delete(ctx, obj, grace); err != nil && !apierrors.IsNotFound(err) {
			return forced, fmt.Errorf("delete %s %s: %w", r.kind, obj.GetName(), err)
		}
		gone, err := r.waitGone(ctx, obj, timeout)
		if err != nil || gone {
			return forced, err
		}
		if grace != nil {
			return forced, apierrors.NewConflict(schema.GroupResource{Group: r.kind.Group, Resource: r.kind.Resource}, obj.GetName(),
				fmt.Errorf("still there %s after a forced delete; finalizers %v hold it", timeout, obj.GetFinalizers()))
		}
		grace, forced = new(int64), true
	}
}

// waitGone polls until no object with obj's UID exists, or timeout.
func (r *kindRun) waitGone(ctx context.Context, obj *unstructured.Unstructured, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	for {
		cur, err := r.dst.Get(ctx, obj.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && cur.GetUID() != obj.GetUID()) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("get %s %s: %w", r.kind, obj.GetName(), err)
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		activity.RecordHeartbeat(ctx, contract.ReplicateKindProgress{Kind: r.kind.String()})
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(resourcePollInterval):
		}
	}
}

// drain stops a workload's DR pods before it is recreated: a Deployment or
// StatefulSet is scaled to zero first (its controller stops the pods
// gracefully), other workloads are deleted first. Pods still there after
// drainTimeout are deleted without grace.
func (r *kindRun) drain(ctx context.Context, workload *unstructured.Unstructured) (string, error) {
	selector, ok := resources.PodSelector(r.kind, workload)
	if !ok {
		return "", nil
	}
	name := workload.GetName()
	if resources.Scalable(r.kind) {
		patch := []byte(`{"spec":{"replicas":0}}`)
		if _, err := r.dst.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: resourceFieldManager}); err != nil {
			return "", fmt.Errorf("scale %s %s to 0 before recreating it: %w", r.kind, name, err)
		}
	} else if err := r.delete(ctx, workload, nil); err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("delete %s %s before draining its pods: %w", r.kind, name, err)
	}
	podClient := r.cluster.Resource(podsResource).Namespace(r.plan.DestinationNamespace)
	timeout := r.plan.Spec.ImmutableResourceConfig.DrainTimeout.Value()
	deadline := time.Now().Add(timeout)
	for {
		left, err := podClient.List(ctx, metav1.ListOptions{LabelSelector: selector.String()})
		if err != nil {
			return "", fmt.Errorf("list pods of %s %s: %w", r.kind, name, err)
		}
		if len(left.Items) == 0 {
			return "pods drained", nil
		}
		if time.Now().After(deadline) {
			for _, p := range left.Items {
				if err := podClient.Delete(ctx, p.GetName(), metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil && !apierrors.IsNotFound(err) {
					return "", fmt.Errorf("force-delete pod %s of %s %s: %w", p.GetName(), r.kind, name, err)
				}
			}
			return fmt.Sprintf("drainTimeout %s passed with %d pods left; force-deleted them", timeout, len(left.Items)), nil
		}
		activity.RecordHeartbeat(ctx, contract.ReplicateKindProgress{Kind: r.kind.String()})
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(resourcePollInterval):
		}
	}
}
