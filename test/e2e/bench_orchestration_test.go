//go:build e2e && bench

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Run with:
//
//	go test -tags 'e2e bench' -run '^$' -bench Orchestration -benchtime 1x -timeout 75m ./test/e2e/
//
// BenchmarkOrchestration measures the orchestration in the lab, with the
// same real setup as TestPVCSync (setupPVCSync): overhead of one small PVC,
// kill cost of a worker killed at half of a 1 GiB transfer, a 50-PVC
// Replication fan-out with concurrentSyncs 5 on an out-of-process worker,
// what Snapshot and Clone copies and restore points add to a 1 GiB sync,
// and the RTO of a drill and of a planned failover of the demo app.
//
// The PVCSync helpers take a *testing.T; the benchmark runs its body as a
// test through testing.RunTests so they are reused unchanged, and reports
// what it measured with b.ReportMetric.
func BenchmarkOrchestration(b *testing.B) {
	var (
		mu      sync.Mutex
		metrics []benchMetric
	)
	report := func(name string, v float64, unit, what string) {
		mu.Lock()
		defer mu.Unlock()
		metrics = append(metrics, benchMetric{name, v, unit, what})
	}
	b.ResetTimer()
	ok := testing.RunTests(func(string, string) (bool, error) { return true, nil }, []testing.InternalTest{{
		Name: "BenchmarkOrchestration",
		F:    func(t *testing.T) { runOrchestrationBench(t, report) },
	}})
	b.StopTimer()
	fmt.Printf("\n%-28s %14s  %-10s %s\n", "metric", "value", "unit", "what")
	for _, m := range metrics {
		fmt.Printf("%-28s %14.3f  %-10s %s\n", m.name, m.value, m.unit, m.what)
		b.ReportMetric(m.value, m.unit)
	}
	if !ok {
		b.Fatal("the lab benchmark failed; see above")
	}
}

type benchMetric struct {
	name  string
	value float64
	unit  string
	what  string
}

type reportFunc func(name string, v float64, unit, what string)

func runOrchestrationBench(t *testing.T, report reportFunc) {
	// DRS_BENCH_ONLY=overhead,kill,scale,scale200,copy,recovery runs some parts only (default all).
	only := os.Getenv("DRS_BENCH_ONLY")
	part := func(name string) bool { return only == "" || slices.Contains(strings.Split(only, ","), name) }
	if part("recovery") {
		// First: it deploys dr-syncer into dr and removes it, CRDs included.
		t.Run("Recovery", func(t *testing.T) { benchRecovery(t, report) })
	}
	if !part("overhead") && !part("kill") && !part("scale") && !part("scale200") && !part("copy") {
		return
	}
	e := setupPVCSync(t)
	bin := buildWorker(t)
	if part("overhead") {
		t.Run("Overhead", func(t *testing.T) { benchOverhead(t, e, report) })
	}
	if part("kill") {
		t.Run("KillCost", func(t *testing.T) { benchKillCost(t, e, bin, report) })
	}
	if part("scale") {
		t.Run("Scale", func(t *testing.T) { benchFanOut(t, e, bin, report, "scale50", 50, 10, 5) })
	}
	if part("scale200") {
		t.Run("Scale200", func(t *testing.T) { benchFanOut(t, e, bin, report, "scale200", 200, 1, 20) })
	}
	if part("copy") {
		t.Run("CopyMethods", func(t *testing.T) { benchCopyMethods(t, e, report) })
	}
}

// benchOverhead: one PVC of a few KiB, unmounted, synced alone by the
// in-process worker. "First byte moved" is the mover's first progress line
// with bytesDone > 0 in the sync pod's log; a transfer this small usually
// ends before the mover's first progress line (after ~1 s), and then the
// mover's summary, written once every byte moved, is taken instead.
func benchOverhead(t *testing.T, e *pvcSyncEnv, report reportFunc) {
	const name = "tiny"
	e.fillPVC(t, e.srcNS, name, `mkdir -p /data/d && for i in 1 2 3 4; do head -c 1024 /dev/urandom > /data/d/f$i; done`)
	want := e.sourceChecksums(t, "fill-"+name, "/data")
	kubectl(t, e.prod, "", "-n", e.srcNS, "delete", "pod", "fill-"+name, "--wait=true", "--timeout=60s")

	run, res, m := syncFollowingMover(t, e, name)
	e.reportOverhead(t, run, m)
	start, transferStarted, end, events := historyTimes(t, e, run.GetID(), run.GetRunID())
	steps := stepTimes{}
	pvcSyncBreakdown(readHistory(t, e, run.GetID(), run.GetRunID()), steps)
	logBreakdown("overhead: where the time of one small PVC goes", steps)

	first, how := m.firstByte, "first progress line with bytesDone>0"
	if first.IsZero() {
		// The mover's start is too early a bound: it may still wait for
		// the mount pod. All bytes moved by its summary, so that is late enough.
		first, how = m.end, "mover summary, all bytes moved (transfer done before its first progress line; an upper bound)"
	}
	if first.IsZero() {
		t.Fatalf("no mover progress or summary seen in the sync pod's log")
	}
	overhead := first.Sub(start).Seconds()
	t.Logf("overhead: workflow start → %s = %.2fs (target ≤ 3s); → Transfer started %.2fs; → mover done %.2fs; → workflow done %.2fs; %d bytes, %d events",
		how, overhead, transferStarted.Sub(start).Seconds(), m.end.Sub(start).Seconds(), end.Sub(start).Seconds(),
		res.Transfer.Stats.TotalTransferredFileSize, events)
	report("overhead_first_byte", overhead, "s-to-first-byte", "workflow start → "+how+" (target ≤ 3)")
	report("overhead_workflow_total", end.Sub(start).Seconds(), "s-small-pvc-total", "workflow start → workflow completed, 4 KiB PVC")
	if got := e.drChecksums(t, name); got != want {
		t.Errorf("tiny: DR copy differs\nsource:\n%s\ndr:\n%s", want, got)
	}
	e.assertNothingLeft(t)
	benchOverheadResync(t, e, name, report)
}

// benchOverheadResync syncs the small PVC again, as every later interval
// does: its DR claim is bound now, so the sync pod waits for no
// provisioning. Nothing changed, so no byte moves; the mover's start and
// end bound when data would.
func benchOverheadResync(t *testing.T, e *pvcSyncEnv, name string, report reportFunc) {
	run, _, m := syncFollowingMover(t, e, name)
	start, _, end, _ := historyTimes(t, e, run.GetID(), run.GetRunID())
	if m.start.IsZero() || m.end.IsZero() {
		t.Fatalf("resync: the mover's start or summary was not seen in the sync pod's log")
	}
	t.Logf("overhead resync: workflow start → mover started %.2fs, → mover done %.2fs, → workflow done %.2fs",
		m.start.Sub(start).Seconds(), m.end.Sub(start).Seconds(), end.Sub(start).Seconds())
	report("overhead_resync_mover_start", m.start.Sub(start).Seconds(), "s-resync-to-mover", "resync of the small PVC: workflow start → mover started")
	report("overhead_resync_total", end.Sub(start).Seconds(), "s-small-pvc-resync", "resync of the small PVC: workflow start → workflow completed")
	e.assertNothingLeft(t)
}

// syncFollowingMover syncs name on the in-process worker, and times its
// mover from the sync pod's log meanwhile.
func syncFollowingMover(t *testing.T, e *pvcSyncEnv, name string) (client.WorkflowRun, contract.PVCSyncResult, moverTimes) {
	t.Helper()
	run := e.startSync(t, name, e.input(name, rsyncargs.Config{}), e.tp.TaskQueue)
	watch, stop := context.WithTimeout(context.Background(), 2*time.Minute)
	defer stop()
	mover := make(chan moverTimes, 1)
	go func() { mover <- e.followMoverTimes(watch, run.GetID()) }()
	res := e.waitSync(t, run)
	return run, res, <-mover
}

// benchKillCost: 1 GiB in 8 files, bandwidth-limited to ~25 MiB/s; the
// out-of-process worker is killed with SIGKILL when the mover reports half
// of it done, a new worker is started, and the sync finishes. Re-sent bytes
// are the bytes every mover run moved (the last progress line or summary
// of each distinct sync pod / container run) minus 1 GiB.
func benchKillCost(t *testing.T, e *pvcSyncEnv, bin string, report reportFunc) {
	const (
		name  = "big-kill-1g"
		total = int64(1 << 30)
	)
	queue := fmt.Sprintf("drs-bench-kill-%06x", rand.IntN(1<<24))
	want := e.fillBig(t, name, 1024)
	w := e.startWorkerProcess(t, bin, queue)
	run := e.startSync(t, name, e.input(name, rsyncargs.Config{BandwidthLimitKiB: 25 << 10}), queue)

	watch, stop := context.WithTimeout(context.Background(), 4*time.Minute)
	defer stop()
	runs := newMoverRuns()
	go runs.follow(watch, e, run.GetID())
	began := time.Now()
	for runs.maxDone() < total/2 {
		if time.Since(began) > 3*time.Minute {
			t.Fatalf("mover did not reach half of 1 GiB in 3 minutes (at %d bytes)", runs.maxDone())
		}
		time.Sleep(200 * time.Millisecond)
	}
	atKill := runs.maxDone()
	if err := w.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 worker: %v", err)
	}
	_ = w.Wait()
	killed := time.Now()
	t.Logf("worker killed at %d bytes (%.1f%%) reported by the mover, %.1fs after the start", atKill, 100*float64(atKill)/float64(total), killed.Sub(began).Seconds())
	e.startWorkerProcess(t, bin, queue)
	res := e.waitSync(t, run)
	done := time.Now()
	stop()
	runs.wait()
	if !runs.end.IsZero() {
		t.Logf("kill cost: mover finished %.1fs after the kill; workflow completed %.1fs after the mover finished",
			runs.end.Sub(killed).Seconds(), done.Sub(runs.end).Seconds())
		report("kill_tail_after_mover", done.Sub(runs.end).Seconds(), "s-after-mover-done", "mover summary → workflow completed, with the killed worker's attempt pending")
	}

	moved := runs.totalMoved()
	if moved < res.Transfer.Stats.TotalTransferredFileSize {
		moved = res.Transfer.Stats.TotalTransferredFileSize
	}
	resent := max(moved-total, 0)
	t.Logf("kill cost: %d mover run(s) %v; result: transferred %d of %d bytes (literal %d, wire received %d) in %.1fs, resumedFromBytes %d (heartbeat of the killed attempt); total %.1fs",
		len(runs.keys()), runs.keys(), res.Transfer.Stats.TotalTransferredFileSize, res.Transfer.Stats.TotalFileSize,
		res.Transfer.Stats.LiteralData, res.Transfer.Stats.BytesReceived, res.Transfer.DurationSeconds,
		res.Transfer.ResumedFromBytes, time.Since(began).Seconds())
	report("kill_resent_fraction", float64(resent)/float64(total), "resent-frac-of-1GiB", fmt.Sprintf("(Σ bytes moved by %d mover run(s) − 1 GiB)/1 GiB, kill at %.0f%% (target ≤ 0.10)", len(runs.keys()), 100*float64(atKill)/float64(total)))
	report("kill_mover_runs", float64(len(runs.keys())), "mover-runs", "distinct sync pod/container runs (1 = the transfer never restarted)")
	report("kill_total_time", time.Since(began).Seconds(), "s-kill-total", "1 GiB sync with a worker kill, start → workflow done")
	if got := e.drChecksums(t, name); got != want {
		t.Errorf("%s: DR copy differs after a worker kill", name)
	} else {
		t.Logf("kill cost: checksums of the 1 GiB DR copy match the source")
	}
	e.assertNothingLeft(t)
	// Free the 2 GiB now rather than at the end.
	kubectl(t, e.dr, "", "-n", e.dstNS, "delete", "pvc", name, "--wait=false")
	kubectl(t, e.prod, "", "-n", e.srcNS, "delete", "pvc", name, "--wait=false")
}

// historyTimes reads a workflow's history: its start, its Transfer
// activity's start (zero if none), its close, and its number of events.
func historyTimes(t *testing.T, e *pvcSyncEnv, id, runID string) (start, transferStarted, end time.Time, events int) {
	t.Helper()
	it := e.tp.Client.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	transferScheduled := int64(-1)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		events++
		at := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			start = at
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if contract.IsTransfer(ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName()) {
				transferScheduled = ev.GetEventId()
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId() == transferScheduled && transferStarted.IsZero() {
				transferStarted = at
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
			end = at
		}
	}
	return start, transferStarted, end, events
}

// procStatusKiB reads a "<field>: N kB" line of /proc/<pid>/status.
func procStatusKiB(pid int, field string) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return -1
}

// moverRuns follows an operation's sync pods and records, per distinct
// mover run (pod UID and container restart count), the most bytes its log
// said were done: the last progress line, or its summary's transferred size.
type moverRuns struct {
	mu   sync.Mutex
	done map[string]int64
	end  time.Time // the last mover summary's time
	stop chan struct{}
}

func newMoverRuns() *moverRuns {
	return &moverRuns{done: map[string]int64{}, stop: make(chan struct{})}
}

func (r *moverRuns) follow(ctx context.Context, e *pvcSyncEnv, workflowID string) {
	defer close(r.stop)
	selector := kube.LabelOperation + "=" + kube.OperationID(workflowID) + "," + kube.LabelRole + "=sync"
	for {
		pods, err := e.drCS.CoreV1().Pods(e.dstNS).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err == nil {
			for _, p := range pods.Items {
				restarts := int32(0)
				for _, c := range p.Status.ContainerStatuses {
					if c.Name == "mover" {
						restarts = c.RestartCount
					}
				}
				raw, err := e.drCS.CoreV1().Pods(e.dstNS).GetLogs(p.Name, &corev1.PodLogOptions{Container: "mover"}).DoRaw(ctx)
				if err != nil {
					continue
				}
				var best int64
				for _, line := range strings.Split(string(raw), "\n") {
					var ev progress.Event
					if json.Unmarshal([]byte(line), &ev) != nil {
						continue
					}
					if ev.Progress != nil && ev.Progress.BytesDone > best {
						best = ev.Progress.BytesDone
					}
					if ev.Summary != nil {
						best = max(best, ev.Summary.Stats.TotalTransferredFileSize)
						r.mu.Lock()
						r.end = ev.Time
						r.mu.Unlock()
					}
				}
				key := fmt.Sprintf("%s/%s#%d", p.Name, string(p.UID)[:8], restarts)
				r.mu.Lock()
				if _, seen := r.done[key]; !seen || best > r.done[key] {
					r.done[key] = best
				}
				r.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (r *moverRuns) wait() { <-r.stop }

func (r *moverRuns) maxDone() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var m int64
	for _, v := range r.done {
		m = max(m, v)
	}
	return m
}

func (r *moverRuns) totalMoved() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s int64
	for _, v := range r.done {
		s += v
	}
	return s
}

func (r *moverRuns) keys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ks []string
	for k, v := range r.done {
		ks = append(ks, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(ks)
	return ks
}
