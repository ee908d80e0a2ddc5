package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/activities/pointintime"
	"github.com/dr-syncer/dr-syncer/contract"
)

var (
	restoreDR = contract.PVCRef{Cluster: dstCluster, Namespace: "shop-dr", Name: "data"}
	// The Replication shop copies into shop-dr of cluster dr.
	restoreLocation = contract.DRLocation{Destination: dstCluster, Namespace: "shop-dr"}
	restoreOp       = contract.Operation{WorkflowID: "default-test-workflow-id", RunID: "default-test-run-id"}
	restoredFrom    = contract.RestorePoint{Name: "data-rp-20261205-210000", PVC: "data", CopiedAt: time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC), Size: "1Gi"}
)

// restoreSuite mocks every step of a restore from the newest restore point
// with the exact inputs the workflow must pass, except the steps a test
// mocks itself; steps lists the steps in the order they ran.
type restoreSuite struct {
	env   *testsuite.TestWorkflowEnvironment
	a     *pointintime.SnapshotActivities
	in    contract.RestoreInput
	steps []string
}

func newRestoreSuite(t *testing.T, in contract.RestoreInput, target contract.PVCRef, own ...string) *restoreSuite {
	var ts testsuite.WorkflowTestSuite
	s := &restoreSuite{env: ts.NewTestWorkflowEnvironment(), in: in}
	env, a := s.env, s.a
	env.RegisterWorkflowWithOptions(RestorePVC, workflowOptions(contract.RestoreName))
	var plans *activities.PlanActivities
	env.RegisterActivity(plans)
	env.RegisterActivity(a)
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		s.steps = append(s.steps, info.ActivityType.Name)
	})
	mocked := func(name string, fn, in any, results ...any) {
		if !owns(own, name) {
			env.OnActivity(fn, mock.Anything, in).Return(results...).Maybe()
		}
	}
	mocked("LocateDRCopies", plans.LocateDRCopies, replRef, restoreLocation, nil)
	mocked("FindRestorePoint", a.FindRestorePoint, contract.FindRestorePointInput{DR: restoreDR, Replication: "dr-syncer-system/shop", Point: "latest"}, restoredFrom, nil)
	mocked("CheckRestoreTarget", a.CheckRestoreTarget, contract.RestoreTargetInput{Op: restoreOp, PVC: target, CreateNamespace: in.CreateNamespace}, nil)
	shared := contract.Snapshot{Name: restoreOp.Name("restore-share"), Namespace: target.Namespace}
	mocked("ShareRestorePoint", a.ShareRestorePoint, contract.ShareRestorePointInput{
		Op: restoreOp, Cluster: dstCluster, Namespace: "shop-dr", Point: restoredFrom.Name, ToNamespace: target.Namespace}, shared, nil)
	snapshot := restoredFrom.Name
	if target.Namespace != "shop-dr" {
		snapshot = shared.Name
	}
	mocked("RestoreFromPoint", a.RestoreFromPoint, contract.RestoreFromPointInput{
		Op: restoreOp, DR: restoreDR, Point: restoredFrom, Target: target, Snapshot: snapshot,
	}, contract.RestoredPVC{PVC: target, StorageClass: "fast", Size: "1Gi", Bound: true}, nil)
	mocked("CleanupRestore", a.CleanupRestore, contract.CleanupRestoreInput{Op: restoreOp, Cluster: dstCluster, Namespace: target.Namespace},
		contract.CleanupResult{}, nil)
	return s
}

func restoreInput() contract.RestoreInput {
	return contract.RestoreInput{Replication: replRef, PVC: "data", Point: "latest"}
}

func TestRestorePVCIntoTheDRNamespace(t *testing.T) {
	target := contract.PVCRef{Cluster: dstCluster, Namespace: "shop-dr", Name: "data-restored-20261205-210000"}
	s := newRestoreSuite(t, restoreInput(), target)
	s.env.ExecuteWorkflow(contract.RestoreName, s.in)
	require.NoError(t, s.env.GetWorkflowError())
	assert.Equal(t, []string{"LocateDRCopies", "FindRestorePoint", "CheckRestoreTarget", "RestoreFromPoint", "CleanupRestore"}, s.steps,
		"the point itself is restored: its namespace is the new PVC's")
	var result contract.RestoreResult
	require.NoError(t, s.env.GetWorkflowResult(&result))
	assert.Equal(t, contract.RestoreResult{
		RestoredPVC: contract.RestoredPVC{PVC: target, StorageClass: "fast", Size: "1Gi", Bound: true},
		Point:       restoredFrom, FromNamespace: "shop-dr",
	}, result)
}

func TestRestorePVCIntoAnotherNamespaceSharesThePoint(t *testing.T) {
	in := restoreInput()
	in.ToNamespace, in.Name, in.CreateNamespace = "shop-test", "data", true
	s := newRestoreSuite(t, in, contract.PVCRef{Cluster: dstCluster, Namespace: "shop-test", Name: "data"})
	s.env.ExecuteWorkflow(contract.RestoreName, s.in)
	require.NoError(t, s.env.GetWorkflowError())
	assert.Equal(t, []string{"LocateDRCopies", "FindRestorePoint", "CheckRestoreTarget", "ShareRestorePoint", "RestoreFromPoint", "CleanupRestore"}, s.steps)
}

func TestRestorePVCStopsBeforeAnyWriteWhenThePointOrTheNameIsWrong(t *testing.T) {
	target := contract.PVCRef{Cluster: dstCluster, Namespace: "shop-dr", Name: "data-restored-20261205-210000"}
	failed := func(errType string) error { return temporal.NewNonRetryableApplicationError("no", errType, nil) }
	for step, fails := range map[string][]any{
		"FindRestorePoint":   {contract.RestorePoint{}, failed(contract.ErrTypeRestorePointNotFound)},
		"CheckRestoreTarget": {failed(contract.ErrTypeRestoreTargetExists)},
	} {
		t.Run(step, func(t *testing.T) {
			s := newRestoreSuite(t, restoreInput(), target, step)
			s.env.OnActivity(step, mock.Anything, mock.Anything).Return(fails...)
			s.env.ExecuteWorkflow(contract.RestoreName, s.in)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(s.env.GetWorkflowError(), &appErr), "got %v", s.env.GetWorkflowError())
			assert.Equal(t, fails[len(fails)-1].(*temporal.ApplicationError).Type(), appErr.Type())
			s.env.AssertActivityNumberOfCalls(t, step, 1)
			s.env.AssertActivityNumberOfCalls(t, "RestoreFromPoint", 0)
			s.env.AssertActivityNumberOfCalls(t, "CleanupRestore", 0)
		})
	}
}

func TestRestorePVCCancelledWhileBindingCleansUp(t *testing.T) {
	in := restoreInput()
	in.ToNamespace = "shop-test"
	target := contract.PVCRef{Cluster: dstCluster, Namespace: "shop-test", Name: "data-restored-20261205-210000"}
	s := newRestoreSuite(t, in, target, "RestoreFromPoint")
	s.env.OnActivity(s.a.RestoreFromPoint, mock.Anything, mock.Anything).After(time.Hour).Return(contract.RestoredPVC{}, nil)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.env.ExecuteWorkflow(contract.RestoreName, s.in)
	var canceled *temporal.CanceledError
	require.True(t, errors.As(s.env.GetWorkflowError(), &canceled), "got %v", s.env.GetWorkflowError())
	assert.Equal(t, []string{"LocateDRCopies", "FindRestorePoint", "CheckRestoreTarget", "ShareRestorePoint", "RestoreFromPoint", "CleanupRestore"}, s.steps,
		"the shared snapshot and the half-made PVC are cleaned up")
	s.env.AssertActivityNumberOfCalls(t, "CleanupRestore", 1)
}

func TestRestorePVCRefusesABadRequestAtOnce(t *testing.T) {
	for _, in := range []contract.RestoreInput{
		{Replication: replRef, PVC: "data", Point: "latest", Name: "Data_Copy"},
		{Replication: replRef, PVC: "data", Point: "latest", ToNamespace: "a.b"},
		{Replication: replRef, Point: "latest"},
		{Replication: replRef, PVC: "data"},
	} {
		s := newRestoreSuite(t, in, contract.PVCRef{})
		s.env.ExecuteWorkflow(contract.RestoreName, in)
		var appErr *temporal.ApplicationError
		require.True(t, errors.As(s.env.GetWorkflowError(), &appErr), "%+v: got %v", in, s.env.GetWorkflowError())
		assert.Equal(t, contract.ErrTypeInvalidSpec, appErr.Type())
		assert.Empty(t, s.steps, "%+v", in)
	}
}

func TestRestorePointsLocatesThenLists(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(RestorePoints, workflowOptions(contract.RestorePointsName))
	var plans *activities.PlanActivities
	var a *pointintime.SnapshotActivities
	env.RegisterActivity(plans)
	env.RegisterActivity(a)
	env.OnActivity(plans.LocateDRCopies, mock.Anything, replRef).Return(restoreLocation, nil)
	env.OnActivity(a.ListRestorePoints, mock.Anything, contract.ListRestorePointsInput{
		Cluster: dstCluster, Namespace: "shop-dr", Replication: "dr-syncer-system/shop", PVC: "data",
	}).Return([]contract.RestorePoint{restoredFrom}, nil)
	env.ExecuteWorkflow(contract.RestorePointsName, contract.RestorePointsInput{Replication: replRef, PVC: "data"})
	require.NoError(t, env.GetWorkflowError())
	var result contract.RestorePointsResult
	require.NoError(t, env.GetWorkflowResult(&result))
	assert.Equal(t, contract.RestorePointsResult{Replication: "dr-syncer-system/shop", DestinationCluster: "dr", DestinationNamespace: "shop-dr",
		Points: []contract.RestorePoint{restoredFrom}}, result)
}
