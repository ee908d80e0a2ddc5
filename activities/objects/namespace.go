package objects

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

var namespacesResource = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// EnsureNamespace makes the DR namespace exist: created (with the source's
// labels and annotations as namespaceConfig says) when createNamespace is
// set, brought up to date when dr-syncer created it, and left alone when a
// user did. Idempotent. A plan its Replication does not name is refused
// (authorize.go).
func (a *ResourceActivities) EnsureNamespace(ctx context.Context, plan contract.ReplicationPlan) (contract.NamespaceResult, error) {
	src, dst, err := a.authorized(ctx, "EnsureNamespace", plan, nil)
	if err != nil {
		return contract.NamespaceResult{}, err
	}
	result := contract.NamespaceResult{Name: plan.DestinationNamespace}
	source, err := src.Resource(namespacesResource).Get(ctx, plan.SourceNamespace, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return result, activities.InvalidSpec("source namespace %s does not exist in cluster %s", plan.SourceNamespace, plan.Source.Name)
	}
	if err != nil {
		return result, fmt.Errorf("get source namespace %s: %w", plan.SourceNamespace, err)
	}
	result.SourceTerminating = source.GetDeletionTimestamp() != nil
	nc := plan.Spec.NamespaceConfig
	create := nc.CreateNamespace
	no := resources.NamespaceOptions{PreserveLabels: nc.PreserveLabels, PreserveAnnotations: nc.PreserveAnnotations}
	desired := resources.TransformNamespace(source, planOptions(plan), no)

	existing, err := dst.Resource(namespacesResource).Get(ctx, plan.DestinationNamespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		if !create {
			return result, activities.InvalidSpec("DR namespace %s does not exist and namespaceConfig.createNamespace is false; create it or set createNamespace", plan.DestinationNamespace)
		}
		if _, err := dst.Resource(namespacesResource).Apply(ctx, desired.GetName(), desired, resourceApply); err != nil {
			return result, fmt.Errorf("create DR namespace %s: %w", desired.GetName(), err)
		}
		result.Created = true
		return result, nil
	case err != nil:
		return result, fmt.Errorf("get DR namespace %s: %w", plan.DestinationNamespace, err)
	case existing.GetDeletionTimestamp() != nil:
		return result, fmt.Errorf("DR namespace %s is being deleted; waiting for it to go", plan.DestinationNamespace)
	}
	d := resources.Decide(resources.Kind{Kind: "Namespace"}, desired, existing, planOptions(plan).Replication, "")
	if d.Action != resources.ActionUpdate {
		return result, nil // unchanged, or a namespace a user made
	}
	if _, err := dst.Resource(namespacesResource).Apply(ctx, desired.GetName(), d.Object, resourceApply); err != nil {
		return result, fmt.Errorf("update DR namespace %s: %w", desired.GetName(), err)
	}
	result.Updated = true
	return result, nil
}
