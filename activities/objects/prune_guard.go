package objects

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// recheckDeletionGuard weighs one PruneObjects call's deletions against the
// deletion guard again, counted afresh in both clusters. The workflow has
// already weighed the whole run (workflows/resources_prune.go), but only
// its own code does that: a worker running other workflow code could call
// PruneObjects with every owned name. This bounds any one call. An honest
// run's calls always pass: each deletes at most the run's deletions, and
// the limit of what is still owned never drops below the run's limit less
// what earlier calls deleted (DeletionLimit is a share, at most 100 %).
func (a *ResourceActivities) recheckDeletionGuard(ctx context.Context, plan contract.ReplicationPlan, src, dst dynamic.Interface, deletions int) error {
	going, err := sourceNamespaceGoing(ctx, src, plan.SourceNamespace)
	if err != nil {
		return err
	}
	owned, err := a.ownedInDR(ctx, plan, dst)
	if err != nil {
		return err
	}
	check := resources.DeletionCheck{Deletions: deletions, Owned: owned, Limit: plan.Spec.DeletionGuard.DeletionLimit(owned),
		SourceNamespaceTerminating: going, Accepted: plan.AcceptChanges}
	if allowed, reason := check.Verdict(plan.Replication.String(), plan.SourceNamespace); !allowed {
		return activities.NonRetryable(contract.ErrTypeInputMismatch, "PruneObjects refused: rechecked in both clusters, the deletion guard says %s", reason)
	}
	return nil
}

// sourceNamespaceGoing: the source namespace is being deleted, or is gone.
func sourceNamespaceGoing(ctx context.Context, src dynamic.Interface, namespace string) (bool, error) {
	ns, err := src.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Get(ctx, namespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("get source namespace %s: %w", namespace, err)
	}
	return ns.GetDeletionTimestamp() != nil, nil
}

// ownedInDR counts the DR objects this Replication owns across the kinds
// its run selects, as ReplicateKind counts them for the workflow's guard.
func (a *ResourceActivities) ownedInDR(ctx context.Context, plan contract.ReplicationPlan, dst dynamic.Interface) (int, error) {
	sel, err := a.SelectKinds(ctx, plan)
	if err != nil {
		return 0, err
	}
	owned := 0
	for _, stage := range sel.Stages {
		for _, k := range stage {
			objs, err := listObjects(ctx, dst, k, plan.DestinationNamespace)
			if apierrors.IsNotFound(err) {
				continue // DR does not serve the kind, so it holds none
			}
			if err != nil {
				return 0, fmt.Errorf("count owned %s in DR namespace %s: %w", k.Resource, plan.DestinationNamespace, err)
			}
			for i := range objs {
				if resources.Owned(&objs[i], plan.Replication.String()) {
					owned++
				}
			}
		}
	}
	return owned, nil
}
