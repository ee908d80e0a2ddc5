package workflows

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/dr-syncer/dr-syncer/activities/pointintime"
	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/telemetry"
)

var (
	srcCluster = contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}
	dstCluster = contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}
	sourcePVC  = contract.PVCRef{Cluster: srcCluster, Namespace: "shop", Name: "data"}
)

func pvcInput() contract.PVCSyncInput {
	retries := int32(2)
	return contract.PVCSyncInput{
		Replication:          contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"},
		Source:               sourcePVC,
		Destination:          dstCluster,
		DestinationNamespace: "shop-dr",
		CreateNamespace:      true,
		StorageClassMappings: map[string]string{"standard": "fast"},
		DataSync:             rsyncargs.Config{BandwidthLimitKiB: 1024, Timeout: rsyncargs.Duration(10 * time.Minute)},
		Image:                contract.Image{Reference: "dr-syncer/dataplane:dev", PullPolicy: "IfNotPresent"},
		AgentPort:            2222,
		ClusterKey:           contract.SecretRef{Namespace: "dr-syncer-system", Name: "prod-to-dr-ssh"},
		AgentHostKey:         contract.SecretRef{Namespace: "dr-syncer-system", Name: "prod-agent-host-key"},
		Retry:                contract.RetrySettings{MaxRetries: retries, InitialBackoff: "1s", MaxBackoff: "4s", BackoffMultiplier: 200},
		FailureMode:          contract.FailureRetryAndWait,
	}
}

type pvcSuite struct {
	env     *testsuite.TestWorkflowEnvironment
	metrics *telemetry.Metrics
	a       *pvcdata.PVCActivities
	pit     *pointintime.SnapshotActivities
	in      contract.PVCSyncInput
	op      contract.Operation
}

// newPVCSuite mocks every step of a successful sync with the exact inputs
// the workflow must pass, except the steps a test mocks itself.
func newPVCSuite(t *testing.T, own ...string) *pvcSuite {
	var ts testsuite.WorkflowTestSuite
	metrics, err := telemetry.NewMetrics("drsyncer_worker")
	require.NoError(t, err)
	ts.SetMetricsHandler(metrics.TemporalHandler())
	env := ts.NewTestWorkflowEnvironment()
	s := &pvcSuite{env: env, metrics: metrics, in: pvcInput()}
	env.RegisterWorkflowWithOptions(PVCSync, workflowOptions(contract.PVCSyncName))
	env.RegisterActivity(s.a)
	env.RegisterActivity(s.pit)
	s.op = contract.Operation{WorkflowID: "default-test-workflow-id", RunID: "default-test-run-id"}
	mocked := func(step string) bool {
		for _, o := range own {
			if o == step {
				return false
			}
		}
		return true
	}
	cleanup := contract.CleanupInput{Op: s.op, Source: srcCluster, SourceNamespace: "shop", Destination: dstCluster, DestinationNamespace: "shop-dr"}
	env.OnActivity(s.a.Cleanup, mock.Anything, cleanup).Return(contract.CleanupResult{Deleted: []string{"dr/pod/shop-dr/x"}}, nil)
	// Only the pre-run cleanup deletes batches an ended run left: at the
	// end, the sync's batch may still serve the other members.
	leftovers := cleanup
	leftovers.Leftovers = true
	env.OnActivity(s.a.Cleanup, mock.Anything, leftovers).Return(contract.CleanupResult{}, nil).Maybe()
	if mocked("FindWorkingObjects") {
		// As in most runs, earlier runs left nothing, and this one its pods.
		env.OnActivity(s.a.FindWorkingObjects, mock.Anything, leftovers).Return(contract.WorkingObjects{}, nil)
		env.OnActivity(s.a.FindWorkingObjects, mock.Anything, cleanup).Return(contract.WorkingObjects{Objects: []string{"dr/pod/shop-dr/x"}}, nil)
	}
	if mocked("Discover") {
		env.OnActivity(s.a.Discover, mock.Anything, sourcePVC).Return(contract.PVCInfo{StorageClass: "standard", Size: "1Gi"}, nil)
	}
	if mocked("EnsureTargetPVC") {
		env.OnActivity(s.a.EnsureTargetPVC, mock.Anything, contract.TargetPVCInput{
			Source: sourcePVC, Destination: dstCluster, DestinationNamespace: "shop-dr", CreateNamespace: true,
			StorageClassMappings: map[string]string{"standard": "fast"}, Replication: "dr-syncer-system/shop",
		}).Return(contract.TargetPVC{Name: "data", Namespace: "shop-dr", StorageClass: "fast", Size: "1Gi", Created: true}, nil)
	}
	if mocked("PlanCopySource") {
		env.OnActivity(s.pit.PlanCopySource, mock.Anything, contract.CopySourceInput{PVC: sourcePVC}).
			Return(contract.CopySource{Method: contract.CopyDirect, Reason: "no VolumeSnapshotClass"}, nil)
	}
	if mocked("ChooseNodes") {
		env.OnActivity(s.a.ChooseNodes, mock.Anything, contract.ChooseNodesInput{Source: sourcePVC, Destination: dstCluster, TargetStorageClass: "fast", TargetNamespace: "shop-dr", TargetName: "data"}).
			Return(contract.NodePlan{
				Source:        kube.NodeChoice{Node: "prod-1", Reason: "mounted"},
				SourceAddress: "10.255.0.11",
				Target:        kube.NodeChoice{Node: "dr-1", Reason: "zone"},
			}, nil)
	}
	if mocked("EnsureCredentials") {
		env.OnActivity(s.a.EnsureCredentials, mock.Anything, contract.CredentialsInput{
			Op: s.op, Source: srcCluster, SourceNamespace: "shop", Destination: dstCluster, DestinationNamespace: "shop-dr",
			ClusterKey: s.in.ClusterKey, AgentHostKey: s.in.AgentHostKey, Authority: s.authority(),
		}).Return(contract.Credentials{Secret: "drs-creds-x"}, nil)
	}
	if mocked("EnsureMountPod") {
		env.OnActivity(s.a.EnsureMountPod, mock.Anything, contract.MountPodInput{
			Op: s.op, PVC: sourcePVC, Node: "prod-1", Image: s.in.Image, Credentials: "drs-creds-x", Authority: s.authority(),
		}).Return(contract.MountPod{Name: "drs-mount-x", Target: "10.244.1.7:8873"}, nil)
	}
	if mocked("Transfer") {
		// A transfer takes longer than the mount pod's start, as in life.
		env.OnActivity(s.a.Transfer, mock.Anything, s.transferInput()).After(time.Second).
			Return(contract.TransferResult{Stats: statsWithBytes(1 << 20), Streams: 1}, nil)
	}
	if mocked("MarkSynced") {
		env.OnActivity(s.a.MarkSynced, mock.Anything, mock.MatchedBy(func(in contract.MarkSyncedInput) bool {
			return in.Destination == dstCluster && in.Namespace == "shop-dr" && in.Name == "data" && !in.At.IsZero()
		})).Return(nil)
	}
	return s
}

func (s *pvcSuite) transferInput() contract.TransferInput {
	return contract.TransferInput{
		Op: s.op, PVC: contract.PVCRef{Cluster: dstCluster, Namespace: "shop-dr", Name: "data"},
		Node: "dr-1", Image: s.in.Image, AgentAddr: "10.255.0.11:2222", Target: kube.MountTarget("shop", s.op.Name("mount")),
		Credentials: "drs-creds-x", Config: s.in.DataSync, Authority: s.authority(),
		Mount:      &contract.MountPodInput{Op: s.op, PVC: sourcePVC, Node: "prod-1", Image: s.in.Image, Credentials: "drs-creds-x", Authority: s.authority()},
		ClusterKey: &s.in.ClusterKey, AgentHostKey: &s.in.AgentHostKey,
	}
}

// authority is the Replication run every pod and Secret step names.
func (s *pvcSuite) authority() *contract.PlanRequest {
	return &contract.PlanRequest{Replication: s.in.Replication, Direction: s.in.Direction}
}

func TestPVCSyncHappyPath(t *testing.T) {
	s := newPVCSuite(t)
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	require.True(t, s.env.IsWorkflowCompleted())
	require.NoError(t, s.env.GetWorkflowError())
	var result contract.PVCSyncResult
	require.NoError(t, s.env.GetWorkflowResult(&result))
	assert.Equal(t, "fast", result.Target.StorageClass)
	assert.Equal(t, "mounted", result.Nodes.Source.Reason, "the placement reason is recorded")
	assert.Equal(t, int64(1<<20), result.Transfer.Stats.TotalTransferredFileSize)
	assert.Equal(t, []string{"dr/pod/shop-dr/x"}, result.Cleanup.Deleted)
	s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1) // own objects only: earlier runs left none
	s.env.AssertActivityNumberOfCalls(t, "MarkSynced", 1)

	v, err := s.env.QueryWorkflow(contract.ProgressQuery)
	require.NoError(t, err)
	var p contract.PVCSyncProgress
	require.NoError(t, v.Get(&p))
	assert.Equal(t, contract.PhaseCleanup, p.Phase)
}

func TestPVCSyncSetsSearchAttributes(t *testing.T) {
	s := newPVCSuite(t)
	s.env.OnUpsertTypedSearchAttributes(temporal.NewSearchAttributes(
		contract.AttrReplication.ValueSet("dr-syncer-system/shop"), contract.AttrSourceCluster.ValueSet("prod"),
		contract.AttrNamespace.ValueSet("shop"), contract.AttrPVC.ValueSet("data"),
	)).Return(nil).Once()
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	require.NoError(t, s.env.GetWorkflowError())
	s.env.AssertExpectations(t)
}

func TestPVCSyncNonRetryableErrorsStopAndCleanUp(t *testing.T) {
	for _, tc := range []struct {
		step    string
		errType string
	}{
		{"Discover", contract.ErrTypePVCNotBound},
		{"EnsureTargetPVC", contract.ErrTypeStorageClassNotFound},
		{"EnsureTargetPVC", contract.ErrTypeNamespaceNotFound},
		{"EnsureMountPod", contract.ErrTypePodFailed},
		{"Transfer", contract.ErrTypeTransferFailed},
		{"Transfer", contract.ErrTypeInvalidSpec},
	} {
		t.Run(tc.step+"/"+tc.errType, func(t *testing.T) {
			own := []string{tc.step}
			if tc.step == "EnsureMountPod" {
				own = append(own, "Transfer")
			}
			s := newPVCSuite(t, own...)
			failure := temporal.NewNonRetryableApplicationError("boom", tc.errType, nil)
			zero := map[string]any{
				"Discover": contract.PVCInfo{}, "EnsureTargetPVC": contract.TargetPVC{},
				"EnsureMountPod": contract.MountPod{}, "Transfer": contract.TransferResult{},
			}[tc.step]
			s.env.OnActivity(tc.step, mock.Anything, mock.Anything).Return(zero, failure)
			if tc.step == "EnsureMountPod" {
				// The sync pod starts alongside and waits for the mount pod.
				s.env.OnActivity(s.a.Transfer, mock.Anything, s.transferInput()).After(time.Hour).Return(contract.TransferResult{}, nil)
			}
			s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
			err := s.env.GetWorkflowError()
			require.Error(t, err)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(err, &appErr))
			assert.Equal(t, tc.errType, appErr.Type())
			s.env.AssertActivityNumberOfCalls(t, tc.step, 1) // not retried
			s.env.AssertActivityNumberOfCalls(t, "MarkSynced", 0)
			s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1)
		})
	}
}

func TestPVCSyncStartsSyncPodWhileMountPodStarts(t *testing.T) {
	s := newPVCSuite(t, "EnsureMountPod")
	const mountPodStart = 10 * time.Second
	s.env.OnActivity(s.a.EnsureMountPod, mock.Anything, mock.Anything).After(mountPodStart).
		Return(contract.MountPod{Name: "drs-mount-x", Target: "10.244.1.7:8873"}, nil)
	var transferStarted time.Time
	s.env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "Transfer" {
			transferStarted = s.env.Now()
		}
	})
	cancelled := []string{}
	s.env.SetOnActivityCanceledListener(func(info *activity.Info) { cancelled = append(cancelled, info.ActivityType.Name) })
	start := s.env.Now()
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	require.NoError(t, s.env.GetWorkflowError())
	require.False(t, transferStarted.IsZero())
	assert.Less(t, transferStarted.Sub(start), mountPodStart, "the sync pod does not wait for the mount pod")
	// The mover only succeeds through a running mount pod, so a finished
	// transfer ends the wait for its readiness instead of leaving it behind.
	assert.Equal(t, []string{"EnsureMountPod"}, cancelled)
	s.env.AssertActivityNumberOfCalls(t, "MarkSynced", 1)
}

func TestPVCSyncMountPodFailureCancelsTransfer(t *testing.T) {
	s := newPVCSuite(t, "EnsureMountPod", "Transfer")
	s.env.OnActivity(s.a.EnsureMountPod, mock.Anything, mock.Anything).After(5*time.Second).Return(contract.MountPod{},
		temporal.NewNonRetryableApplicationError("mount pod: ImagePullBackOff", contract.ErrTypePodFailed, nil))
	s.env.OnActivity(s.a.Transfer, mock.Anything, s.transferInput()).After(time.Hour).Return(contract.TransferResult{}, nil)
	cancelled := []string{}
	s.env.SetOnActivityCanceledListener(func(info *activity.Info) { cancelled = append(cancelled, info.ActivityType.Name) })
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	err := s.env.GetWorkflowError()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "got %v", err)
	assert.Equal(t, contract.ErrTypePodFailed, appErr.Type())
	assert.Equal(t, []string{"Transfer"}, cancelled, "the waiting transfer is cancelled")
	s.env.AssertActivityNumberOfCalls(t, "MarkSynced", 0)
	s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1)
}

func TestPVCSyncRetriesTransferWithConfiguredBackoff(t *testing.T) {
	s := newPVCSuite(t, "Transfer")
	var attempts []time.Time
	s.env.OnActivity(s.a.Transfer, mock.Anything, s.transferInput()).Return(
		func(context.Context, contract.TransferInput) (contract.TransferResult, error) {
			attempts = append(attempts, s.env.Now())
			if len(attempts) < 3 {
				return contract.TransferResult{}, errors.New("rsync exit 12: connection reset")
			}
			return contract.TransferResult{Streams: 1}, nil
		})
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	require.NoError(t, s.env.GetWorkflowError())
	require.Len(t, attempts, 3, "maxRetries 2 allows three attempts")
	assert.Equal(t, time.Second, attempts[1].Sub(attempts[0]).Round(time.Second), "initialBackoff")
	assert.Equal(t, 2*time.Second, attempts[2].Sub(attempts[1]).Round(time.Second), "backoffMultiplier 200")
}

func TestPVCSyncGivesUpAfterMaxRetries(t *testing.T) {
	s := newPVCSuite(t, "Transfer")
	s.env.OnActivity(s.a.Transfer, mock.Anything, s.transferInput()).Return(contract.TransferResult{}, errors.New("network down"))
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	require.Error(t, s.env.GetWorkflowError())
	s.env.AssertActivityNumberOfCalls(t, "Transfer", 3)
	s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1)
}

func TestPVCSyncFailFastDoesNotRetry(t *testing.T) {
	for _, mode := range []contract.FailureMode{contract.FailureFailFast, contract.FailureWaitForNextSync} {
		t.Run(string(mode), func(t *testing.T) {
			s := newPVCSuite(t, "Transfer")
			s.in.FailureMode = mode
			s.env.OnActivity(s.a.Transfer, mock.Anything, s.transferInput()).Return(contract.TransferResult{}, errors.New("network down"))
			s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
			require.Error(t, s.env.GetWorkflowError())
			s.env.AssertActivityNumberOfCalls(t, "Transfer", 1)
		})
	}
}

func TestPVCSyncCancelStillCleansUp(t *testing.T) {
	s := newPVCSuite(t, "Transfer")
	s.env.OnActivity(s.a.Transfer, mock.Anything, s.transferInput()).After(time.Hour).Return(contract.TransferResult{}, nil)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, time.Minute)
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	err := s.env.GetWorkflowError()
	require.Error(t, err)
	var canceled *temporal.CanceledError
	assert.True(t, errors.As(err, &canceled), "want a cancellation, got %v", err)
	s.env.AssertActivityNumberOfCalls(t, "Cleanup", 1)
	s.env.AssertActivityNumberOfCalls(t, "MarkSynced", 0)
}

func TestPVCSyncMetricsCountResultsBytesAndDuration(t *testing.T) {
	s := newPVCSuite(t, "EnsureTargetPVC")
	s.env.OnActivity(s.a.EnsureTargetPVC, mock.Anything, mock.Anything).Return(contract.TargetPVC{},
		temporal.NewNonRetryableApplicationError("no class", contract.ErrTypeStorageClassNotFound, nil)).Once()
	s.env.ExecuteWorkflow(contract.PVCSyncName, s.in)
	require.Error(t, s.env.GetWorkflowError())

	ok := newPVCSuite(t)
	ok.env.ExecuteWorkflow(contract.PVCSyncName, ok.in)
	require.NoError(t, ok.env.GetWorkflowError())

	for suite, want := range map[*pvcSuite][]string{
		s:  {`drsyncer_worker_pvc_sync_total{result="StorageClassNotFound",source_cluster="prod"} 1`},
		ok: {`drsyncer_worker_pvc_sync_total{result="success",source_cluster="prod"} 1`, `drsyncer_worker_pvc_sync_bytes_total{result="success",source_cluster="prod"} 1.048576e+06`, `drsyncer_worker_pvc_sync_duration_seconds_count{result="success",source_cluster="prod"} 1`},
	} {
		require.NoError(t, suite.metrics.Close())
		rec := httptest.NewRecorder()
		suite.metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		for _, line := range want {
			assert.Contains(t, rec.Body.String(), line)
		}
	}
}

// A short step run as a local activity gets every attempt its retry
// policy allows, however long the backoff: a local activity's budget is
// otherwise one StartToClose (a minute) for all its attempts.
func TestPVCSyncLocalStepGetsEveryAttempt(t *testing.T) {
	s := newPVCSuite(t, "Discover")
	s.in.Retry.InitialBackoff, s.in.Retry.MaxBackoff = "40s", "40s"
	calls := 0
	s.env.OnActivity(s.a.Discover, mock.Anything, sourcePVC).Return(func(context.Context, contract.PVCRef) (contract.PVCInfo, error) {
		calls++
		return contract.PVCInfo{}, errors.New("dial tcp 10.0.0.1:6443: connection refused")
	})
	s.env.ExecuteWorkflow(PVCSync, s.in)
	require.Error(t, s.env.GetWorkflowError())
	assert.Equal(t, 3, calls, "maxRetries 2: three attempts, 40 s apart")
}
