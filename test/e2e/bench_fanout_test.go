//go:build e2e && bench

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"
	sdktally "go.temporal.io/sdk/contrib/tally"

	"github.com/dr-syncer/dr-syncer/starter"
)

// benchFanOut: n PVCs × mib MiB in a namespace of their own, replicated by
// one real Replication run at concurrentSyncs on an out-of-process worker,
// then run again with nothing changed (the no-change resync). While each
// run goes, a poller reads it as the controller does (starter.RunState
// every controllerPoll) and counts its Temporal calls.
func benchFanOut(t *testing.T, e *pvcSyncEnv, bin string, report reportFunc, name string, n, mib int, concurrentSyncs int32) {
	f := newFanOut(t, e, n, mib, concurrentSyncs)
	queue := fmt.Sprintf("drs-bench-%s-%06x", name, rand.IntN(1<<24))
	w := f.startWorker(t, bin, queue)
	what := fmt.Sprintf("%d × %d MiB, concurrentSyncs %d", n, mib, concurrentSyncs)

	stopPolls := pollLikeController(t, e, f.workflowID())
	res, elapsed, runErr, runID := f.run(t, queue, 30*time.Minute)
	polls := stopPolls()
	ok := f.checkResult(t, res, runErr)
	report(name+"_first_sync", elapsed.Seconds(), "s-"+name+"-first", "first sync, Replication run start → completed, "+what)
	report(name+"_controller_calls_per_poll", polls.perPoll(), "calls/poll-"+name,
		fmt.Sprintf("Temporal calls per RunState poll of the running run (%d polls; target ≤ 1)", polls.polls))
	report(name+"_progress_age_max", polls.maxAge.Seconds(), "s-progress-age-"+name, "oldest transfer progress a poll saw (target ≤ 5)")

	var counts []int
	sum := 0
	steps := stepTimes{}
	for _, id := range f.childIDs() {
		events := readHistory(t, e, id, "")
		pvcSyncBreakdown(events, steps)
		counts = append(counts, len(events))
		sum += len(events)
	}
	sort.Ints(counts)
	parent := readHistory(t, e, f.workflowID(), runID)
	replicationBreakdown(parent, steps)
	logBreakdown(fmt.Sprintf("%s: where the time of %s goes (per PVC)", name, what), steps)
	mean := float64(sum) / float64(len(counts))
	perPVC := mean + float64(len(parent))/float64(n)
	t.Logf("%s: %d/%d PVCs synced in %.1fs; history events per PVCSync min %d / mean %.1f / max %d; Replication workflow %d events",
		name, ok, n, elapsed.Seconds(), counts[0], mean, counts[len(counts)-1], len(parent))
	report(name+"_history_events_per_pvc", perPVC, "events/pvc-"+name, "PVCSync child's history + its share of the Replication's (target ≤ 200)")
	f.checkSample(t)
	f.assertNothingLeft(t)

	res, elapsed, runErr, _ = f.run(t, queue, 30*time.Minute)
	f.checkResult(t, res, runErr)
	report(name+"_resync", elapsed.Seconds(), "s-"+name+"-resync", "no-change resync, "+what)
	hwm := procStatusKiB(w.Process.Pid, "VmHWM")
	report(name+"_worker_peak_rss", float64(hwm)/1024, "MiB-worker-"+name, "out-of-process worker VmHWM after both runs")
	f.checkSample(t)
	f.assertNothingLeft(t)
}

// controllerPoll is how often the controller reads a running Replication.
const controllerPoll = 3 * time.Second

type pollStats struct {
	polls  int
	calls  int64
	maxAge time.Duration
}

func (p pollStats) perPoll() float64 {
	if p.polls == 0 {
		return 0
	}
	return float64(p.calls) / float64(p.polls)
}

// pollLikeController reads workflowID's latest run with starter.RunState,
// as the controller's reconcile does, until the returned stop is called;
// stop returns the polls, the Temporal calls they made (counted by the
// starter's own interceptor) and the oldest transfer progress one saw.
func pollLikeController(t *testing.T, e *pvcSyncEnv, workflowID string) (stop func() pollStats) {
	scope := tally.NewTestScope("", nil)
	s, err := starter.Connect(e.tp.Conn(), nil, sdktally.NewMetricsHandler(scope))
	if err != nil {
		t.Fatalf("connect the poller: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu    sync.Mutex
		stats pollStats
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(controllerPoll)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			st, err := s.RunState(ctx, workflowID, "")
			if err != nil || !st.Running() {
				continue // not started yet, or over: the controller's last read
			}
			mu.Lock()
			stats.polls++
			for _, p := range st.PVCs {
				if p.Transfer != nil && !p.UpdatedAt.IsZero() {
					stats.maxAge = max(stats.maxAge, time.Since(p.UpdatedAt))
				}
			}
			mu.Unlock()
		}
	}()
	return func() pollStats {
		cancel()
		<-done
		s.Client.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range scope.Snapshot().Counters() {
			if c.Name() == starter.MetricTemporalCalls {
				stats.calls += c.Value()
			}
		}
		return stats
	}
}
