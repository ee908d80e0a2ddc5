package activities

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
)

// PlanActivities read dr-syncer's own resources from the control cluster.
type PlanActivities struct {
	Control client.Reader
	// SystemNamespace is the namespace besides a Replication's own that its
	// references may point into; see drv1.ForeignReferenceProblem.
	SystemNamespace string
	// BatchPods is written into every plan's DataPlane: the worker decides
	// whether its runs' PVC syncs share pod pairs.
	BatchPods bool
}

// ResolveReplication reads a Replication and what it refers to and returns
// the plan of a run in the direction req asks for, through the same
// resolver the controller checks references with. A reference a user must
// fix is a non-retryable InvalidSpec error whose message says what to fix.
//
// Its input was a bare ObjectRef before runs had directions; recorded
// histories keep that input, which a replay never decodes again.
func (a *PlanActivities) ResolveReplication(ctx context.Context, req contract.PlanRequest) (contract.ReplicationPlan, error) {
	ref := req.Replication
	res, err := resolve.Replication(ctx, a.Control, a.SystemNamespace, ref)
	// A paused mapping pauses the syncs to DR. A failback or a drill runs
	// while syncs are paused on purpose (a failover pauses them), so only
	// forward runs stop here.
	if err == nil && req.Direction == "" && res.Mapping != nil && res.Mapping.Spec.Paused {
		return contract.ReplicationPlan{}, InvalidSpec("ClusterMapping %s/%s is paused; unpause it to sync", res.Mapping.Namespace, res.Mapping.Name)
	}
	var plan contract.ReplicationPlan
	if err == nil {
		plan, err = res.PlanFor(req)
		plan.DataPlane.BatchPods = a.BatchPods
	}
	if p, ok := resolve.IsProblem(err); ok {
		return contract.ReplicationPlan{}, InvalidSpec("Replication %s: %s", ref, p.Message)
	}
	return plan, err
}

// LocateDRCopies says where a Replication's DR copies are: its DR cluster
// and namespace. Restores need nothing more, so unlike ResolveReplication it
// works while the ClusterMapping is paused or a sync setting is wrong, which
// is when a person may well need a restore.
func (a *PlanActivities) LocateDRCopies(ctx context.Context, ref contract.ObjectRef) (contract.DRLocation, error) {
	res, err := resolve.Replication(ctx, a.Control, a.SystemNamespace, ref)
	if p, ok := resolve.IsProblem(err); ok {
		return contract.DRLocation{}, InvalidSpec("Replication %s: %s", ref, p.Message)
	}
	if err != nil {
		return contract.DRLocation{}, err
	}
	return resolve.DRLocation(res), nil
}
