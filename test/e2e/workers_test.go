//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/test/lab"
	"github.com/dr-syncer/dr-syncer/test/timeline"
)

// TestLabHundredSyncsTwoWorkersLimitOfThree: one Replication of 100 real
// PVCs (concurrentSyncs 20) runs on two worker processes polling one task
// queue, while its source RemoteCluster allows 3 PVC syncs at once
// (globalConcurrencyLimit). Releases of syncs the cluster semaphore never
// knew push it past its per-run signal budget, so it continues as new
// while the run holds permits for its syncs. (A run asks only for the
// permits the semaphore could grant, so it seldom waits at the semaphore;
// TestHundredSyncsShareALimitOfThreeAcrossContinueAsNew, on the dev
// server, carries holders and waiters across continue-as-new.) Every PVC must arrive
// byte-identical, never more than three transfers may overlap, and both
// workers must have run some of the run's activities (Temporal hands each
// activity to whichever worker polls first: that is how a user scales out).
func TestLabHundredSyncsTwoWorkersLimitOfThree(t *testing.T) {
	t.Parallel() // beside the other PVC sync tests: see agentSlot
	e := setupPVCSync(t)
	bin := buildWorker(t)
	const n, limit = 100, 3
	f := newFanOut(t, e, n, 1, 20)
	kubectl(t, e.prod, "", "-n", f.ctlNS, "patch", "remotecluster", lab.Prod, "--type=merge",
		"-p", fmt.Sprintf(`{"spec":{"pvcSync":{"globalConcurrencyLimit":%d}}}`, limit))
	if got := kubectl(t, e.prod, "", "-n", f.ctlNS, "get", "remotecluster", lab.Prod, "-o", "jsonpath={.spec.pvcSync.globalConcurrencyLimit}"); got != strconv.Itoa(limit) {
		t.Fatalf("the RemoteCluster's globalConcurrencyLimit is %q after the patch, want %d", got, limit)
	}
	queue := fmt.Sprintf("drs-contention-%06x", rand.IntN(1<<24))
	workers := map[string]int{}
	for range 2 {
		w := f.startWorker(t, bin, queue)
		workers[strconv.Itoa(w.Process.Pid)+"@"] = 0
	}
	semaphore := contract.ClusterSemaphoreID(contract.ClusterRef{Namespace: f.ctlNS, Name: lab.Prod})
	// The run's own acquires and releases are few: the noise alone passes
	// the budget of 500 signals.
	watch := watchSemaphore(e, semaphore, 600)
	res, elapsed, runErr, _ := f.run(t, queue, 25*time.Minute)
	seen := watch()
	ok := f.checkResult(t, res, runErr)
	t.Logf("%d/%d PVCs synced in %.1fs; semaphore: %d runs seen, at most %d holders, %d noise signals",
		ok, n, elapsed.Seconds(), len(seen.runs), seen.mostHolders, seen.noise)

	if seen.mostHolders > limit {
		t.Errorf("the semaphore granted %d permits at once; the limit is %d", seen.mostHolders, limit)
	}
	most := mostTransfersAtOnce(t, f)
	t.Logf("at most %d Transfers ran at once", most)
	if most > limit || most < 2 {
		t.Errorf("at most %d Transfers ran at once; want 2..%d (the limit used, never passed)", most, limit)
	}
	carried := carriedSemaphoreStates(t, e, semaphore)
	busy := false
	for _, s := range carried {
		busy = busy || len(s.Holders) > 0
	}
	if !busy {
		t.Errorf("the semaphore never continued as new with permits held (%d continue-as-new: %+v)", len(carried), carried)
	}
	assertWorkersShared(t, f, workers)
	f.checkAll(t)
	f.assertNothingLeft(t)
}

type semaphoreSeen struct {
	runs        map[string]bool
	mostHolders int
	noise       int
}

// watchSemaphore reads the semaphore's state every 200 ms and sends it up
// to noise releases of workflows it never knew (they change nothing but
// count against its budget of signals per run). The returned stop ends
// both and says what was seen.
func watchSemaphore(e *pvcSyncEnv, id string, noise int) (stop func() semaphoreSeen) {
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu   sync.Mutex
		seen = semaphoreSeen{runs: map[string]bool{}}
		wg   sync.WaitGroup
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			time.Sleep(200 * time.Millisecond)
			resp, err := e.tp.Client.QueryWorkflow(ctx, id, "", contract.ProgressQuery)
			var state contract.SemaphoreState
			if err != nil || resp.Get(&state) != nil {
				continue // not started yet, or between runs
			}
			desc, err := e.tp.Client.DescribeWorkflowExecution(ctx, id, "")
			mu.Lock()
			seen.mostHolders = max(seen.mostHolders, len(state.Holders))
			if err == nil {
				seen.runs[desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()] = true
			}
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		for sent := 0; sent < noise && ctx.Err() == nil; {
			if err := e.tp.Client.SignalWorkflow(ctx, id, "", contract.SignalRelease, fmt.Sprintf("gone-%d", sent)); err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			sent++
			mu.Lock()
			seen.noise = sent
			mu.Unlock()
			time.Sleep(20 * time.Millisecond) // spread over the run, not all before the first grant
		}
	}()
	return func() semaphoreSeen {
		cancel()
		wg.Wait()
		return seen
	}
}

// carriedSemaphoreStates walks the semaphore's runs back from the current
// one and returns the state each earlier run carried into continue-as-new.
func carriedSemaphoreStates(t *testing.T, e *pvcSyncEnv, id string) []contract.SemaphoreState {
	t.Helper()
	var states []contract.SemaphoreState
	desc, err := e.tp.Client.DescribeWorkflowExecution(context.Background(), id, "")
	if err != nil {
		t.Fatalf("describe the semaphore %s: %v", id, err)
	}
	runID := desc.GetWorkflowExecutionInfo().GetExecution().GetRunId()
	for runID != "" {
		events := readHistory(t, e, id, runID)
		if last := events[len(events)-1]; last.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW {
			var s contract.SemaphoreState
			if err := converter.GetDefaultDataConverter().FromPayloads(last.GetWorkflowExecutionContinuedAsNewEventAttributes().GetInput(), &s); err != nil {
				t.Fatalf("decode the state %s/%s carried: %v", id, runID, err)
			}
			states = append(states, s)
		}
		runID = events[0].GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
	}
	return states
}

// mostTransfersAtOnce is the largest number of the run's Transfer
// activities running at one moment, from their children's histories.
func mostTransfersAtOnce(t *testing.T, f *fanOut) int {
	var ran []timeline.Interval
	for _, id := range f.childIDs() {
		started := map[int64]time.Time{}
		for _, ev := range readHistory(t, f.e, id, "") {
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
				if contract.IsTransfer(ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()) {
					started[ev.GetEventId()] = time.Time{}
				}
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
				scheduled := ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId()
				if _, ok := started[scheduled]; ok {
					started[scheduled] = ev.GetEventTime().AsTime()
				}
			case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED, enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT, enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
				if at, ok := started[activityScheduledID(ev)]; ok && !at.IsZero() {
					ran = append(ran, timeline.Interval{Start: at, End: ev.GetEventTime().AsTime()})
				}
			}
		}
	}
	return timeline.MostAtOnce(ran)
}

// assertWorkersShared fails t unless every one of workers (by "pid@"
// identity prefix) ran some of the run's activities, read from the
// history's started events, and no other worker ran any.
func assertWorkersShared(t *testing.T, f *fanOut, workers map[string]int) {
	others := map[string]int{}
	for _, id := range f.childIDs() {
		for _, ev := range readHistory(t, f.e, id, "") {
			if ev.GetEventType() != enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED {
				continue
			}
			identity := ev.GetActivityTaskStartedEventAttributes().GetIdentity()
			counted := false
			for prefix := range workers {
				if strings.HasPrefix(identity, prefix) {
					workers[prefix]++
					counted = true
				}
			}
			if !counted {
				others[identity]++
			}
		}
	}
	var shares []string
	for prefix, count := range workers {
		shares = append(shares, fmt.Sprintf("%s%d", prefix, count))
	}
	sort.Strings(shares)
	t.Logf("activities run per worker (pid@: count): %v", shares)
	for prefix, count := range workers {
		if count == 0 {
			t.Errorf("worker %s ran none of the run's activities; the load was not shared (per worker: %v)", prefix, shares)
		}
	}
	if len(others) > 0 {
		t.Errorf("activities ran on workers the test did not start: %v", others)
	}
}

// activityScheduledID is the scheduled event ID an activity's closing event
// refers to.
func activityScheduledID(ev *historypb.HistoryEvent) int64 {
	switch ev.GetEventType() {
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
		return ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_FAILED:
		return ev.GetActivityTaskFailedEventAttributes().GetScheduledEventId()
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
		return ev.GetActivityTaskTimedOutEventAttributes().GetScheduledEventId()
	case enumspb.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
		return ev.GetActivityTaskCanceledEventAttributes().GetScheduledEventId()
	}
	return 0
}
