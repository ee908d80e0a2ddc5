package workflows_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/test/testenv"
	"github.com/dr-syncer/dr-syncer/workflows"
)

// permitScript is a scripted worker whose Replications each sync pvcs PVCs
// of their own namespace (the Replication's name), concurrentSyncs 2, on a
// source cluster with a globalConcurrencyLimit of 2, through the real
// semaphore. It records the transfers at once and every permit asked for.
type permitScript struct {
	mu             sync.Mutex
	running, most  int
	firstTransfer  map[string]time.Time // namespace → its first transfer's start
	lastTransfer   map[string]time.Time // namespace → its last transfer's end
	keys           map[string]bool      // permits asked for
	askedByTheSync bool                 // a PVC sync asked for its own permit
}

func startPermitScript(t *testing.T, tp *testenv.Temporal, pvcs map[string]int, transferTakes time.Duration) *permitScript {
	s := &permitScript{firstTransfer: map[string]time.Time{}, lastTransfer: map[string]time.Time{}, keys: map[string]bool{}}
	script := scriptedActivities(func(ctx context.Context, in contract.TransferInput) (contract.TransferResult, error) {
		s.mu.Lock()
		s.running++
		s.most = max(s.most, s.running)
		if _, ok := s.firstTransfer[in.PVC.Namespace]; !ok {
			s.firstTransfer[in.PVC.Namespace] = time.Now()
		}
		s.mu.Unlock()
		time.Sleep(transferTakes)
		s.mu.Lock()
		s.running--
		s.lastTransfer[in.PVC.Namespace] = time.Now()
		s.mu.Unlock()
		return contract.TransferResult{Streams: 1}, nil
	})
	resolve := script["ResolveReplication"].(func(context.Context, contract.PlanRequest) (contract.ReplicationPlan, error))
	script["ResolveReplication"] = func(ctx context.Context, req contract.PlanRequest) (contract.ReplicationPlan, error) {
		plan, err := resolve(ctx, req)
		plan.SourceNamespace, plan.DestinationNamespace = req.Replication.Name, req.Replication.Name
		plan.Spec.PVCConfig.DataSyncConfig.ConcurrentSyncs = 2
		plan.DataPlane.GlobalConcurrencyLimit = 2
		return plan, err
	}
	script["ListPVCs"] = func(ctx context.Context, in contract.ListPVCsInput) (contract.PVCList, error) {
		var names []string
		for i := range pvcs[in.Namespace] {
			names = append(names, fmt.Sprintf("data-%d", i))
		}
		return contract.PVCList{Names: names}, nil
	}
	permits := &pvcdata.PermitActivities{Temporal: tp.Client, TaskQueue: tp.TaskQueue}
	script["RequestPermits"] = func(ctx context.Context, in contract.AcquireInput) error {
		s.mu.Lock()
		for _, r := range in.Requests {
			s.keys[r.WorkflowID] = true
		}
		s.mu.Unlock()
		return permits.RequestPermits(ctx, in)
	}
	script["RequestPermit"] = func(ctx context.Context, in contract.AcquireInput) error {
		s.mu.Lock()
		s.askedByTheSync = true
		s.mu.Unlock()
		return permits.RequestPermit(ctx, in)
	}
	script["OpenWorkflows"] = permits.OpenWorkflows
	startScriptedWorker(t, tp, script)
	return s
}

// waitFor waits up to a minute for cond, read under the script's lock.
func (s *permitScript) waitFor(t *testing.T, cond func() bool, failure string) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return cond()
	}, time.Minute, 50*time.Millisecond, failure)
}

// runReplication starts the scripted Replication dr-syncer-system/name.
func runReplication(ctx context.Context, t *testing.T, tp *testenv.Temporal, name string) client.WorkflowRun {
	t.Helper()
	ref := contract.ObjectRef{Namespace: "dr-syncer-system", Name: name}
	run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: contract.ReplicationWorkflowID(ref.Namespace, ref.Name, "permits"), TaskQueue: tp.TaskQueue},
		contract.ReplicationName, contract.ReplicationInput{Replication: ref, Trigger: "permits"})
	require.NoError(t, err)
	return run
}

// requireAllSynced waits for the run and requires every PVC synced.
func requireAllSynced(ctx context.Context, t *testing.T, run client.WorkflowRun, pvcs int) {
	t.Helper()
	var res contract.ReplicationResult
	require.NoError(t, run.Get(ctx, &res))
	require.Len(t, res.PVCs, pvcs)
	for _, p := range res.PVCs {
		assert.Empty(t, p.Error, p.PVC)
	}
}

// requireSemaphoreEmpty: every permit went back, and nothing waits.
func requireSemaphoreEmpty(ctx context.Context, t *testing.T, tp *testenv.Temporal) {
	t.Helper()
	resp, err := tp.Client.QueryWorkflow(ctx, contract.ClusterSemaphoreID(contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}), "", contract.ProgressQuery)
	require.NoError(t, err)
	var state contract.SemaphoreState
	require.NoError(t, resp.Get(&state))
	assert.Empty(t, state.Holders, "permits still held after the runs")
	assert.Empty(t, state.Waiting, "requests still queued after the runs")
}

// A run holds the cluster's permits for its PVC syncs and passes each from
// a closed sync to the next: six syncs under a limit of two ask the
// semaphore for fewer permits than there are syncs, none asks on its own,
// never more than two transfer at once, and every permit goes back.
func TestRunPassesItsPermitsFromSyncToSync(t *testing.T) {
	tp := testenv.StartTemporal(t)
	s := startPermitScript(t, tp, map[string]int{"shop": 6}, 300*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	requireAllSynced(ctx, t, runReplication(ctx, t, tp, "shop"), 6)
	requireSemaphoreEmpty(ctx, t, tp)
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.False(t, s.askedByTheSync, "a PVC sync asked for its own permit")
	assert.LessOrEqual(t, s.most, 2, "more transfers at once than the cluster's limit")
	assert.Less(t, len(s.keys), 6, "the run asked for a permit per sync: %v", s.keys)
}

// A run passes a permit on only while its lease lasts: another run that
// asks while the first holds every permit gets one once a lease ends, long
// before the first run is done.
func TestAnotherRunGetsAPermitWhenALeaseEnds(t *testing.T) {
	workflows.ShortenPermitLease(t, 2*time.Second)
	tp := testenv.StartTemporal(t)
	s := startPermitScript(t, tp, map[string]int{"shop": 16, "blog": 2}, 500*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	shop := runReplication(ctx, t, tp, "shop")
	s.waitFor(t, func() bool { return !s.firstTransfer["shop"].IsZero() }, "the first run never moved data")
	blog := runReplication(ctx, t, tp, "blog")
	requireAllSynced(ctx, t, shop, 16)
	requireAllSynced(ctx, t, blog, 2)
	requireSemaphoreEmpty(ctx, t, tp)
	s.mu.Lock()
	defer s.mu.Unlock()
	assert.LessOrEqual(t, s.most, 2, "more transfers at once than the cluster's limit")
	assert.True(t, s.firstTransfer["blog"].Before(s.lastTransfer["shop"]),
		"the second run waited for the first to end: its first transfer began %s after the first run's last ended",
		s.firstTransfer["blog"].Sub(s.lastTransfer["shop"]))
}

// A cancelled run gives back every permit it held or asked for, once its
// syncs have cleaned up.
func TestCancelledRunGivesBackItsPermits(t *testing.T) {
	tp := testenv.StartTemporal(t)
	s := startPermitScript(t, tp, map[string]int{"shop": 6}, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := runReplication(ctx, t, tp, "shop")
	s.waitFor(t, func() bool { return s.running > 0 }, "the run never moved data")
	require.NoError(t, tp.Client.CancelWorkflow(ctx, run.GetID(), run.GetRunID()))
	require.Error(t, run.Get(ctx, nil), "the run was cancelled")
	requireSemaphoreEmpty(ctx, t, tp)
}
