package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/objects"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// changeDeletionGuard is the GetVersion change ID of weighing all of a run's
// deletions against the deletion guard before a separate prune step.
const changeDeletionGuard = "2026-12-04-deletion-guard"

// prune weighs every owned DR object whose source is gone against the
// deletion guard, then deletes them kind by kind, or none of them.
func (r *resourcesRun) prune(ctx workflow.Context, plan contract.ReplicationPlan) {
	check := resources.DeletionCheck{
		Owned:                      r.owned,
		Limit:                      plan.Spec.DeletionGuard.DeletionLimit(r.owned),
		SourceNamespaceTerminating: r.result.Namespace.SourceTerminating,
		Accepted:                   plan.AcceptChanges,
	}
	for _, p := range r.prunes {
		check.Deletions += len(p.names)
	}
	allowed, reason := check.Verdict(plan.Replication.String(), plan.SourceNamespace)
	r.result.DeletionGuard = &contract.DeletionGuardResult{DeletionCheck: check, Held: reason}
	if !allowed {
		for _, p := range r.prunes {
			for _, name := range p.names {
				r.record(contract.ObjectStatus{Kind: p.kind.String(), Name: name, State: contract.StateDeletionHeld, Action: "Prune",
					Error: "its source is gone; the deletion guard kept the DR copy"})
			}
		}
		return
	}
	var a *objects.ResourceActivities
	for _, p := range r.prunes {
		var pruned contract.KindResult
		if err := workflow.ExecuteActivity(ctx, a.PruneObjects, contract.PruneInput{Plan: plan, Kind: p.kind, Names: p.names}).Get(ctx, &pruned); err != nil {
			r.stepFailed("Prune "+p.kind.String(), err)
			continue
		}
		r.kind(p.kind, pruned)
	}
}
