package resolve

import (
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// FailbackAckPrefix starts the acknowledgement a reverse run carries in
// AcceptChanges: the failback that asked for the run is the person's
// acceptance the DR-copy guards want, so it lets a DR copy overwrite the
// source's data without an accept-changes annotation.
const FailbackAckPrefix = "failback:"

// PlanFor is the plan of a run in req's direction. Every direction starts
// from the forward plan (Plan), so the Replication's settings, defaults and
// validation are one code path; only what the direction changes is
// changed here, in one place.
//
//   - "" (forward): Plan, unchanged.
//   - DirectionReverse (failback): DR namespace → source namespace.
//   - DirectionDrill: DR namespace → a scratch namespace of DR.
func (res *Resolved) PlanFor(req contract.PlanRequest) (contract.ReplicationPlan, error) {
	plan, err := res.Plan()
	if err != nil {
		return plan, err
	}
	switch req.Direction {
	case "":
		return plan, nil
	case contract.DirectionReverse:
		return res.reversePlan(plan, req)
	case contract.DirectionDrill:
		return res.drillPlan(plan, req)
	}
	return contract.ReplicationPlan{}, problem("direction %q is not one dr-syncer knows (Reverse or Drill)", req.Direction)
}

// reversePlan turns the forward plan around. The agent serves data from
// whichever cluster is the source, so the data plane is DR's; the pair's
// key is the same one, which DR's agent authorizes too (AuthorizedKeysFor).
func (res *Resolved) reversePlan(p contract.ReplicationPlan, req contract.PlanRequest) (contract.ReplicationPlan, error) {
	dr := res.Destination
	if p.Spec.PVCConfig.SyncData && !agentEnabled(dr) {
		return contract.ReplicationPlan{}, problem("enable spec.pvcSync on RemoteCluster %s so the agent rolls out there; failback copies DR's data back through it", dr.Name)
	}
	p.Source, p.Destination = p.Destination, p.Source
	p.SourceNamespace, p.DestinationNamespace = p.DestinationNamespace, p.SourceNamespace
	p.DataPlane = DataPlane(dr, res.ClusterKey, p.Spec.RetryConfig)
	p.AcceptChanges = FailbackAckPrefix + req.Trigger
	p.Direction = req.Direction
	pc := &p.Spec.PVCConfig
	readFromDR(pc)
	// Restore points are kept of DR copies; the source's claims are originals.
	pc.RestorePoints = contract.RestorePoints{}
	// DR's storage classes and access modes go back to the source's names.
	pc.StorageClassMappings = inverted(pc.StorageClassMappings)
	pc.AccessModeMappings = inverted(pc.AccessModeMappings)
	// A DR volume copied back would be written over the source's own PV of
	// the same name (and rebound to the DR claim's namespace): the source's
	// PVs stay as they are, and the data sync fills the claims.
	pc.SyncPersistentVolumes = false
	// Hooks stay: the application runs in DR now, and its pods there are
	// the ones to freeze around the snapshot the failback reads.
	return p, nil
}

// drillPlan copies the DR namespace into a scratch namespace of the same
// cluster. Nothing runs the copy but the drill itself, so hooks are off
// (no application runs in DR to freeze), workloads come up at zero, and
// the DR copy is only read.
func (res *Resolved) drillPlan(p contract.ReplicationPlan, req contract.PlanRequest) (contract.ReplicationPlan, error) {
	dr := res.Destination
	drNamespace := p.DestinationNamespace
	switch {
	case req.DrillNamespace == "":
		return contract.ReplicationPlan{}, problem("a drill needs a scratch namespace; none was given")
	case req.DrillNamespace == drNamespace:
		return contract.ReplicationPlan{}, problem("the drill namespace %s is the DR namespace itself; a drill never writes into the DR copy", drNamespace)
	case p.Spec.PVCConfig.SyncData && !agentEnabled(dr):
		return contract.ReplicationPlan{}, problem("enable spec.pvcSync on RemoteCluster %s so the agent rolls out there; a drill copies DR's data through it", dr.Name)
	}
	types := withoutVolumes(p.Spec.ResourceTypes)
	if len(types) == 0 && len(p.Spec.NamespaceScopedResources) == 0 {
		// Empty would mean every kind, PVCs included.
		return contract.ReplicationPlan{}, problem("resourceTypes select nothing but PersistentVolumeClaims; a drill brings the namespace's workloads up, so select them too")
	}
	p.Source = p.Destination
	p.SourceNamespace, p.DestinationNamespace = drNamespace, req.DrillNamespace
	p.DataPlane = DataPlane(dr, res.ClusterKey, p.Spec.RetryConfig)
	// The drill accepts nothing on the Replication's behalf: a pending
	// accept-changes is for its next forward run.
	p.AcceptChanges = ""
	p.Direction = req.Direction
	p.Spec.ResourceTypes = types
	p.Spec.ScaleToZero = true
	p.Spec.NamespaceConfig.CreateNamespace = true
	pc := &p.Spec.PVCConfig
	readFromDR(pc)
	// The drill's claims are scratch: no restore points of them.
	pc.RestorePoints = contract.RestorePoints{}
	pc.DataSyncConfig.Hooks = nil
	// DR's classes and modes are DR's own: nothing to map within DR.
	pc.StorageClassMappings, pc.AccessModeMappings = nil, nil
	pc.SyncPersistentVolumes = false
	return p, nil
}

// readFromDR points a sync that reads DR claims at DR's VolumeSnapshotClass:
// dataSyncConfig names one of the source cluster's, restorePoints one of
// DR's (or none, and the DR driver's class is found as usual).
func readFromDR(pc *contract.PVCSettings) {
	pc.DataSyncConfig.VolumeSnapshotClassName = pc.RestorePoints.VolumeSnapshotClassName
}

// withoutVolumes is resourceTypes as explicit kinds, without PVCs and PVs:
// the drill makes its claims itself, from restore points or data copies.
// Names no kind matches stay, so the run reports them as it always does.
func withoutVolumes(types []string) []string {
	sel := resources.Select(types, nil)
	var out []string
	for _, k := range sel.Kinds {
		if !resources.IsVolume(k) {
			out = append(out, k.Resource)
		}
	}
	return append(out, sel.Unknown...)
}

// inverted swaps each mapping's sides; where several sources map to one
// value, the first of them is where it maps back to.
func inverted(ms []contract.Mapping) []contract.Mapping {
	var out []contract.Mapping
	seen := map[string]bool{}
	for _, m := range ms {
		if !seen[m.To] {
			seen[m.To] = true
			out = append(out, contract.Mapping{From: m.To, To: m.From})
		}
	}
	return out
}

// agentEnabled says whether a RemoteCluster runs the agent that serves its
// PVC data.
func agentEnabled(rc *drv1.RemoteCluster) bool {
	return rc.Spec.PVCSync != nil && rc.Spec.PVCSync.Enabled
}
