package workflows

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/activities"
	"github.com/dr-syncer/dr-syncer/activities/pointintime"
	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/activities/recovery"
	"github.com/dr-syncer/dr-syncer/contract"
)

const recoveryID = "default-test-workflow-id"

var mockAny = mock.Anything

var (
	recoveryTarget = contract.RecoveryTarget{Replication: replRef, Source: srcCluster, Destination: dstCluster,
		SourceNamespace: "shop", DestinationNamespace: "shop-dr", Mode: "Scheduled", ActiveSide: contract.SideSource,
		DataAsOf: time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), LastSyncComplete: true}
	srcWorkloads   = contract.WorkloadsInput{Cluster: srcCluster, Namespace: "shop", Operation: recoveryID}
	drWorkloads    = contract.WorkloadsInput{Cluster: dstCluster, Namespace: "shop-dr", Operation: recoveryID}
	sourceScaled   = []contract.WorkloadChange{{Kind: "Deployment", Name: "db", From: 2, To: 0}}
	drScaled       = []contract.WorkloadChange{{Kind: "Deployment", Name: "db", From: 0, To: 2}}
	drScaledDown   = []contract.WorkloadChange{{Kind: "Deployment", Name: "db", From: 2, To: 0}}
	sourceRestored = []contract.WorkloadChange{{Kind: "Deployment", Name: "db", From: 0, To: 2}}
)

// recoverySuite runs Failover, Failback and Drill against mocked steps
// that answer with the exact inputs the workflows must pass. It records
// the activities in the order they ran, every status.failover written, and
// the Replication runs started as children.
type recoverySuite struct {
	env    *testsuite.TestWorkflowEnvironment
	a      *recovery.RecoveryActivities
	mu     sync.Mutex
	steps  []string
	states []contract.FailoverState
	syncs  []contract.ReplicationInput
	// syncErr fails the child Replication runs; blockSync makes them wait
	// for a cancel.
	syncErr   error
	blockSync bool
}

func newRecoverySuite(t *testing.T, target contract.RecoveryTarget, own ...string) *recoverySuite {
	var ts testsuite.WorkflowTestSuite
	s := &recoverySuite{env: ts.NewTestWorkflowEnvironment()}
	env, a := s.env, s.a
	env.RegisterWorkflowWithOptions(Failover, workflowOptions(contract.FailoverName))
	env.RegisterWorkflowWithOptions(Failback, workflowOptions(contract.FailbackName))
	env.RegisterWorkflowWithOptions(Drill, workflowOptions(contract.DrillName))
	env.RegisterWorkflowWithOptions(func(ctx workflow.Context, in contract.ReplicationInput) (contract.ReplicationResult, error) {
		s.mu.Lock()
		s.syncs = append(s.syncs, in)
		s.mu.Unlock()
		if s.blockSync {
			return contract.ReplicationResult{}, workflow.Sleep(ctx, time.Hour)
		}
		return contract.ReplicationResult{PVCs: []contract.PVCOutcome{{PVC: "data"}}}, s.syncErr
	}, workflowOptions(contract.ReplicationName))
	env.RegisterActivity(a)
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		s.mu.Lock()
		s.steps = append(s.steps, info.ActivityType.Name)
		s.mu.Unlock()
	})
	mocked := func(name string, fn, in any, results ...any) {
		if !owns(own, name) {
			env.OnActivity(fn, mock.Anything, in).Return(results...).Maybe()
		}
	}
	mocked("LocateRecovery", a.LocateRecovery, replRef, target, nil)
	mocked("ProbeCluster", a.ProbeCluster, srcCluster, nil)
	env.OnActivity(a.RecordFailoverState, mock.Anything, mock.Anything).Return(func(_ context.Context, st contract.FailoverState) error {
		s.mu.Lock()
		s.states = append(s.states, st)
		s.mu.Unlock()
		return nil
	}).Maybe()
	mocked("PauseSyncs", a.PauseSyncs, target, nil)
	mocked("WaitSyncsIdle", a.WaitSyncsIdle, target, nil)
	mocked("CancelSyncs", a.CancelSyncs, target, []string{"replication/dr-syncer-system/shop/scheduled-2026-12-04T10:00:00Z"}, nil)
	mocked("ScaleDownSource", a.ScaleDownSource, srcWorkloads, contract.WorkloadsResult{Workloads: sourceScaled}, nil)
	mocked("RestoreSource", a.RestoreSource, srcWorkloads, contract.WorkloadsResult{Workloads: sourceRestored}, nil)
	mocked("ScaleUpCopies", a.ScaleUpCopies, drWorkloads, contract.WorkloadsResult{Workloads: drScaled}, nil)
	mocked("ScaleDownCopies", a.ScaleDownCopies, drWorkloads, contract.WorkloadsResult{Workloads: drScaledDown}, nil)
	mocked("WaitWorkloads", a.WaitWorkloads, mock.Anything, nil)
	return s
}

// cancelDuring makes the named activity take ten minutes and cancels the
// workflow one minute after the run began, which is while it runs (every
// mocked step before it takes no time).
func (s *recoverySuite) cancelDuring(name string, fn, in any, results ...any) {
	s.env.OnActivity(fn, mock.Anything, in).After(10 * time.Minute).Return(results...)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
}

func (s *recoverySuite) lastState(t *testing.T) contract.FailoverState {
	t.Helper()
	require.NotEmpty(t, s.states, "no status.failover written")
	return s.states[len(s.states)-1]
}

func (s *recoverySuite) ran(step string) int {
	n := 0
	for _, st := range s.steps {
		if st == step {
			n++
		}
	}
	return n
}

// unreachable is ProbeCluster's answer for a lost source.
var unreachable = temporal.NewNonRetryableApplicationError("cluster prod does not answer: dial tcp: connection refused", "Unreachable", nil)

// errCanceled reports whether err is a workflow's cancellation.
func errCanceled(err error) bool {
	var c *temporal.CanceledError
	return errors.As(err, &c)
}

// mockDrillCopies answers the drill's plan, PVC list and restore points.
func (s *recoverySuite) mockDrillCopies(plan contract.ReplicationPlan, pvcs []string, points []contract.RestorePoint) {
	var plans *activities.PlanActivities
	var pv *pvcdata.PVCActivities
	var snaps *pointintime.SnapshotActivities
	s.env.RegisterActivity(plans)
	s.env.RegisterActivity(pv)
	s.env.RegisterActivity(snaps)
	s.env.OnActivity(plans.ResolveReplication, mock.Anything, contract.PlanRequest{Replication: replRef, Direction: contract.DirectionDrill,
		DrillNamespace: plan.DestinationNamespace}).Return(plan, nil)
	s.env.OnActivity(pv.ListPVCs, mock.Anything, mock.Anything).Return(contract.PVCList{Names: pvcs}, nil)
	s.env.OnActivity(snaps.ListRestorePoints, mock.Anything, contract.ListRestorePointsInput{Cluster: dstCluster, Namespace: "shop-dr",
		Replication: replRef.String()}).Return(points, nil)
}

func metav1Selector(key, value string) metav1.LabelSelector {
	return metav1.LabelSelector{MatchLabels: map[string]string{key: value}}
}
