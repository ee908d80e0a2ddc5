package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pointintime"
	"github.com/dr-syncer/dr-syncer/contract"
)

var (
	drillNS    = contract.DrillNamespace("shop-dr", recoveryID)
	drillPlan  = contract.ReplicationPlan{Replication: replRef, Source: dstCluster, Destination: dstCluster, SourceNamespace: "shop-dr", DestinationNamespace: drillNS, Direction: contract.DirectionDrill}
	drillPoint = contract.RestorePoint{Name: "data-rp-20261204-100000", PVC: "data", CopiedAt: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)}
	scratch    = contract.WorkloadsInput{Cluster: dstCluster, Namespace: drillNS, Operation: recoveryID}
)

// drillSuite adds the drill's children to a recoverySuite: they record
// their inputs; restores and copies are what a drill makes PVCs with.
type drillSuite struct {
	*recoverySuite
	restores []contract.RestoreInput
	copies   []contract.PVCSyncInput
	reports  []contract.DrillReport
}

func newDrillSuite(t *testing.T, own ...string) *drillSuite {
	s := &drillSuite{recoverySuite: newRecoverySuite(t, recoveryTarget, own...)}
	env := s.env
	env.RegisterWorkflowWithOptions(func(workflow.Context, contract.ReplicationPlan) (contract.ResourcesResult, error) {
		return contract.ResourcesResult{Total: 3, Synced: 3}, nil
	}, workflowOptions(contract.ReplicateResourcesName))
	env.RegisterWorkflowWithOptions(func(_ workflow.Context, in contract.RestoreInput) (contract.RestoreResult, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.restores = append(s.restores, in)
		return contract.RestoreResult{Point: drillPoint}, nil
	}, workflowOptions(contract.RestoreName))
	env.RegisterWorkflowWithOptions(func(_ workflow.Context, in contract.PVCSyncInput) (contract.PVCSyncResult, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.copies = append(s.copies, in)
		return contract.PVCSyncResult{}, nil
	}, workflowOptions(contract.PVCSyncName))
	s.mockDrillCopies(drillPlan, []string{"data", "logs"}, []contract.RestorePoint{drillPoint})
	env.OnActivity(s.a.CreateScratchNamespace, mockAny, scratch).Return(nil)
	env.OnActivity(s.a.DeleteScratchNamespace, mockAny, scratch).Return(nil)
	env.OnActivity(s.a.RecordDrill, mockAny, mockAny).Return(func(_ context.Context, r contract.DrillReport) error {
		s.reports = append(s.reports, r)
		return nil
	})
	if !owns(own, "ScaleUpCopies") {
		env.OnActivity(s.a.ScaleUpCopies, mockAny, scratch).Return(contract.WorkloadsResult{Workloads: drScaled}, nil)
	}
	return s
}

func TestDrill(t *testing.T) {
	s := newDrillSuite(t)
	var snaps *pointintime.SnapshotActivities
	s.env.OnActivity(snaps.RunHook, mockAny, contract.HookInput{
		Source: contract.PVCRef{Cluster: dstCluster, Namespace: drillNS}, Hook: "check",
		Selector: metav1Selector("app", "db"), Command: contract.HookCommand{Command: []string{"cat", "/data/ok"}, Timeout: "30s"},
	}).Return(contract.HookResult{Pods: []string{"db-1"}}, nil)
	s.env.ExecuteWorkflow(contract.DrillName, contract.DrillInput{Replication: replRef,
		Check: &contract.DrillCheck{Selector: "app=db", Command: []string{"cat", "/data/ok"}, Timeout: 30 * time.Second}})
	require.NoError(t, s.env.GetWorkflowError())
	var res contract.DrillResult
	require.NoError(t, s.env.GetWorkflowResult(&res))

	assert.Equal(t, drillNS, res.Namespace)
	assert.Equal(t, []contract.RestoreInput{{Replication: replRef, PVC: "data", Point: drillPoint.Name, ToNamespace: drillNS, Name: "data"}},
		s.restores, "a PVC with a restore point is made from it")
	require.Len(t, s.copies, 1, "a PVC without one is copied from the live DR copy")
	assert.Equal(t, contract.PVCRef{Cluster: dstCluster, Namespace: "shop-dr", Name: "logs"}, s.copies[0].Source)
	assert.Equal(t, drillNS, s.copies[0].DestinationNamespace)
	assert.Contains(t, res.PVCs["data"], drillPoint.Name)
	assert.Contains(t, res.PVCs["logs"], "live DR copy")
	assert.Equal(t, drillPoint.CopiedAt, res.DataAsOf, "the oldest data among the copies")
	assert.True(t, res.TornDown)
	assert.Positive(t, res.DataAge)
	assert.Empty(t, s.states, "a drill never touches status.failover")
	assert.Zero(t, s.ran("PauseSyncs"), "a drill never pauses replication")
	assert.Zero(t, s.ran("ScaleUpCopies")-1, "only the scratch namespace is scaled")
	require.Len(t, s.reports, 1)
	assert.Equal(t, "Succeeded", s.reports[0].Result)
	names := []string{}
	for _, st := range res.Steps {
		names = append(names, st.Name)
	}
	assert.Equal(t, []string{contract.StepLocate, contract.StepCreateScratch, contract.StepCopyObjects, contract.StepCopyPVCs,
		contract.StepScaleUpDR, contract.StepWaitReady, contract.StepCheck, contract.StepTeardown}, names)
}

// TestDrillCancelAtEachStep: whenever it is cancelled, the drill records
// its failure and deletes its scratch namespace.
func TestDrillCancelAtEachStep(t *testing.T) {
	for _, step := range []string{"ScaleUpCopies", "WaitWorkloads"} {
		t.Run(step, func(t *testing.T) {
			s := newDrillSuite(t, step)
			switch step {
			case "ScaleUpCopies":
				s.cancelDuring(step, s.a.ScaleUpCopies, scratch, contract.WorkloadsResult{Workloads: drScaled}, nil)
			default:
				s.env.OnActivity(s.a.ScaleUpCopies, mockAny, scratch).Return(contract.WorkloadsResult{Workloads: drScaled}, nil)
				s.cancelDuring(step, s.a.WaitWorkloads, mockAny, nil)
			}
			s.env.ExecuteWorkflow(contract.DrillName, contract.DrillInput{Replication: replRef})
			require.True(t, errCanceled(s.env.GetWorkflowError()), "want canceled, got %v", s.env.GetWorkflowError())
			assert.Equal(t, 1, s.ran("DeleteScratchNamespace"), "torn down")
			require.Len(t, s.reports, 1)
			assert.Equal(t, "Failed", s.reports[0].Result)
		})
	}
}

func TestDrillKeep(t *testing.T) {
	s := newDrillSuite(t)
	s.env.ExecuteWorkflow(contract.DrillName, contract.DrillInput{Replication: replRef, Namespace: drillNS, Keep: true})
	require.NoError(t, s.env.GetWorkflowError())
	assert.Zero(t, s.ran("DeleteScratchNamespace"))
	var res contract.DrillResult
	require.NoError(t, s.env.GetWorkflowResult(&res))
	assert.Equal(t, contract.StepSkipped, res.Steps[len(res.Steps)-1].State)
}
