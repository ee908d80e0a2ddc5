package controller

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

// maxResourceStatus bounds status.resourceStatus: a namespace of thousands
// of objects must not push the Replication towards etcd's object size limit.
// Failed and skipped objects come first, since they are what a user looks for.
const maxResourceStatus = 100

// recordResources mirrors a run's object replication into the status. A run
// that changed nothing in DR leaves the per-object status as it was, so a
// steady state produces no status churn.
func recordResources(st *drv1.ReplicationStatus, res *contract.ResourcesResult, at *metav1.Time) {
	groups := make([]drv1.ResourceGroupStatus, 0, len(res.Groups))
	for _, g := range res.Groups {
		groups = append(groups, drv1.ResourceGroupStatus{Kind: g.Kind, Total: int32(g.Total), Synced: int32(g.Synced), Failed: int32(g.Failed)})
	}
	st.ResourceGroups = groups
	scales := make([]drv1.DeploymentScale, 0, len(res.Scales))
	for _, sc := range res.Scales {
		scales = append(scales, drv1.DeploymentScale{Kind: sc.Kind, Name: sc.Name, OriginalReplicas: sc.OriginalReplicas, DRReplicas: sc.DRReplicas, LastScaled: *at})
	}
	if !res.Changed && res.Failed == 0 && len(st.ResourceStatus) > 0 {
		return
	}
	st.DeploymentScales = scales
	objects := make([]drv1.ResourceStatus, 0, min(len(res.Resources), maxResourceStatus))
	for _, pass := range []func(contract.ObjectStatus) bool{
		func(o contract.ObjectStatus) bool { return o.State != contract.StateSynced },
		func(o contract.ObjectStatus) bool { return o.State == contract.StateSynced },
	} {
		for _, o := range res.Resources {
			if pass(o) && len(objects) < maxResourceStatus {
				objects = append(objects, drv1.ResourceStatus{Kind: o.Kind, Name: o.Name, State: string(o.State), Error: o.Error, LastSyncTime: at})
			}
		}
	}
	st.ResourceStatus = objects
}
