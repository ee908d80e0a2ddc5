package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

// reversePlan is testPlan turned around, as resolve.PlanFor derives it.
func reversePlan() contract.ReplicationPlan {
	p := testPlan(2)
	p.Source, p.Destination = dstCluster, srcCluster
	p.SourceNamespace, p.DestinationNamespace = "shop-dr", "shop"
	p.Direction, p.AcceptChanges = contract.DirectionReverse, "failback:failback/dr-syncer-system/shop/1"
	return p
}

// A failback run asks for the reverse plan, passes its direction to every
// PVC sync with the failback as the acknowledgement, and reports no
// accept-changes value taken: the annotation's stays pending.
func TestReverseRunCarriesItsDirection(t *testing.T) {
	plan := reversePlan()
	env := resolvedRunEnv(plan)
	var plans *activities.PlanActivities
	var pvcActs *pvcdata.PVCActivities
	env.RegisterActivity(pvcActs)
	req := contract.PlanRequest{Replication: replRef, Direction: contract.DirectionReverse, Trigger: "failback/dr-syncer-system/shop/1"}
	env.OnActivity(plans.ResolveReplication, mock.Anything, req).Return(plan, nil).Once()
	env.OnWorkflow(contract.ReplicateResourcesName, mock.Anything, plan).Return(contract.ResourcesResult{Total: 1, Synced: 1}, nil)
	env.OnActivity(pvcActs.ListPVCs, mock.Anything, contract.ListPVCsInput{Cluster: dstCluster, Namespace: "shop-dr",
		Destination: srcCluster, DestinationNamespace: "shop"}).Return(contract.PVCList{Names: []string{"data"}}, nil)
	var synced []contract.PVCSyncInput
	env.OnWorkflow(contract.PVCSyncName, mock.Anything, mock.Anything).Return(
		func(_ workflow.Context, in contract.PVCSyncInput) (contract.PVCSyncResult, error) {
			synced = append(synced, in)
			return contract.PVCSyncResult{}, nil
		})
	env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: req.Trigger, Direction: contract.DirectionReverse})
	require.NoError(t, env.GetWorkflowError())
	var result contract.ReplicationResult
	require.NoError(t, env.GetWorkflowResult(&result))
	assert.Empty(t, result.AcceptChanges)
	require.Len(t, synced, 1)
	assert.Equal(t, contract.DirectionReverse, synced[0].Direction)
	assert.True(t, synced[0].AcceptChanges, "the failback is the acknowledgement the guards ask for")
	assert.Equal(t, contract.PVCRef{Cluster: dstCluster, Namespace: "shop-dr", Name: "data"}, synced[0].Source)
	assert.Equal(t, contract.PVCSyncWorkflowID(dstCluster.Name, "shop-dr", "data"), result.PVCs[0].WorkflowID)
}

func TestForwardPVCSyncInputHasNoDirection(t *testing.T) {
	assert.Empty(t, pvcSyncInput(testPlan(1), "data").Direction)
}
