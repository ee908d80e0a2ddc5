package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

var snapshotTime = time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)

// pointInTimeSuite is a PVC sync from a snapshot with freeze and thaw hooks
// that keeps three restore points; steps lists the point-in-time steps in
// the order they ran.
type pointInTimeSuite struct {
	*pvcSuite
	steps []string
	copy  contract.PVCRef
}

func newPointInTimeSuite(t *testing.T, method contract.CopyMethod, own ...string) *pointInTimeSuite {
	s := &pointInTimeSuite{pvcSuite: newPVCSuite(t, append(own, "PlanCopySource", "ChooseNodes", "EnsureMountPod", "Transfer")...)}
	s.copy = contract.PVCRef{Cluster: srcCluster, Namespace: "shop", Name: s.op.Name("copy")}
	if method == contract.CopyDirect {
		s.copy = sourcePVC
	}
	s.in.PointInTime = contract.PointInTime{CopyMethod: method, RestorePoints: contract.RestorePoints{Keep: 3}}
	if method == contract.CopySnapshot {
		s.in.PointInTime.Hooks = &contract.Hooks{Selector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}},
			Freeze: &contract.HookCommand{Command: []string{"freeze"}, Timeout: "30s"},
			Thaw:   &contract.HookCommand{Command: []string{"thaw"}, Timeout: "30s"}}
	}
	env, pit := s.env, s.pit
	step := func(name string) { s.steps = append(s.steps, name) }
	env.OnActivity(pit.PlanCopySource, mock.Anything, contract.CopySourceInput{PVC: sourcePVC, Method: method, HooksSet: method == contract.CopySnapshot}).
		Return(contract.CopySource{Method: method, SnapshotClass: "csi-hostpath"}, nil)
	if !owns(own, "RunHook") {
		env.OnActivity(pit.RunHook, mock.Anything, mock.Anything).Return(func(_ context.Context, in contract.HookInput) (contract.HookResult, error) {
			step(in.Hook)
			return contract.HookResult{Pods: []string{"db-0"}}, nil
		})
	}
	snapshotIn := contract.SourceSnapshotInput{Op: s.op, PVC: sourcePVC, SnapshotClass: "csi-hostpath"}
	snapshot := contract.Snapshot{Name: s.op.Name("snapshot"), Namespace: "shop", TakenAt: snapshotTime, RestoreSize: "1Gi"}
	if !owns(own, "SnapshotSource") {
		env.OnActivity(pit.SnapshotSource, mock.Anything, snapshotIn).Return(func(context.Context, contract.SourceSnapshotInput) (contract.Snapshot, error) {
			step("SnapshotSource")
			return snapshot, nil
		})
	}
	env.OnActivity(pit.WaitSnapshotReady, mock.Anything, snapshotIn).Return(func(context.Context, contract.SourceSnapshotInput) (contract.Snapshot, error) {
		step("WaitSnapshotReady")
		return snapshot, nil
	})
	fromSnapshot := ""
	if method == contract.CopySnapshot {
		fromSnapshot = snapshot.Name
	}
	env.OnActivity(pit.CreateTemporaryPVC, mock.Anything, contract.TemporaryPVCInput{Op: s.op, PVC: sourcePVC, FromSnapshot: fromSnapshot}).
		Return(func(context.Context, contract.TemporaryPVCInput) (contract.PVCRef, error) {
			step("CreateTemporaryPVC")
			return s.copy, nil
		})
	// The mount pod is placed for, and mounts, the temporary claim.
	env.OnActivity(s.a.ChooseNodes, mock.Anything, contract.ChooseNodesInput{Source: s.copy, Destination: dstCluster, TargetStorageClass: "fast", TargetNamespace: "shop-dr", TargetName: "data"}).
		Return(contract.NodePlan{Source: kube.NodeChoice{Node: "prod-1"}, SourceAddress: "10.255.0.11", Target: kube.NodeChoice{Node: "dr-1"}}, nil)
	mountIn := contract.MountPodInput{Op: s.op, PVC: s.copy, Node: "prod-1", Image: s.in.Image, Credentials: "drs-creds-x", Authority: s.authority()}
	env.OnActivity(s.a.EnsureMountPod, mock.Anything, mountIn).Return(contract.MountPod{Name: "drs-mount-x", Target: "10.244.1.7:8873"}, nil)
	if !owns(own, "Transfer") {
		transfer := s.transferInput()
		transfer.Mount = &mountIn // the mount pod Transfer keeps reads the copy
		env.OnActivity(s.a.Transfer, mock.Anything, transfer).After(time.Second).
			Return(contract.TransferResult{Stats: statsWithBytes(1 << 20), Streams: 1}, nil)
	}
	drPVC := contract.PVCRef{Cluster: dstCluster, Namespace: "shop-dr", Name: "data"}
	point := contract.RestorePoint{Name: "data-rp-20261204-210000", PVC: "data", CopiedAt: snapshotTime, Size: "1Gi"}
	env.OnActivity(pit.TakeRestorePoint, mock.Anything, mock.MatchedBy(func(in contract.RestorePointInput) bool {
		return in.PVC == drPVC && in.Replication == "dr-syncer-system/shop" && assert.ObjectsAreEqual(s.op, in.Op) && !in.CopiedAt.IsZero() && in.RestorePoints.Keep == 3
	})).Return(func(_ context.Context, in contract.RestorePointInput) (contract.RestorePoint, error) {
		step("TakeRestorePoint")
		point.CopiedAt = in.CopiedAt
		return point, nil
	})
	env.OnActivity(pit.PruneRestorePoints, mock.Anything, contract.PruneRestorePointsInput{PVC: drPVC, Replication: "dr-syncer-system/shop", Keep: 3}).
		Return(func(context.Context, contract.PruneRestorePointsInput) ([]contract.RestorePoint, error) {
			step("PruneRestorePoints")
			return []contract.RestorePoint{point}, nil
		})
	return s
}

func owns(own []string, step string) bool {
	for _, o := range own {
		if o == step {
			return true
		}
	}
	return false
}

func TestPVCSyncFromSnapshotFreezesOnlyWhileItIsTaken(t *testing.T) {
	s := newPointInTimeSuite(t, contract.CopySnapshot)
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	require.NoError(t, s.env.GetWorkflowError())
	assert.Equal(t, []string{"freeze", "SnapshotSource", "thaw", "WaitSnapshotReady", "CreateTemporaryPVC", "TakeRestorePoint", "PruneRestorePoints"}, s.steps)
	var result contract.PVCSyncResult
	require.NoError(t, s.env.GetWorkflowResult(&result))
	assert.Equal(t, contract.CopySnapshot, result.CopySource.Method)
	require.NotNil(t, result.SourceSnapshot)
	require.Len(t, result.RestorePoints, 1)
	assert.Equal(t, snapshotTime, result.RestorePoints[0].CopiedAt, "the restore point holds the snapshot's instant")
	s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1)
}

func TestPVCSyncFromClone(t *testing.T) {
	s := newPointInTimeSuite(t, contract.CopyClone)
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	require.NoError(t, s.env.GetWorkflowError())
	assert.Equal(t, []string{"CreateTemporaryPVC", "TakeRestorePoint", "PruneRestorePoints"}, s.steps)
	s.env.AssertActivityNumberOfCalls(t, "SnapshotSource", 0)
	s.env.AssertActivityNumberOfCalls(t, "RunHook", 0)
}

func TestPVCSyncFailingFreezeFailsTheRunAndStillThaws(t *testing.T) {
	s := newPointInTimeSuite(t, contract.CopySnapshot, "RunHook")
	s.env.OnActivity(s.pit.RunHook, mock.Anything, mock.Anything).Return(func(_ context.Context, in contract.HookInput) (contract.HookResult, error) {
		s.steps = append(s.steps, in.Hook)
		if in.Hook == "freeze" {
			return contract.HookResult{}, temporal.NewNonRetryableApplicationError("freeze hook exited 3", contract.ErrTypeHookFailed, nil)
		}
		return contract.HookResult{Pods: []string{"db-0"}}, nil
	})
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(s.env.GetWorkflowError(), &appErr))
	assert.Equal(t, contract.ErrTypeHookFailed, appErr.Type())
	assert.Equal(t, []string{"freeze", "thaw"}, s.steps, "no snapshot without a freeze; thaw runs anyway")
	s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1)
	s.env.AssertActivityNumberOfCalls(t, "EnsureMountPod", 0)
}

func TestPVCSyncCancelledDuringSnapshotThawsAndCleansUp(t *testing.T) {
	s := newPointInTimeSuite(t, contract.CopySnapshot, "SnapshotSource")
	s.env.OnActivity(s.pit.SnapshotSource, mock.Anything, mock.Anything).After(time.Hour).Return(contract.Snapshot{}, nil)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	var canceled *temporal.CanceledError
	require.True(t, errors.As(s.env.GetWorkflowError(), &canceled), "got %v", s.env.GetWorkflowError())
	assert.Equal(t, []string{"freeze", "thaw"}, s.steps)
	s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1)
}

func TestPVCSyncFailedTransferTakesAndPrunesNoRestorePoint(t *testing.T) {
	for _, method := range []contract.CopyMethod{contract.CopySnapshot, contract.CopyDirect} {
		t.Run(string(method), func(t *testing.T) {
			s := newPointInTimeSuite(t, method, "Transfer")
			s.env.OnActivity(s.a.Transfer, mock.Anything, mock.Anything).Return(contract.TransferResult{},
				temporal.NewNonRetryableApplicationError("rsync exit 23", contract.ErrTypeTransferFailed, nil))
			s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(s.env.GetWorkflowError(), &appErr))
			assert.Equal(t, contract.ErrTypeTransferFailed, appErr.Type())
			s.env.AssertActivityNumberOfCalls(t, "TakeRestorePoint", 0)
			s.env.AssertActivityNumberOfCalls(t, "PruneRestorePoints", 0)
			s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1)
		})
	}
}

func TestPVCSyncCancelledDuringTransferKeepsRestorePoints(t *testing.T) {
	s := newPointInTimeSuite(t, contract.CopySnapshot, "Transfer")
	s.env.OnActivity(s.a.Transfer, mock.Anything, mock.Anything).After(time.Hour).Return(contract.TransferResult{}, nil)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	require.Error(t, s.env.GetWorkflowError())
	s.env.AssertActivityNumberOfCalls(t, "TakeRestorePoint", 0)
	s.env.AssertActivityNumberOfCalls(t, "PruneRestorePoints", 0)
	s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1)
}

func TestPVCSyncWithoutSnapshotClassStopsBeforeAnyPod(t *testing.T) {
	s := newPVCSuite(t, "PlanCopySource")
	s.in.PointInTime.CopyMethod = contract.CopySnapshot
	s.env.OnActivity(s.pit.PlanCopySource, mock.Anything, mock.Anything).Return(contract.CopySource{},
		temporal.NewNonRetryableApplicationError("no VolumeSnapshotClass for CSI driver x: create one", contract.ErrTypeNoSnapshotClass, nil))
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(s.env.GetWorkflowError(), &appErr))
	assert.Equal(t, contract.ErrTypeNoSnapshotClass, appErr.Type())
	s.env.AssertActivityNumberOfCalls(t, "PlanCopySource", 1)
	s.env.AssertActivityNumberOfCalls(t, "EnsureMountPod", 0)
}
