package objects

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// The object steps act on the whole ReplicationPlan in their input, and
// anyone who can start workflows on the task queue writes that input (see
// activities.AuthorizedPlan). Unchecked, a forged plan could copy the
// Secrets of any namespace of a source cluster into any namespace of a DR
// cluster, or prune objects in any DR namespace. So every step resolves the
// Replication its plan names, once per call (the Replication, its
// ClusterMapping and RemoteClusters, read from the control client; no
// Secret), and refuses a plan that differs where it decides what is read,
// written or deleted:
//
//   - the clusters, the namespaces and the direction (a drill's scratch
//     namespace included): where the step reads and writes;
//   - per kind, whether the Replication selects it (Secrets only when it
//     says so), and for PVCs whether PersistentVolumes travel too;
//   - for a prune, what the workflow's deletion guard weighed: its limits and
//     whether a person accepted the change.
//
// The other settings (scale to zero, mappings, immutable handling) only
// shape what is written into the Replication's own DR namespace, where its
// owner could set them anyway. They are not compared: a user editing the
// Replication during a run would otherwise fail the run's remaining steps.
// A mid-run edit of a compared field does fail them: non-retryably, before
// anything is touched, so nothing is deleted; the next run uses the new
// settings.

// check resolves the Replication plan names and refuses plan, as step's
// input, where it differs from the Replication's plan; more, when not nil,
// adds the step's own comparisons against want.
func (a *ResourceActivities) check(ctx context.Context, step string, plan contract.ReplicationPlan,
	more func(c *activities.InputCheck, want contract.ReplicationPlan)) error {
	if a.Control == nil {
		// A wiring mistake, not a forged input; without a Replication to
		// check against, nothing may be read or written.
		return fmt.Errorf("%s: the worker has no control client to check the plan against Replication %s with; set worker.Dependencies.Control", step, plan.Replication)
	}
	req := &contract.PlanRequest{Replication: plan.Replication, Direction: plan.Direction}
	if plan.Direction == contract.DirectionDrill {
		req.DrillNamespace = plan.DestinationNamespace // checked against the DR cluster in drillTarget
	}
	want, err := activities.AuthorizedPlan(ctx, a.Control, a.SystemNamespace, step, req)
	if err != nil {
		return err
	}
	c := activities.NewInputCheck(step, "Replication", plan.Replication)
	c.Equal("source cluster", plan.Source, want.Source)
	c.Equal("source namespace", plan.SourceNamespace, want.SourceNamespace)
	c.Equal("destination cluster", plan.Destination, want.Destination)
	c.Equal("destination namespace", plan.DestinationNamespace, want.DestinationNamespace)
	if more != nil {
		more(c, want)
	}
	return c.Err()
}

// authorized is check, then the clients of plan's clusters. A drill's
// scratch namespace must be one a drill made (activities.DrillTarget).
func (a *ResourceActivities) authorized(ctx context.Context, step string, plan contract.ReplicationPlan,
	more func(c *activities.InputCheck, want contract.ReplicationPlan)) (src, dst dynamic.Interface, err error) {
	if err := a.check(ctx, step, plan, more); err != nil {
		return nil, nil, err
	}
	if src, err = a.dynamicClient(ctx, plan.Source); err != nil {
		return nil, nil, err
	}
	if dst, err = a.dynamicClient(ctx, plan.Destination); err != nil {
		return nil, nil, err
	}
	return src, dst, activities.DrillTarget(ctx, step, plan, func(ctx context.Context, namespace string) (map[string]string, error) {
		ns, err := dst.Resource(namespacesResource).Get(ctx, namespace, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return ns.GetLabels(), nil
	})
}

// selectedKind records a mismatch unless the Replication's plan want
// selects k. A custom type is matched by group and resource: its version
// and kind come from the source cluster's discovery (SelectKinds).
func selectedKind(c *activities.InputCheck, k resources.Kind, want contract.ReplicationPlan) {
	for _, s := range resources.Select(want.Spec.ResourceTypes, want.Spec.NamespaceScopedResources).Kinds {
		if s.Group != k.Group || s.Resource != k.Resource {
			continue
		}
		if s.Custom() {
			c.Equal("stage of kind "+k.String(), k.Stage, s.Stage)
		} else {
			c.Equal("kind "+k.String(), k, s)
		}
		return
	}
	c.Require(false, fmt.Sprintf("kind %s (%s) is not one the Replication's resourceTypes and namespaceScopedResources select",
		k.String(), k.GVR().GroupResource()))
}

// kindInput adds ReplicateKind's comparisons: the kind is selected, and a
// PVC's volumes travel only when the Replication says so (they are
// cluster-wide objects of DR).
func kindInput(k resources.Kind, plan contract.ReplicationPlan) func(*activities.InputCheck, contract.ReplicationPlan) {
	return func(c *activities.InputCheck, want contract.ReplicationPlan) {
		selectedKind(c, k, want)
		if k.Kind == "PersistentVolumeClaim" {
			c.Equal("pvcConfig.syncPersistentVolumes", plan.Spec.PVCConfig.SyncPersistentVolumes, want.Spec.PVCConfig.SyncPersistentVolumes)
		}
	}
}

// pruneInput adds PruneObjects' comparisons: the kind is selected, and the
// deletion guard the workflow ran (workflows/resources_prune.go) weighed
// the Replication's limits and an acceptance the Replication has pending,
// so a forged plan cannot talk the guard into a mass deletion of the DR
// copy. A failback deletes nothing in the source, whatever its plan says.
func pruneInput(k resources.Kind, plan contract.ReplicationPlan) func(*activities.InputCheck, contract.ReplicationPlan) {
	return func(c *activities.InputCheck, want contract.ReplicationPlan) {
		selectedKind(c, k, want)
		c.Require(plan.Direction != contract.DirectionReverse, "the input prunes in a failback, which deletes nothing in the source")
		c.Equal("deletionGuard", plan.Spec.DeletionGuard, want.Spec.DeletionGuard)
		c.Require(plan.AcceptChanges == "" || want.AcceptChanges != "",
			fmt.Sprintf("the input accepts the change (%q, letting a mass deletion through the deletion guard), the Replication has no pending accept-changes", plan.AcceptChanges))
	}
}
