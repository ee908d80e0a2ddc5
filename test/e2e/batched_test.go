//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// TestLabBatchedPods: three Replications of real PVCs run at once on one
// worker with shared pods (--batch-pods, the default), so the PVC syncs
// of each run share pod pairs.
//   - One run is cancelled once a batch sync pod of it runs. It must leave
//     no pod or Secret behind.
//   - One run is terminated (by hand, as an operator might) once a batch
//     sync pod of it runs, which leaves its batches behind, holding its
//     claims. Its next run must delete them, sync every PVC byte-identical
//     and leave nothing behind.
//   - One run's worker (its own) is killed with SIGKILL once a batch sync
//     pod of it runs, and another worker is started. The run must
//     complete, every PVC byte-identical through the batch's containers,
//     and leave nothing behind.
//   - The other run moves data slowly, so a batch of it must stage (its
//     pods start, held, while the batch before moves data) and be
//     released. It must sync every PVC byte-identical through batch
//     containers and leave nothing behind either.
func TestLabBatchedPods(t *testing.T) {
	t.Parallel() // beside the other PVC sync tests: see agentSlot
	e := setupPVCSync(t)
	bin := buildWorker(t)
	kept, cancelled, terminated := newFanOut(t, e, 6, 1, 3), newFanOut(t, e, 6, 1, 3), newFanOut(t, e, 4, 1, 4)
	killed := newFanOut(t, e, 4, 8, 4)
	queue := fmt.Sprintf("drs-batched-%06x", rand.IntN(1<<24))
	// The kept run moves its data at 256 KiB/s (4 s a PVC), so its later
	// syncs join while its first batch moves data, and a full batch of
	// them stages.
	kubectl(t, e.prod, "", "-n", kept.ctlNS, "patch", "replication", kept.rep.Name, "--type=merge",
		"-p", `{"spec":{"pvcConfig":{"dataSyncConfig":{"bandwidthLimit":256}}}}`)
	kept.startWorkerWith(t, bin, queue, sharedPods)

	cancelledErr := make(chan error, 1)
	go func() {
		_, _, err, _ := cancelled.run(t, queue, 15*time.Minute)
		cancelledErr <- err
	}()
	keptDone := make(chan struct{})
	go func() {
		defer close(keptDone)
		res, elapsed, err, _ := kept.run(t, queue, 15*time.Minute)
		ok := kept.checkResult(t, res, err)
		t.Logf("kept run: %d/%d PVCs synced in %.1fs", ok, kept.n, elapsed.Seconds())
	}()

	pod := waitBatchSyncPod(t, cancelled, 5*time.Minute)
	t.Logf("cancelling %s while its batch sync pod %s runs", cancelled.workflowID(), pod)
	if err := e.tp.Client.CancelWorkflow(context.Background(), cancelled.workflowID(), ""); err != nil {
		t.Fatalf("cancel %s: %v", cancelled.workflowID(), err)
	}
	var canceled *temporal.CanceledError
	if err := <-cancelledErr; !errors.As(err, &canceled) {
		t.Errorf("the cancelled run ended with %v, want Canceled", err)
	}
	cancelled.assertNothingLeft(t)

	// Started only now, so its batch sync pod is not done before the test
	// looks for it.
	terminatedErr := make(chan error, 1)
	go func() {
		_, _, err, _ := terminated.run(t, queue, 15*time.Minute)
		terminatedErr <- err
	}()
	leftBehindByTermination(t, terminated, terminatedErr)
	terminated.trigger = "fan-out-again"
	res, elapsed, err, _ := terminated.run(t, queue, 15*time.Minute)
	ok := terminated.checkResult(t, res, err)
	t.Logf("the terminated Replication's next run: %d/%d PVCs synced in %.1fs", ok, terminated.n, elapsed.Seconds())
	terminated.checkAll(t)
	terminated.assertNothingLeft(t)

	workerKilledMidBatch(t, killed, bin)

	<-keptDone
	kept.checkAll(t)
	if n := followedTransfers(t, kept); n < 2 {
		t.Errorf("%d of the kept run's PVC syncs followed a batch container; want at least 2 (one shared pod pair)", n)
	} else {
		t.Logf("%d of %d PVC syncs of the kept run followed a batch container", n, kept.n)
	}
	// A staged batch's pods started, held, while the batch before moved
	// data, and the run released them: its data is byte-identical (above).
	if n := activitiesOf(t, kept.e, kept.workflowID(), "ReleaseBatchPods"); n < 1 {
		t.Errorf("the kept run released no staged batch; want at least 1 (its later syncs joined while its first batch moved data for seconds)")
	} else {
		t.Logf("the kept run released %d staged batches", n)
	}
	kept.assertNothingLeft(t)
}

// sharedPods runs a worker on shared pods whatever DRSYNCER_BATCH_PODS
// the tests run with.
var sharedPods = workerProcess{BatchPods: "true"}

// workerKilledMidBatch runs f on a worker of its own, kills that worker
// with SIGKILL once a batch sync pod of f runs, and starts another on the
// same task queue: the lost activities are retried there, the retried
// Transfers follow the batch's containers again, and the run must sync
// every PVC byte-identical and leave nothing behind.
func workerKilledMidBatch(t *testing.T, f *fanOut, bin string) {
	t.Helper()
	queue := fmt.Sprintf("drs-batched-kill-%06x", rand.IntN(1<<24))
	first := f.startWorkerWith(t, bin, queue, sharedPods)
	type outcome struct {
		res contract.ReplicationResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, _, err, _ := f.run(t, queue, 15*time.Minute)
		done <- outcome{res, err}
	}()
	pod := waitBatchSyncPod(t, f, 5*time.Minute)
	if err := first.Process.Kill(); err != nil {
		t.Fatalf("kill the worker: %v", err)
	}
	_ = first.Wait()
	t.Logf("killed the worker of %s while its batch sync pod %s runs; starting another", f.workflowID(), pod)
	f.startWorkerWith(t, bin, queue, sharedPods)
	o := <-done
	ok := f.checkResult(t, o.res, o.err)
	t.Logf("the run whose worker was killed: %d/%d PVCs synced", ok, f.n)
	f.checkAll(t)
	if n := followedTransfers(t, f); n < 2 {
		t.Errorf("%d of the PVC syncs whose worker was killed followed a batch container; want at least 2", n)
	}
	f.assertNothingLeft(t)
}

// waitBatchSyncPod waits for a running sync pod of one mover for many
// claims in f's DR namespace: a batch's.
func waitBatchSyncPod(t *testing.T, f *fanOut, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		out, _ := tryKubectl(f.e.dr, "", "-n", f.dstNS, "get", "pods", "-o",
			`jsonpath={range .items[?(@.status.phase=="Running")]}{.metadata.name}{" "}{.spec.containers[*].name}{"\n"}{end}`)
		for _, line := range strings.Split(out, "\n") {
			if fields := strings.Fields(line); len(fields) == 2 && fields[1] == kube.BatchMoversContainer {
				return strings.Fields(line)[0]
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no batch sync pod ran in %s within %s", f.dstNS, timeout)
	return ""
}

// followedTransfers counts f's PVC syncs whose last Transfer followed a
// container of a batch sync pod (TransferInput.Follow), from their
// histories.
func followedTransfers(t *testing.T, f *fanOut) int {
	n := 0
	for _, id := range f.childIDs() {
		followed := false
		for _, ev := range readHistory(t, f.e, id, "") {
			a := ev.GetActivityTaskScheduledEventAttributes()
			if ev.GetEventType() != enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED || !contract.IsTransfer(a.GetActivityType().GetName()) {
				continue
			}
			followed = false
			for _, p := range a.GetInput().GetPayloads() {
				followed = followed || strings.Contains(string(p.GetData()), `"follow":`)
			}
		}
		if followed {
			n++
		}
	}
	return n
}

// leftBehindByTermination terminates f's run once a batch sync pod of it
// runs, waits until its PVC syncs have ended (the parent close policy
// cancels them, and each deletes its own pods), and fails t unless the
// batch's pods or Secrets are left: a terminated run deletes no batch.
func leftBehindByTermination(t *testing.T, f *fanOut, runErr <-chan error) {
	t.Helper()
	pod := waitBatchSyncPod(t, f, 5*time.Minute)
	t.Logf("terminating %s while its batch sync pod %s runs", f.workflowID(), pod)
	if err := f.e.tp.Client.TerminateWorkflow(context.Background(), f.workflowID(), "", "test: an operator terminates the run"); err != nil {
		t.Fatalf("terminate %s: %v", f.workflowID(), err)
	}
	var terminated *temporal.TerminatedError
	if err := <-runErr; !errors.As(err, &terminated) {
		t.Errorf("the terminated run ended with %v, want Terminated", err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for _, id := range f.childIDs() {
		for {
			desc, err := f.e.tp.Client.DescribeWorkflowExecution(context.Background(), id, "")
			if err != nil || desc.GetWorkflowExecutionInfo().GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("PVC sync %s still runs 3 minutes after its run was terminated", id)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	left := f.leftovers(t)
	if len(left) == 0 {
		t.Fatal("terminating the run mid-batch left nothing behind: the next run has nothing to clean up, and this test proves nothing")
	}
	t.Logf("the terminated run left %v", left)
}

// activitiesOf counts the activities of type name that workflow id's last
// run scheduled.
func activitiesOf(t *testing.T, e *pvcSyncEnv, id, name string) int {
	n := 0
	for _, ev := range readHistory(t, e, id, "") {
		if ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == name {
			n++
		}
	}
	return n
}
