package workflows

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	"github.com/dr-syncer/dr-syncer/activities/pointintime"
	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// batchSuite runs a Replication whose plan batches pods, with real PVCSync
// children and every activity mocked and recorded.
type batchSuite struct {
	env *testsuite.TestWorkflowEnvironment
	a   *pvcdata.PVCActivities

	mu        sync.Mutex
	at        func() time.Time
	transfers map[string]contract.TransferInput // by DR claim
	ended     map[string]time.Time              // transfer ends, by DR claim
	mounts    []string                          // claims that got their own mount pod
	mountIns  map[string]contract.MountPodInput // by claim
	creds     []string                          // EnsureCredentials's operations, in order
	batches   []contract.BatchPodsInput         // in the order the run formed them
	podsAt    map[string]time.Time              // EnsureBatchPods's start, by batch operation
	mountAt   map[string]time.Time              // EnsureMountPod's start, by claim
	released  map[string]time.Time              // ReleaseBatchPods's start, by batch operation
	cleanups  map[string]time.Time              // by operation's workflow ID: the last cleanup's start

	events   []string // "cleanup <op>", "mount <pvc>", "start <pvc>" and "transfer <pvc>", in order
	podsFail error    // EnsureBatchPods's error, when set
	// podsFailFor limits podsFail to one batch operation, when set.
	podsFailFor string
	lose        string // the PVC whose followed mover is lost
	// failFollowed are the PVCs whose followed transfer fails for good.
	failFollowed []string
	// slowBatch: a batch's credentials take until cancelled, so its members wait.
	slowBatch bool
	// attachLimit is what ChooseNodes reports its nodes may attach.
	attachLimit int
	// moverRoom is how many movers ChooseNodes reports the DR node has room for.
	moverRoom int
	// slowTransfers take 10 s instead of 1.
	slowTransfers []string
}

// pairs: PVCs named "y…" sit on the second node pair, all others on the first.
func newBatchSuite(t *testing.T, pvcs []string, concurrent int32) *batchSuite {
	var ts testsuite.WorkflowTestSuite
	s := &batchSuite{env: ts.NewTestWorkflowEnvironment(), transfers: map[string]contract.TransferInput{},
		ended: map[string]time.Time{}, cleanups: map[string]time.Time{},
		mountIns: map[string]contract.MountPodInput{}, podsAt: map[string]time.Time{},
		mountAt: map[string]time.Time{}, released: map[string]time.Time{}}
	s.at = s.env.Now
	env := s.env
	env.RegisterWorkflowWithOptions(Replication, workflowOptions(contract.ReplicationName))
	env.RegisterWorkflowWithOptions(PVCSync, workflowOptions(contract.PVCSyncName))
	env.RegisterWorkflowWithOptions(ReplicateResources, workflowOptions(contract.ReplicateResourcesName))
	env.RegisterWorkflowWithOptions(reportingParent, workflow.RegisterOptions{Name: reportingParentName})
	var plans *activities.PlanActivities
	var pit *pointintime.SnapshotActivities
	var permits *pvcdata.PermitActivities
	env.RegisterActivity(permits)
	env.RegisterActivity(plans)
	env.RegisterActivity(s.a)
	env.RegisterActivity(pit)
	plan := testPlan(concurrent)
	plan.Spec.PVCConfig.SyncData = true
	plan.DataPlane.BatchPods = true
	env.OnActivity(plans.ResolveReplication, mock.Anything, forwardRun()).Return(plan, nil)
	env.OnWorkflow(contract.ReplicateResourcesName, mock.Anything, mock.Anything).Return(contract.ResourcesResult{}, nil).Maybe()
	env.OnActivity(s.a.ListPVCs, mock.Anything, mock.Anything).Return(contract.PVCList{Names: pvcs}, nil)
	env.OnActivity(s.a.Cleanup, mock.Anything, mock.Anything).Return(func(_ context.Context, in contract.CleanupInput) (contract.CleanupResult, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.cleanups[in.Op.WorkflowID] = s.at()
		s.events = append(s.events, "cleanup "+in.Op.WorkflowID)
		return contract.CleanupResult{}, nil
	})
	// Every look finds something, so each sync's cleanups run as they
	// would without the look, and the tests see when.
	env.OnActivity(s.a.FindWorkingObjects, mock.Anything, mock.Anything).Return(contract.WorkingObjects{Objects: []string{"dr/pod/x/y"}}, nil)
	env.OnActivity(s.a.Discover, mock.Anything, mock.Anything).Return(contract.PVCInfo{StorageClass: "standard", Size: "1Gi"}, nil)
	env.OnActivity(s.a.EnsureTargetPVC, mock.Anything, mock.Anything).Return(func(_ context.Context, in contract.TargetPVCInput) (contract.TargetPVC, error) {
		return contract.TargetPVC{Name: in.Source.Name, Namespace: in.DestinationNamespace}, nil
	})
	env.OnActivity(pit.PlanCopySource, mock.Anything, mock.Anything).Return(contract.CopySource{Method: contract.CopyDirect}, nil)
	env.OnActivity(s.a.ChooseNodes, mock.Anything, mock.Anything).Return(func(_ context.Context, in contract.ChooseNodesInput) (contract.NodePlan, error) {
		if strings.HasPrefix(in.Source.Name, "y") {
			return contract.NodePlan{Source: kube.NodeChoice{Node: "prod-2"}, SourceAddress: "10.0.0.2", Target: kube.NodeChoice{Node: "dr-2"}}, nil
		}
		return contract.NodePlan{Source: kube.NodeChoice{Node: "prod-1"}, SourceAddress: "10.0.0.1", Target: kube.NodeChoice{Node: "dr-1"}, AttachLimit: s.attachLimit, MoverRoom: s.moverRoom}, nil
	})
	env.OnActivity(s.a.EnsureCredentials, mock.Anything, mock.Anything).Return(func(ctx context.Context, in contract.CredentialsInput) (contract.Credentials, error) {
		s.mu.Lock()
		s.creds = append(s.creds, in.Op.WorkflowID)
		s.mu.Unlock()
		if s.slowBatch && strings.Contains(in.Op.WorkflowID, "/batch-") {
			<-ctx.Done()
			return contract.Credentials{}, ctx.Err()
		}
		return contract.Credentials{Secret: in.Op.Name("creds")}, nil
	})
	env.OnActivity(s.a.EnsureMountPod, mock.Anything, mock.Anything).Return(func(_ context.Context, in contract.MountPodInput) (contract.MountPod, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.mounts = append(s.mounts, in.PVC.Name)
		s.mountIns[in.PVC.Name] = in
		s.mountAt[in.PVC.Name] = s.at()
		s.events = append(s.events, "mount "+in.PVC.Name)
		return contract.MountPod{Name: in.PodName(), Target: in.Target()}, nil
	})
	env.OnActivity(s.a.EnsureBatchPods, mock.Anything, mock.Anything).Return(func(_ context.Context, in contract.BatchPodsInput) (contract.BatchPods, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		// Activities run in goroutines: the order of their calls is not
		// the order the run formed the batches in.
		s.batches = append(s.batches, in)
		slices.SortFunc(s.batches, func(x, y contract.BatchPodsInput) int { return batchIndex(x) - batchIndex(y) })
		s.podsAt[in.Op.WorkflowID] = s.at()
		if s.podsFail != nil && (s.podsFailFor == "" || s.podsFailFor == in.Op.WorkflowID) {
			return contract.BatchPods{}, s.podsFail
		}
		return contract.BatchPods{MountPod: in.Op.Name("mount"), SyncPod: in.Op.Name("sync"), Target: kube.MountTarget(in.SourceNamespace, in.Op.Name("mount"))}, nil
	}).Maybe()
	env.OnActivity(s.a.ReleaseBatchPods, mock.Anything, mock.Anything).Return(func(_ context.Context, in contract.ReleaseBatchInput) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.released[in.Op.WorkflowID] = s.at()
		s.events = append(s.events, "release "+in.Op.WorkflowID)
		return nil
	}).Maybe()
	transfer := func(_ context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.events = append(s.events, "transfer "+in.PVC.Name)
		if in.Follow != nil && in.PVC.Name == s.lose {
			return contract.TransferResult{}, temporal.NewNonRetryableApplicationError("pod gone", contract.ErrTypeFollowedMoverLost, nil)
		}
		if in.Follow != nil && slices.Contains(s.failFollowed, in.PVC.Name) {
			return contract.TransferResult{}, temporal.NewNonRetryableApplicationError("rsync exit 23", contract.ErrTypeTransferFailed, nil)
		}
		s.transfers[in.PVC.Name], s.ended[in.PVC.Name] = in, s.at()
		return contract.TransferResult{Stats: statsWithBytes(1 << 20)}, nil
	}
	// A held batch's movers cannot connect before its release, which
	// follows the batch before it: their transfers end a second after
	// that batch's would. The test clock does not move while activities
	// run, so without this a staged member's transfer could end with the
	// first batch's, before any release, as no real one can.
	// A sync on its own pods runs Transfer; one in a batch, whose one
	// mover fills every claim, TransferBatchClaim.
	for _, activity := range []any{s.a.Transfer, s.a.TransferBatchClaim} {
		env.OnActivity(activity, mock.Anything, mock.MatchedBy(func(in contract.TransferInput) bool {
			return slices.Contains(s.slowTransfers, in.PVC.Name)
		})).After(10 * time.Second).Return(transfer).Maybe()
		env.OnActivity(activity, mock.Anything, mock.MatchedBy(s.followsHeldBatch)).After(2 * time.Second).Return(transfer).Maybe()
		env.OnActivity(activity, mock.Anything, mock.Anything).After(time.Second).Return(transfer).Maybe()
	}
	env.OnActivity(s.a.MarkSynced, mock.Anything, mock.Anything).Return(nil)
	env.SetOnChildWorkflowStartedListener(func(info *workflow.Info, _ workflow.Context, args converter.EncodedValues) {
		var in contract.PVCSyncInput
		if info.WorkflowType.Name == contract.PVCSyncName && args.Get(&in) == nil {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.events = append(s.events, "start "+in.Source.Name)
		}
	})
	return s
}

// batchIndex is the index of in's batch in its run, from its operation's
// workflow ID ("<run>/batch-<index>").
func batchIndex(in contract.BatchPodsInput) int {
	_, index, _ := strings.Cut(in.Op.WorkflowID, "/batch-")
	n, _ := strconv.Atoi(index)
	return n
}

// followsHeldBatch says in follows a mover of a batch whose pods were made held.
func (s *batchSuite) followsHeldBatch(in contract.TransferInput) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.batches {
		if in.Follow != nil && b.Held && in.Follow.Pod == b.Op.Name("sync") {
			return true
		}
	}
	return false
}

func (s *batchSuite) run(t *testing.T) contract.ReplicationResult {
	s.env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "manual"})
	require.True(t, s.env.IsWorkflowCompleted())
	require.NoError(t, s.env.GetWorkflowError())
	var result contract.ReplicationResult
	require.NoError(t, s.env.GetWorkflowResult(&result))
	return result
}

const batchOp0 = "default-test-workflow-id/batch-0"

func TestBatchedRunSharesPodsPerNodePair(t *testing.T) {
	s := newBatchSuite(t, []string{"a", "b", "y"}, 3)
	result := s.run(t)
	require.Len(t, result.PVCs, 3)
	for _, p := range result.PVCs {
		assert.Empty(t, p.Error, p.PVC)
	}

	require.Len(t, s.batches, 1, "a and b share the first pair's pods; y is alone on the second")
	b := s.batches[0]
	assert.Equal(t, batchOp0, b.Op.WorkflowID)
	require.ElementsMatch(t, []contract.BatchClaim{{Source: "a", Target: "a"}, {Source: "b", Target: "b"}}, b.Claims)
	assert.Equal(t, "prod-1", b.SourceNode)
	assert.Equal(t, "dr-1", b.DestinationNode)
	assert.Equal(t, "10.0.0.1:2222", b.AgentAddr)
	assert.Equal(t, b.Op.Name("creds"), b.Credentials, "the batch's own credentials, not a member's")
	require.NotNil(t, b.Authority)
	assert.Equal(t, replRef, b.Authority.Replication)
	// The batch's pods and Secrets name their members, whose next syncs
	// delete them if this run ended without.
	var members []string
	for _, c := range b.Claims {
		members = append(members, contract.PVCSyncWorkflowID("prod", "shop", c.Source))
	}
	assert.Equal(t, members, b.Op.Members)
	assert.True(t, b.OneMover, "one mover fills the batch's claims")
	// Under the name of its own that older workers do not run.
	s.env.AssertActivityNumberOfCalls(t, contract.ActivityTransferBatchClaim, 2)
	s.env.AssertActivityNumberOfCalls(t, contract.ActivityTransfer, 1)

	for i, c := range b.Claims {
		in, pvc := s.transfers[c.Target], c.Target
		require.NotNil(t, in.Follow, pvc)
		assert.Equal(t, contract.FollowedMover{Pod: b.Op.Name("sync"), Container: kube.BatchMoverContainer(i), Claim: kube.BatchModule(i)}, *in.Follow)
		assert.Equal(t, kube.MountTarget("shop", b.Op.Name("mount")), in.Target)
		assert.Equal(t, b.Credentials, in.Credentials)
		assert.Nil(t, in.Mount, "a followed transfer keeps no mount pod of its own")
	}
	assert.Nil(t, s.transfers["y"].Follow, "a batch of one takes the solo path")
	assert.NotNil(t, s.transfers["y"].Mount)
	assert.Equal(t, []string{"y"}, s.mounts, "only the lone sync made its own mount pod")

	cleaned, ok := s.cleanups[batchOp0]
	require.True(t, ok, "the batch's pods and Secrets are deleted")
	assert.False(t, cleaned.Before(s.ended["a"]), "not before a's transfer ended")
	assert.False(t, cleaned.Before(s.ended["b"]), "not before b's transfer ended")
}

func TestBatchedRunFormsOneBatchPerRoundOfSlots(t *testing.T) {
	s := newBatchSuite(t, []string{"a", "b", "c", "d"}, 2)
	s.run(t)
	require.Len(t, s.batches, 2)
	// Within a round, claims keep join order, which the children's timing sets.
	assert.ElementsMatch(t, []contract.BatchClaim{{Source: "a", Target: "a"}, {Source: "b", Target: "b"}}, s.batches[0].Claims)
	assert.ElementsMatch(t, []contract.BatchClaim{{Source: "c", Target: "c"}, {Source: "d", Target: "d"}}, s.batches[1].Claims)
	assert.Empty(t, s.mounts)
	assert.Contains(t, s.cleanups, "default-test-workflow-id/batch-1")
	// concurrentSyncs bounds the syncs moving data: the next round starts
	// preparing as soon as the first batch is placed, not after it is done.
	for _, next := range []string{"start c", "start d"} {
		assert.Less(t, slices.Index(s.events, next), slices.Index(s.events, "transfer a"), "%s: %v", next, s.events)
	}
}

// syncOp is the operation of pvc's own sync in a batchSuite run.
func syncOp(pvc string) contract.Operation {
	return contract.Operation{WorkflowID: contract.PVCSyncWorkflowID(srcCluster.Name, "shop", pvc)}
}

// assertOwnCredentials checks that pvc's sync made its own credentials
// and that its mount pod and transfer use them.
func (s *batchSuite) assertOwnCredentials(t *testing.T, pvc string) {
	t.Helper()
	own := syncOp(pvc)
	assert.Contains(t, s.creds, own.WorkflowID, "%s falls back to its own pods, so it makes its own credentials", pvc)
	assert.Equal(t, own.Name("creds"), s.mountIns[pvc].Credentials, "%s's mount pod", pvc)
	assert.Equal(t, own.Name("creds"), s.transfers[pvc].Credentials, "%s's transfer", pvc)
	require.NotNil(t, s.transfers[pvc].Mount, pvc)
	assert.Equal(t, own.Name("creds"), s.transfers[pvc].Mount.Credentials, "the mount pod %s's transfer keeps", pvc)
}

// A sync placed in a batch follows the batch's pods with the batch's
// credentials: it makes none of its own (2026-12-06-batch-late-credentials).
func TestBatchedSyncMakesNoCredentialsOfItsOwn(t *testing.T) {
	s := newBatchSuite(t, []string{"a", "b"}, 2)
	s.run(t)
	require.Len(t, s.batches, 1)
	assert.Equal(t, []string{batchOp0}, s.creds, "only the batch makes credentials")
	for _, pvc := range []string{"a", "b"} {
		require.NotNil(t, s.transfers[pvc].Follow, pvc)
		assert.Equal(t, s.batches[0].Credentials, s.transfers[pvc].Credentials, pvc)
	}
}

func TestBatchedRunWhosePodsFailSyncsEachOnItsOwnAfterDeletingThem(t *testing.T) {
	s := newBatchSuite(t, []string{"a", "b"}, 2)
	s.podsFail = temporal.NewNonRetryableApplicationError("node dr-1 is gone", contract.ErrTypePodFailed, nil)
	s.run(t)
	assert.ElementsMatch(t, []string{"a", "b"}, s.mounts)
	for _, pvc := range []string{"a", "b"} {
		assert.Nil(t, s.transfers[pvc].Follow, pvc)
		s.assertOwnCredentials(t, pvc)
	}
	cleaned := slices.Index(s.events, "cleanup "+batchOp0)
	require.GreaterOrEqual(t, cleaned, 0, "whatever the batch made is deleted")
	assert.Less(t, cleaned, slices.Index(s.events, "mount a"), "before a takes its own pods")
	assert.Less(t, cleaned, slices.Index(s.events, "mount b"), "before b takes its own pods")
}

func TestBatchedSyncWhoseMoverIsLostTakesItsOwnPods(t *testing.T) {
	s := newBatchSuite(t, []string{"a", "b"}, 2)
	s.lose = "a"
	result := s.run(t)
	for _, p := range result.PVCs {
		assert.Empty(t, p.Error, p.PVC)
	}
	assert.Nil(t, s.transfers["a"].Follow, "a finished on its own pods")
	assert.NotNil(t, s.transfers["b"].Follow, "b stayed in the batch")
	assert.Equal(t, []string{"a"}, s.mounts)
	s.assertOwnCredentials(t, "a")
	assert.NotContains(t, s.creds, syncOp("b").WorkflowID, "b never needed its own")
}

// A sync falling back to its own pods makes its credentials while it holds
// its place: the run frees the place only once its transfer ends, so the
// next batch's syncs move data only after the fallbacks moved theirs.
func TestBatchedSyncFallingBackKeepsItsPlaceWhileMakingCredentials(t *testing.T) {
	s := newBatchSuite(t, []string{"a", "b", "c", "d"}, 2)
	s.podsFail = temporal.NewNonRetryableApplicationError("node dr-1 is gone", contract.ErrTypePodFailed, nil)
	s.run(t)
	_, ok := s.podsAt["default-test-workflow-id/batch-1"]
	require.True(t, ok, "c and d are placed in a second batch: %v", s.events)
	for _, pvc := range []string{"a", "b"} {
		s.assertOwnCredentials(t, pvc)
		require.Contains(t, s.ended, pvc)
		for _, next := range []string{"c", "d"} { // their batch failed too: they take their own pods
			require.Contains(t, s.mountAt, next)
			assert.False(t, s.mountAt[next].Before(s.ended[pvc]), "%s moved data before %s's fallback transfer ended: %v", next, pvc, s.events)
		}
	}
}

func TestCancelledBatchedRunDeletesTheBatchsPods(t *testing.T) {
	s := newBatchSuite(t, []string{"a", "b"}, 2)
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 500*time.Millisecond) // mid-transfer
	s.env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "manual"})
	require.True(t, s.env.IsWorkflowCompleted())
	var canceled *temporal.CanceledError
	require.ErrorAs(t, s.env.GetWorkflowError(), &canceled)
	require.Len(t, s.batches, 1, "the batch was made before the cancel")
	assert.Contains(t, s.cleanups, batchOp0, "and its pods and Secrets are deleted")
	assert.Empty(t, s.ended, "no transfer finished")
}

// A sync waiting for its batch when the run is cancelled stops waiting and
// cleans up: the run ends, it does not wait for it forever.
func TestCancelWhileSyncsWaitForTheirBatch(t *testing.T) {
	s := newBatchSuite(t, []string{"a", "b"}, 2)
	s.slowBatch = true
	s.env.RegisterDelayedCallback(s.env.CancelWorkflow, 500*time.Millisecond)
	s.env.ExecuteWorkflow(contract.ReplicationName, contract.ReplicationInput{Replication: replRef, Trigger: "manual"})
	require.True(t, s.env.IsWorkflowCompleted())
	var canceled *temporal.CanceledError
	require.ErrorAs(t, s.env.GetWorkflowError(), &canceled)
	assert.Empty(t, s.transfers)
	assert.Contains(t, s.cleanups, batchOp0)
}
