//go:build e2e && bench

package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uber-go/tally/v4"
	sdktally "go.temporal.io/sdk/contrib/tally"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/telemetry/metricstest"
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
	metricsAddr := freeLocalAddr(t)
	w := f.startWorkerWith(t, bin, queue, workerProcess{MetricsAddr: metricsAddr})
	ctl, recorded := f.followWithController(t, buildCommand(t, "controller"))
	what := fmt.Sprintf("%d × %d MiB, concurrentSyncs %d", n, mib, concurrentSyncs)
	// The worker's own count of its Kubernetes API requests, read before and
	// after each run: an idle worker sends none (it watches nothing), so
	// each difference is the run's.
	var reqsStart map[string]float64
	pollUntil(t, 60*time.Second, "the worker's /metrics on "+metricsAddr, func() (bool, string) {
		var err error
		reqsStart, err = workerKubeRequests(metricsAddr)
		return err == nil, fmt.Sprint(err)
	})

	stopPolls := pollLikeController(t, e, f.workflowID())
	res, elapsed, runErr, runID := f.run(t, queue, 30*time.Minute)
	polls := stopPolls()
	reqsFirst := mustKubeRequests(t, metricsAddr)
	ok := f.checkResult(t, res, runErr)
	recorded(runID)
	report(name+"_first_sync", elapsed.Seconds(), "s-"+name+"-first", "first sync, Replication run start → completed, "+what)
	report(name+"_kube_requests_per_pvc", kubeRequestsPerPVC(t, name+" first sync", reqsStart, reqsFirst, n), "req/pvc-"+name,
		"worker's Kubernetes API requests (all clusters, all methods) in the first sync, per PVC")
	if len(polls.multi) > 0 {
		t.Logf("%s: polls of the open run that made more than one Temporal call: %v", name, polls.multi)
	}
	report(name+"_controller_calls_per_poll", polls.perPoll(), "calls/poll-"+name,
		fmt.Sprintf("Temporal calls per RunState poll of the running run (%d polls; target ≤ 1)", polls.polls))
	// The status the controller writes from a poll stands until the next
	// poll, so it lags the mover by the poll's age plus one poll interval.
	report(name+"_progress_age_max", (polls.maxAge + controllerPoll).Seconds(), "s-progress-age-"+name,
		fmt.Sprintf("status behind a moving transfer: oldest report a poll saw while the mover ran, plus one poll (%d samples; target ≤ 5)", polls.moving))

	perPVC := logRunBreakdown(t, e, f, runID, name+" first sync", what)
	t.Logf("%s: %d/%d PVCs synced in %.1fs", name, ok, n, elapsed.Seconds())
	report(name+"_history_events_per_pvc", perPVC, "events/pvc-"+name, "PVCSync child's history + its share of the Replication's (target ≤ 200)")
	f.checkSample(t)
	f.assertNothingLeft(t)

	res, elapsed, runErr, runID = f.run(t, queue, 30*time.Minute)
	reqsResync := mustKubeRequests(t, metricsAddr)
	f.checkResult(t, res, runErr)
	recorded(runID)
	report(name+"_resync", elapsed.Seconds(), "s-"+name+"-resync", "no-change resync, "+what)
	logRunBreakdown(t, e, f, runID, name+" resync", what)
	report(name+"_kube_requests_per_pvc_resync", kubeRequestsPerPVC(t, name+" resync", reqsFirst, reqsResync, n), "req/pvc-resync-"+name,
		"worker's Kubernetes API requests (all clusters, all methods) in the no-change resync, per PVC")
	hwm := procStatusKiB(w.Process.Pid, "VmHWM")
	report(name+"_worker_peak_rss", float64(hwm)/1024, "MiB-worker-"+name, "out-of-process worker VmHWM after both runs")
	report(name+"_controller_peak_rss", float64(procStatusKiB(ctl.Process.Pid, "VmHWM"))/1024, "MiB-controller-"+name,
		"out-of-process controller VmHWM after following both runs")
	f.checkSample(t)
	f.assertNothingLeft(t)
}

// logRunBreakdown prints, under run (the benchmark and which run), where
// the time of f's run runID went per PVC, from its history and its
// children's latest runs, with their sizes; it returns the history events
// per PVC: a PVCSync child's mean plus its share of the Replication's.
func logRunBreakdown(t *testing.T, e *pvcSyncEnv, f *fanOut, runID, run, what string) float64 {
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
	logBreakdown(fmt.Sprintf("%s: where the time of %s goes (per PVC)", run, what), steps)
	mean := float64(sum) / float64(len(counts))
	t.Logf("%s: history events per PVCSync min %d / mean %.1f / max %d; Replication workflow %d events",
		run, counts[0], mean, counts[len(counts)-1], len(parent))
	return mean + float64(len(parent))/float64(len(counts))
}

// controllerPoll is how often the controller reads a running Replication.
const controllerPoll = 3 * time.Second

type pollStats struct {
	polls int
	calls int64
	// maxAge is the oldest report of a transfer whose mover was moving
	// bytes, in moving samples. A transfer that waits for its pods or has
	// finished reports nothing new, and that silence is not lag.
	maxAge time.Duration
	moving int
	// multi counts the polls that made more than one call, by their calls.
	multi map[string]int
}

func (p pollStats) perPoll() float64 {
	if p.polls == 0 {
		return 0
	}
	return float64(p.calls) / float64(p.polls)
}

// pollLikeController reads workflowID's latest run with starter.RunState,
// as the controller's reconcile does, until the returned stop is called;
// stop returns the polls that found the run open, the Temporal calls they
// made (counted by the starter's own interceptor; the one poll that finds
// the run closed reads its outcome too, and is not one of them) and the
// oldest transfer progress one saw.
func pollLikeController(t *testing.T, e *pvcSyncEnv, workflowID string) (stop func() pollStats) {
	scope := tally.NewTestScope("", nil)
	s, err := starter.Connect(e.tp.Conn(), nil, sdktally.NewMetricsHandler(scope))
	if err != nil {
		t.Fatalf("connect the poller: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu    sync.Mutex
		stats = pollStats{multi: map[string]int{}}
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
			before := temporalCalls(scope)
			st, err := s.RunState(ctx, workflowID, "")
			if err != nil || !st.Running() {
				continue // not started yet, or over: the controller's last read
			}
			mu.Lock()
			stats.polls++
			made := callsSince(scope, before)
			if n := sumCalls(made); n > 1 {
				stats.multi[fmt.Sprint(made)]++
			}
			stats.calls += sumCalls(made)
			for _, p := range st.PVCs {
				if p.Transfer != nil && p.Transfer.Phase == contract.TransferTransferring && !p.UpdatedAt.IsZero() {
					stats.moving++
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
		return stats
	}
}

// temporalCalls are the Temporal calls the starter on scope made, by method.
func temporalCalls(scope tally.TestScope) map[string]int64 {
	out := map[string]int64{}
	for _, c := range scope.Snapshot().Counters() {
		if c.Name() == starter.MetricTemporalCalls {
			out[c.Tags()["method"]] += c.Value()
		}
	}
	return out
}

// callsSince are the calls made after before, by method.
func callsSince(scope tally.TestScope, before map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for m, n := range temporalCalls(scope) {
		if d := n - before[m]; d > 0 {
			out[m] = d
		}
	}
	return out
}

func sumCalls(byMethod map[string]int64) int64 {
	var n int64
	for _, v := range byMethod {
		n += v
	}
	return n
}

// freeLocalAddr is a local address nothing listens on now, for a process
// to serve on.
func freeLocalAddr(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	return lis.Addr().String()
}

// workerKubeRequests reads drsyncer_worker_kube_requests_total from the
// worker's /metrics at addr, by method.
func workerKubeRequests(addr string) (map[string]float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	families, err := metricstest.Parse(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	byMethod := map[string]float64{}
	for _, m := range families["drsyncer_worker_kube_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "method" {
				byMethod[l.GetValue()] = m.GetCounter().GetValue()
			}
		}
	}
	if len(byMethod) == 0 {
		return nil, errors.New("no drsyncer_worker_kube_requests_total series")
	}
	return byMethod, nil
}

func mustKubeRequests(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	byMethod, err := workerKubeRequests(addr)
	if err != nil {
		t.Fatalf("the worker's Kubernetes API requests: %v", err)
	}
	return byMethod
}

// kubeRequestsPerPVC is the requests sent from before to after over n
// PVCs; it logs them by method.
func kubeRequestsPerPVC(t *testing.T, what string, before, after map[string]float64, n int) float64 {
	var sum float64
	var methods []string
	for method, v := range after {
		sum += v - before[method]
		methods = append(methods, fmt.Sprintf("%s %.0f", method, v-before[method]))
	}
	sort.Strings(methods)
	t.Logf("%s: the worker sent %.0f Kubernetes API requests (%s) for %d PVCs", what, sum, strings.Join(methods, ", "), n)
	return sum / float64(n)
}
