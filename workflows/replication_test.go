package workflows

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
	"github.com/dr-syncer/dr-syncer/test/timeline"
)

var replRef = contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"}

// forwardRun matches the plan request of a forward run of replRef, whatever
// its trigger.
func forwardRun() any {
	return mock.MatchedBy(func(req contract.PlanRequest) bool {
		return req.Replication == replRef && req.Direction == "" && req.DrillNamespace == ""
	})
}

func testPlan(concurrent int32) contract.ReplicationPlan {
	spec := drv1.ReplicationSpec{
		SourceNamespace: "shop",
		PVCConfig: &drv1.PVCConfig{
			SyncData:             true,
			StorageClassMappings: []drv1.Mapping{{From: "standard", To: "fast"}},
			DataSyncConfig:       &drv1.DataSyncConfig{ConcurrentSyncs: concurrent},
		},
	}
	drv1.SetReplicationDefaults(&spec)
	dataSync, err := resolve.DataSync(spec.PVCConfig.DataSyncConfig)
	if err != nil {
		panic(err)
	}
	return contract.ReplicationPlan{
		Replication: replRef, Generation: 3, Source: srcCluster, Destination: dstCluster,
		SourceNamespace: "shop", DestinationNamespace: "shop", Spec: resolve.Settings(spec), DataSync: dataSync,
		DataPlane: contract.DataPlane{Image: contract.Image{Reference: "img"}, AgentPort: 2222},
	}
}

type replicationSuite struct {
	env       *testsuite.TestWorkflowEnvironment
	resources contract.ResourcesResult
	starts    []time.Time
	ends      []time.Time
	inputs    []contract.PVCSyncInput
}

func newReplicationSuite(t *testing.T, plan contract.ReplicationPlan, pvcs []string, failing string) *replicationSuite {
	return newReplicationSuiteIn(t, &testsuite.WorkflowTestSuite{}, plan, pvcs, failing)
}

// newReplicationSuiteIn is newReplicationSuite in ts, which may carry a metrics handler.
func newReplicationSuiteIn(t *testing.T, ts *testsuite.WorkflowTestSuite, plan contract.ReplicationPlan, pvcs []string, failing string) *replicationSuite {
	s := &replicationSuite{env: ts.NewTestWorkflowEnvironment(), resources: contract.ResourcesResult{Total: 4, Synced: 4, Changed: true}}
	s.env.RegisterWorkflowWithOptions(Replication, workflow.RegisterOptions{Name: contract.ReplicationName})
	s.env.RegisterWorkflowWithOptions(PVCSync, workflow.RegisterOptions{Name: contract.PVCSyncName})
	s.env.RegisterWorkflowWithOptions(ReplicateResources, workflow.RegisterOptions{Name: contract.ReplicateResourcesName})
	s.env.OnWorkflow(contract.ReplicateResourcesName, mock.Anything, plan).Return(s.resources, nil).Maybe()
	var plans *activities.PlanActivities
	var pvcActs *pvcdata.PVCActivities
	s.env.RegisterActivity(plans)
	s.env.RegisterActivity(pvcActs)
	s.env.OnActivity(plans.ResolveReplication, mock.Anything, forwardRun()).Return(plan, nil)
	s.env.OnActivity(pvcActs.ListPVCs, mock.Anything, contract.ListPVCsInput{Cluster: srcCluster, Namespace: "shop",
		Destination: dstCluster, DestinationNamespace: "shop"}).
		Return(contract.PVCList{Names: pvcs, Skipped: map[string]string{"scratch": "labelled dr-syncer.io/ignore"}}, nil)
	s.env.OnWorkflow(contract.PVCSyncName, mock.Anything, mock.Anything).After(time.Minute).Return(
		func(ctx workflow.Context, in contract.PVCSyncInput) (contract.PVCSyncResult, error) {
			s.ends = append(s.ends, workflow.Now(ctx))
			if in.Source.Name == failing {
				return contract.PVCSyncResult{}, temporal.NewNonRetryableApplicationError("storage class fast missing", contract.ErrTypeStorageClassNotFound, nil)
			}
			return contract.PVCSyncResult{Target: contract.TargetPVC{Name: in.Source.Name}}, nil
		})
	s.env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, _ converter.EncodedValues) {
		if info.WorkflowType.Name != contract.PVCSyncName {
			return
		}
		s.starts = append(s.starts, s.env.Now())
	})
	return s
}

func TestReplicationBoundsConcurrentPVCSyncs(t *testing.T) {
	pvcs := []string{"a", "b", "c", "d", "e"}
	s := newReplicationSuite(t, testPlan(2), pvcs, "")
	s.env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "manual-1"})
	require.NoError(t, s.env.GetWorkflowError())
	var result contract.ReplicationResult
	require.NoError(t, s.env.GetWorkflowResult(&result))
	require.Len(t, result.PVCs, 5)
	for i, p := range result.PVCs {
		assert.Equal(t, pvcs[i], p.PVC)
		assert.Equal(t, contract.PVCSyncWorkflowID("prod", "shop", pvcs[i]), p.WorkflowID)
		assert.Empty(t, p.Error)
	}
	assert.Equal(t, map[string]string{"scratch": "labelled dr-syncer.io/ignore"}, result.SkippedPVCs)
	require.NotNil(t, result.Resources, "objects are replicated before PVC data")
	assert.Equal(t, 4, result.Resources.Synced)
	require.Len(t, s.starts, 5)
	assert.Equal(t, 2, maxOverlap(s.starts, time.Minute), "concurrentSyncs 2 allows two PVC syncs at once, and uses both")
}

func TestReplicationPassesThePlanToEachPVCSync(t *testing.T) {
	plan := testPlan(1)
	in := pvcSyncInput(plan, "data")
	assert.Equal(t, contract.PVCRef{Cluster: srcCluster, Namespace: "shop", Name: "data"}, in.Source)
	assert.Equal(t, map[string]string{"standard": "fast"}, in.StorageClassMappings)
	assert.True(t, in.CreateNamespace)
	assert.Equal(t, contract.FailureRetryAndWait, in.FailureMode)
	assert.Equal(t, int32(2222), in.AgentPort)
	assert.Equal(t, plan.DataSync, in.DataSync, "the plan's resolved config, as it is")
	assert.Equal(t, rsyncargs.Duration(2*time.Hour), in.DataSync.Timeout)
}

func TestReplicationReportsFailedPVCsAndSyncsTheRest(t *testing.T) {
	s := newReplicationSuite(t, testPlan(3), []string{"a", "b", "c"}, "b")
	s.env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "manual-2"})
	err := s.env.GetWorkflowError()
	require.Error(t, err)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr))
	assert.Equal(t, contract.ErrTypeSyncFailed, appErr.Type())
	assert.Contains(t, appErr.Error(), "1 of 3 PVC syncs failed: b: storage class fast missing")
	var result contract.ReplicationResult
	require.NoError(t, appErr.Details(&result))
	assert.Equal(t, 1, result.Failed())
	assert.NotNil(t, result.PVCs[0].Result)
	assert.NotNil(t, result.PVCs[2].Result)

	v, err := s.env.QueryWorkflow(contract.ProgressQuery)
	require.NoError(t, err)
	var p contract.ReplicationProgress
	require.NoError(t, v.Get(&p))
	assert.NotEmpty(t, p.RunID, "the answer names its run")
	assert.False(t, p.Start.IsZero())
	// Each ended PVC sync stays in the answer, so a poller learns of one
	// that started and ended between two of its queries.
	require.Len(t, p.Ended, 3)
	ended := map[string]contract.PVCEnded{}
	for _, e := range p.Ended {
		ended[e.PVC] = e
	}
	assert.Equal(t, contract.EndOf(result.PVCs[1]), ended["b"])
	assert.Contains(t, ended["b"].Error, "storage class fast missing")
	assert.Equal(t, contract.EndOf(result.PVCs[0]), ended["a"])
	assert.Empty(t, ended["c"].Error)
	p.RunID, p.Start, p.Ended = "", time.Time{}, nil
	assert.Equal(t, contract.ReplicationProgress{Phase: contract.PhaseDone, PVCsTotal: 3, PVCsDone: 3, PVCsFailed: 1, Percent: 100}, p)
}

func TestReplicationWithoutDataSyncStartsNoPVCSync(t *testing.T) {
	plan := testPlan(2)
	plan.Spec.PVCConfig.SyncData = false
	s := newReplicationSuite(t, plan, []string{"a"}, "")
	s.env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "scheduled"})
	require.NoError(t, s.env.GetWorkflowError())
	assert.Empty(t, s.starts)
}

func TestReplicationInvalidSpecFailsWithoutSyncing(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(Replication, workflow.RegisterOptions{Name: contract.ReplicationName})
	var plans *activities.PlanActivities
	env.RegisterActivity(plans)
	env.OnActivity(plans.ResolveReplication, mock.Anything, forwardRun()).Return(contract.ReplicationPlan{},
		temporal.NewNonRetryableApplicationError("RemoteCluster dr-syncer-system/prod not found", contract.ErrTypeInvalidSpec, nil))
	env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "manual-3"})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr))
	assert.Equal(t, contract.ErrTypeInvalidSpec, appErr.Type())
	env.AssertActivityNumberOfCalls(t, "ResolveReplication", 1)
}

// maxOverlap is the most intervals [start, start+d) open at one time.
func maxOverlap(starts []time.Time, d time.Duration) int {
	var intervals []timeline.Interval
	for _, s := range starts {
		intervals = append(intervals, timeline.Interval{Start: s, End: s.Add(d)})
	}
	return timeline.MostAtOnce(intervals)
}

// resolvedRunEnv is a test environment with every workflow registered and
// ResolveReplication returning plan.
func resolvedRunEnv(plan contract.ReplicationPlan) *testsuite.TestWorkflowEnvironment {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	RegisterAll(env)
	var plans *activities.PlanActivities
	env.RegisterActivity(plans)
	env.OnActivity(plans.ResolveReplication, mock.Anything, forwardRun()).Return(plan, nil)
	return env
}

func TestReplicationFailsWhenObjectsFailButStillSyncsData(t *testing.T) {
	plan := testPlan(2)
	env := resolvedRunEnv(plan)
	var pvcActs *pvcdata.PVCActivities
	env.RegisterActivity(pvcActs)
	env.OnActivity(pvcActs.ListPVCs, mock.Anything, mock.Anything).Return(contract.PVCList{Names: []string{"a"}}, nil)
	env.OnWorkflow(contract.ReplicateResourcesName, mock.Anything, plan).Return(contract.ResourcesResult{Total: 5, Synced: 3, Failed: 2, Changed: true,
		Resources: []contract.ObjectStatus{{Kind: "Secret", Name: "tls", State: contract.StateFailed, Error: "admission webhook denied it"}}}, nil)
	env.OnWorkflow(contract.PVCSyncName, mock.Anything, mock.Anything).Return(contract.PVCSyncResult{}, nil)
	env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "manual-4"})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr))
	assert.Equal(t, contract.ErrTypeSyncFailed, appErr.Type())
	assert.Equal(t, "2 of 5 objects failed, first Secret tls: admission webhook denied it", appErr.Message(), "names the object and why")
	var result contract.ReplicationResult
	require.NoError(t, appErr.Details(&result))
	require.Len(t, result.PVCs, 1)
	assert.Empty(t, result.PVCs[0].Error, "PVC data still syncs when some objects fail")
}

// A ReplicateResources child that fails (failureHandling stops the run)
// must not take the per-object status with it: the run's error carries the
// whole ReplicationResult, which is what the controller writes to status.
func TestReplicationKeepsObjectStatusWhenResourcesFail(t *testing.T) {
	plan := testPlan(2)
	env := resolvedRunEnv(plan)
	partial := contract.ResourcesResult{Total: 3, Synced: 2, Failed: 1, Changed: true, Stopped: "Secret tls",
		Resources: []contract.ObjectStatus{
			{Kind: "ConfigMap", Name: "app", State: contract.StateSynced},
			{Kind: "Secret", Name: "tls", State: contract.StateFailed, Error: "admission webhook denied it"},
		}}
	env.OnWorkflow(contract.ReplicateResourcesName, mock.Anything, plan).Return(contract.ResourcesResult{},
		temporal.NewNonRetryableApplicationError("stopped at Secret tls", contract.ErrTypeResourcesFailed, nil, partial))
	env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "manual-5"})

	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr))
	assert.Equal(t, contract.ErrTypeResourcesFailed, appErr.Type())
	assert.Contains(t, appErr.Message(), "1 of 3 objects failed, first Secret tls: admission webhook denied it")
	var result contract.ReplicationResult
	require.NoError(t, appErr.Details(&result), "the run's error carries a ReplicationResult")
	require.NotNil(t, result.Resources)
	assert.Equal(t, partial.Resources, result.Resources.Resources, "every object's status survives")
	assert.Equal(t, 1, result.Resources.Failed)
}

func TestReplicationCancelEndsCanceledAfterChildrenCleanUp(t *testing.T) {
	s := newReplicationSuite(t, testPlan(2), []string{"a", "b"}, "")
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 30*time.Second)
	s.env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "manual-5"})
	var canceled *temporal.CanceledError
	assert.True(t, errors.As(s.env.GetWorkflowError(), &canceled), "got %v", s.env.GetWorkflowError())
}
