package pvcdata

import (
	"context"
	"fmt"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/contract"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The checks of the PVC steps that create pods or copy Secrets: each input
// must be what its Replication's plan makes the PVCSync workflow send (see
// activities.AuthorizedPlan for why).

// checkCredentials: the key Secrets read from the control cluster, and the
// clusters and namespaces they are copied into, are the Replication's.
func (a *PVCActivities) checkCredentials(ctx context.Context, in contract.CredentialsInput) error {
	const step = "EnsureCredentials"
	plan, err := activities.AuthorizedPlan(ctx, a.Control, a.SystemNamespace, step, in.Authority)
	if err != nil {
		return err
	}
	c := activities.NewInputCheck(step, "Replication", plan.Replication)
	c.Equal("source cluster", in.Source, plan.Source)
	c.Equal("source namespace", in.SourceNamespace, plan.SourceNamespace)
	c.Equal("destination cluster", in.Destination, plan.Destination)
	c.Equal("destination namespace", in.DestinationNamespace, plan.DestinationNamespace)
	c.Equal("cluster key Secret", in.ClusterKey, plan.DataPlane.ClusterKey)
	c.Equal("agent host key Secret", in.AgentHostKey, plan.DataPlane.AgentHostKey)
	if err := c.Err(); err != nil {
		return err
	}
	return a.drillTarget(ctx, step, plan)
}

// checkMountPod: the mount pod runs the Replication's image in its source
// cluster and namespace. (Its claim may be a temporary copy of the source
// PVC, made in the same namespace, so the claim's name is not checked.)
func (a *PVCActivities) checkMountPod(ctx context.Context, in contract.MountPodInput) error {
	const step = "EnsureMountPod"
	plan, err := activities.AuthorizedPlan(ctx, a.Control, a.SystemNamespace, step, in.Authority)
	if err != nil {
		return err
	}
	return mountPodMatches(step, plan, in)
}

// mountPodMatches is checkMountPod's comparison of in with the resolved
// plan, which a batch's mount pod makes once per claim.
func mountPodMatches(step string, plan contract.ReplicationPlan, in contract.MountPodInput) error {
	c := activities.NewInputCheck(step, "Replication", plan.Replication)
	c.Equal("image", in.Image, plan.DataPlane.Image)
	c.Equal("cluster", in.PVC.Cluster, plan.Source)
	c.Equal("namespace", in.PVC.Namespace, plan.SourceNamespace)
	return c.Err()
}

// checkTransfer: the sync pod runs the Replication's image in its DR
// cluster and namespace, and lifts the DR-copy guard only when the
// Replication's run accepted the change.
func (a *PVCActivities) checkTransfer(ctx context.Context, in contract.TransferInput) error {
	const step = "Transfer"
	plan, err := activities.AuthorizedPlan(ctx, a.Control, a.SystemNamespace, step, in.Authority)
	if err != nil {
		return err
	}
	if err := transferMatches(step, plan, in); err != nil {
		return err
	}
	return a.drillTarget(ctx, step, plan)
}

// transferMatches is checkTransfer's comparison of in with the resolved
// plan, which a batch's sync pod makes once per claim.
func transferMatches(step string, plan contract.ReplicationPlan, in contract.TransferInput) error {
	c := activities.NewInputCheck(step, "Replication", plan.Replication)
	c.Equal("image", in.Image, plan.DataPlane.Image)
	c.Equal("cluster", in.PVC.Cluster, plan.Destination)
	c.Equal("namespace", in.PVC.Namespace, plan.DestinationNamespace)
	c.Require(!in.Acknowledged || plan.AcceptChanges != "",
		"the input accepts the source's change (lifting the DR-copy guard), the Replication has no pending accept-changes")
	return c.Err()
}

// checkBatchPods: a batch's pods stand in for the mount pod and the sync
// pod of each of its claims, so every claim passes the comparisons of
// checkMountPod and checkTransfer, against the plan resolved once; the
// refusal names the first claim that does not. The sync pod's certificate
// is issued from the key Secrets the input names, which must be the
// Replication's, as checkCredentials requires of the same operation.
func (a *PVCActivities) checkBatchPods(ctx context.Context, in contract.BatchPodsInput) error {
	const step = "EnsureBatchPods"
	plan, err := activities.AuthorizedPlan(ctx, a.Control, a.SystemNamespace, step, in.Authority)
	if err != nil {
		return err
	}
	c := activities.NewInputCheck(step, "Replication", plan.Replication)
	c.Require(len(in.Claims) > 0, "the batch has no claims")
	c.Equal("cluster key Secret", in.ClusterKey, plan.DataPlane.ClusterKey)
	c.Equal("agent host key Secret", in.AgentHostKey, plan.DataPlane.AgentHostKey)
	if err := c.Err(); err != nil {
		return err
	}
	target := batchTarget(in)
	for i, claim := range in.Claims {
		claimStep := fmt.Sprintf("%s (claim %d: %s → %s)", step, i, claim.Source, claim.Target)
		if err := mountPodMatches(claimStep, plan, batchMountInput(in, i)); err != nil {
			return err
		}
		if err := transferMatches(claimStep, plan, batchTransferInput(in, i, target)); err != nil {
			return err
		}
	}
	return a.drillTarget(ctx, step, plan)
}

// drillTarget: a drill's Secrets and sync pod go only into a scratch
// namespace a drill made (activities.DrillTarget).
func (a *PVCActivities) drillTarget(ctx context.Context, step string, plan contract.ReplicationPlan) error {
	return activities.DrillTarget(ctx, step, plan, func(ctx context.Context, namespace string) (map[string]string, error) {
		cs, err := a.Clusters.Clientset(ctx, plan.Destination.Namespace, plan.Destination.Name)
		if err != nil {
			return nil, activities.Classify(err)
		}
		ns, err := cs.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return ns.GetLabels(), nil
	})
}
