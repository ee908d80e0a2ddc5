package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/starter"
)

func resourcesRun(runID string, res contract.ResourcesResult) *starter.RunState {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	return &starter.RunState{WorkflowID: "replication/ops/shop/" + runID, RunID: runID, Status: "Completed",
		Start: now.Add(-time.Minute), Close: now, Result: &contract.ReplicationResult{Resources: &res}}
}

func TestRunResultsReachResourceStatus(t *testing.T) {
	var st drv1.ReplicationStatus
	recordFinished(&st, resourcesRun("r1", contract.ResourcesResult{
		Total: 3, Synced: 2, Failed: 1, Changed: true,
		Groups: []contract.ResourceGroup{{Kind: "ConfigMap", Total: 2, Synced: 2}, {Kind: "Deployment", Total: 1, Failed: 1}},
		Resources: []contract.ObjectStatus{
			{Kind: "ConfigMap", Name: "a", State: contract.StateSynced},
			{Kind: "ConfigMap", Name: "b", State: contract.StateSynced},
			{Kind: "Deployment", Name: "web", State: contract.StateFailed, Error: "spec.selector: field is immutable"},
		},
		Scales: []contract.WorkloadScale{{Kind: "Deployment", Name: "api", OriginalReplicas: 3, DRReplicas: 0}},
	}))
	assert.Equal(t, int32(3), st.SyncStats.TotalResources)
	assert.Equal(t, []drv1.ResourceGroupStatus{{Kind: "ConfigMap", Total: 2, Synced: 2}, {Kind: "Deployment", Total: 1, Failed: 1}}, st.ResourceGroups)
	require.Len(t, st.ResourceStatus, 3)
	assert.Equal(t, "web", st.ResourceStatus[0].Name, "failures come first")
	assert.Equal(t, "spec.selector: field is immutable", st.ResourceStatus[0].Error)
	require.Len(t, st.DeploymentScales, 1)
	assert.Equal(t, int32(3), st.DeploymentScales[0].OriginalReplicas)

	// A later run that changed nothing leaves the per-object status alone.
	before := st.DeepCopy().ResourceStatus
	recordFinished(&st, resourcesRun("r2", contract.ResourcesResult{Total: 3, Synced: 3,
		Groups:    []contract.ResourceGroup{{Kind: "ConfigMap", Total: 2, Synced: 2}, {Kind: "Deployment", Total: 1, Synced: 1}},
		Resources: []contract.ObjectStatus{{Kind: "ConfigMap", Name: "a", State: contract.StateSynced}}}))
	assert.Equal(t, before, st.ResourceStatus)
}

func TestResourceStatusIsBounded(t *testing.T) {
	res := contract.ResourcesResult{Changed: true}
	for i := range 500 {
		res.Resources = append(res.Resources, contract.ObjectStatus{Kind: "ConfigMap", Name: string(rune('a' + i%26)), State: contract.StateSynced})
	}
	res.Resources = append(res.Resources, contract.ObjectStatus{Kind: "Secret", Name: "bad", State: contract.StateFailed})
	var st drv1.ReplicationStatus
	recordFinished(&st, resourcesRun("r1", res))
	assert.Len(t, st.ResourceStatus, maxResourceStatus)
	assert.Equal(t, "bad", st.ResourceStatus[0].Name)
}

func TestProgressCountsRunningTransfers(t *testing.T) {
	run := &starter.RunState{Status: "Running",
		Progress: &contract.ReplicationProgress{Phase: contract.PhaseSyncPVCs, PVCsTotal: 2, PVCsDone: 1, Percent: 50},
		PVCs: []starter.PVCProgress{{PVC: "data", Phase: "Transfer",
			Transfer: &contract.TransferProgress{Phase: "transferring", Snapshot: progress.Snapshot{BytesDone: 60, BytesTotal: 100, Percent: 60}}}},
	}
	sp := progressOf(run)
	assert.Equal(t, int32(80), sp.PercentComplete, "one PVC done and the other 60% through")
	assert.Equal(t, int64(60), sp.BytesTransferred)
	assert.Contains(t, sp.CurrentOperation, "data Transfer 60%")
}
