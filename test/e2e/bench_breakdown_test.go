//go:build e2e && bench

package e2e

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"

	"github.com/dr-syncer/dr-syncer/contract"
)

// stepTimes are seconds per step name, one value per PVC sync (or per
// activity attempt that closed), gathered from workflow histories: the
// Temporal server's own timestamps, so the breakdown needs no extra
// instrumentation in the product.
type stepTimes map[string][]float64

func (s stepTimes) add(step string, d time.Duration) {
	if d >= 0 {
		s[step] = append(s[step], d.Seconds())
	}
}

// pvcSyncBreakdown adds one PVCSync run's steps to times:
//   - "activity scheduling": scheduled → started, summed over its activities;
//   - "api <Activity>": started → closed of each short Kubernetes step
//     (its API call group); a step run as a local activity
//     (2026-12-06-local-steps) from the end of the one before it in the
//     same workflow task (or the task's start) to its marker's time;
//   - "mount pod create→Ready": EnsureMountPod, which runs beside Transfer;
//   - "sync pod create→mover start" and "transfer (mover)": Transfer split by
//     the mover's own duration (which includes its wait for the mount pod);
//   - "cleanup (pre-run)" and "cleanup (incl. deletions)": the first and the
//     last Cleanup, the latter waits until the pods are gone;
//   - "semaphore wait": RequestPermit done → permit signal;
//   - "batch wait (join→assigned)": the join report sent → the run's
//     answer, and for a Transfer that follows a batch's mover "batch pods
//     start": its start → its mover's (a staged batch waits for its
//     release);
//   - "workflow tasks": the workflow's own decision time, summed, with
//     the local API steps it ran;
//   - "total": workflow start → close.
func pvcSyncBreakdown(events []*historypb.HistoryEvent, times stepTimes) {
	type activityRun struct {
		name               string
		scheduled, started time.Time
		followed           bool // a Transfer that follows a batch's mover
	}
	runs := map[int64]*activityRun{}
	var start, permitRequested, lastLocal, reported time.Time
	var wfTasks time.Duration
	wfTaskScheduled := map[int64]time.Time{}
	cleanups := 0
	var lastCleanup time.Duration
	for _, ev := range events {
		at := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			start = at
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
			wfTaskScheduled[ev.GetEventId()] = at
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
			lastLocal = at
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			var local struct {
				ActivityType string
				ReplayTime   time.Time
			}
			m := ev.GetMarkerRecordedEventAttributes()
			if m.GetMarkerName() == "LocalActivity" && converter.GetDefaultDataConverter().FromPayloads(m.GetDetails()["data"], &local) == nil {
				times.add("api "+local.ActivityType, local.ReplayTime.Sub(lastLocal))
				lastLocal = local.ReplayTime
			}
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			if s, ok := wfTaskScheduled[ev.GetWorkflowTaskCompletedEventAttributes().GetScheduledEventId()]; ok {
				wfTasks += at.Sub(s)
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			attrs := ev.GetActivityTaskScheduledEventAttributes()
			r := &activityRun{name: attrs.GetActivityType().GetName(), scheduled: at}
			var in contract.TransferInput
			if contract.IsTransfer(r.name) && converter.GetDefaultDataConverter().FromPayloads(attrs.GetInput(), &in) == nil {
				r.followed = in.Follow != nil
			}
			runs[ev.GetEventId()] = r
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
			if r := runs[ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId()]; r != nil {
				r.started = at
				times.add("activity scheduling", at.Sub(r.scheduled))
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			attrs := ev.GetActivityTaskCompletedEventAttributes()
			r := runs[attrs.GetScheduledEventId()]
			if r == nil || r.started.IsZero() {
				continue
			}
			ran := at.Sub(r.started)
			switch r.name {
			case contract.ActivityTransfer, contract.ActivityTransferBatchClaim:
				var res contract.TransferResult
				if converter.GetDefaultDataConverter().FromPayloads(attrs.GetResult(), &res) == nil && res.DurationSeconds > 0 {
					mover := time.Duration(res.DurationSeconds * float64(time.Second))
					if r.followed {
						times.add("batch pods start (Transfer start→mover start)", ran-mover)
					} else {
						times.add("sync pod create→mover start", ran-mover)
					}
					times.add("transfer (mover)", mover)
				} else {
					times.add("transfer (whole activity)", ran)
				}
			case "EnsureMountPod":
				times.add("mount pod create→Ready", ran)
			case "Cleanup":
				cleanups++
				if cleanups == 1 {
					times.add("cleanup (pre-run)", ran)
				}
				lastCleanup = ran
			case "RequestPermit":
				permitRequested = at
				times.add("api RequestPermit", ran)
			default:
				times.add("api "+r.name, ran)
			}
		case enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
			if ev.GetSignalExternalWorkflowExecutionInitiatedEventAttributes().GetSignalName() == contract.SignalPVCProgress {
				reported = at
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			switch ev.GetWorkflowExecutionSignaledEventAttributes().GetSignalName() {
			case contract.SignalPermit:
				if !permitRequested.IsZero() {
					times.add("semaphore wait", at.Sub(permitRequested))
				}
			case contract.SignalBatchAssigned:
				times.add("batch wait (join→assigned)", at.Sub(reported)) // the join is the last report before the answer
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
			enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
			times.add("total", at.Sub(start))
		}
	}
	if cleanups > 1 {
		times.add("cleanup (incl. deletions)", lastCleanup)
	}
	times.add("workflow tasks", wfTasks)
}

// replicationBreakdown adds, from the parent Replication run, how long it
// took to reach its first PVC sync (its objects, the PVC list), how long each
// PVC waited for one of its concurrentSyncs slots and, in a run that holds
// its syncs' permits (2026-12-07-run-permits), for a permit (run start →
// its child started), how long the child took to start once initiated, and
// how long each permit the run asked for took to come (asked → granted).
func replicationBreakdown(events []*historypb.HistoryEvent, times stepTimes) {
	var start time.Time
	first := false
	initiated := map[int64]time.Time{}
	asked := map[string]time.Time{}
	for _, ev := range events {
		at := ev.GetEventTime().AsTime()
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			start = at
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			attrs := ev.GetActivityTaskScheduledEventAttributes()
			var in contract.AcquireInput
			if attrs.GetActivityType().GetName() == "RequestPermits" && converter.GetDefaultDataConverter().FromPayloads(attrs.GetInput(), &in) == nil {
				for _, r := range in.Requests {
					if _, again := asked[r.WorkflowID]; !again {
						asked[r.WorkflowID] = at
					}
				}
			}
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			attrs := ev.GetWorkflowExecutionSignaledEventAttributes()
			var key string
			if attrs.GetSignalName() == contract.SignalPermit && converter.GetDefaultDataConverter().FromPayloads(attrs.GetInput(), &key) == nil {
				if t, ok := asked[key]; ok {
					times.add("run permit wait (asked→granted)", at.Sub(t))
					delete(asked, key)
				}
			}
		case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			initiated[ev.GetEventId()] = at
			if !pvcSync(ev.GetStartChildWorkflowExecutionInitiatedEventAttributes().GetWorkflowType()) {
				break // the run's objects child
			}
			if !first {
				first = true
				times.add("before PVC syncs (run start→first initiated)", at.Sub(start))
			}
			times.add("slot wait (run start→child initiated)", at.Sub(start))
		case enumspb.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED:
			if i, ok := initiated[ev.GetChildWorkflowExecutionStartedEventAttributes().GetInitiatedEventId()]; ok && pvcSync(ev.GetChildWorkflowExecutionStartedEventAttributes().GetWorkflowType()) {
				times.add("child start", at.Sub(i))
			}
		}
	}
}

// pvcSync says a child workflow is a PVC sync, not the run's objects child.
func pvcSync(t *commonpb.WorkflowType) bool { return t.GetName() == contract.PVCSyncName }

// percentile is the nearest-rank p-th percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// logBreakdown prints times as a table of median and p95 per step, in the
// sync's own order, then any other step.
func logBreakdown(title string, times stepTimes) {
	order := []string{
		"before PVC syncs (run start→first initiated)", "slot wait (run start→child initiated)", "run permit wait (asked→granted)", "child start", "cleanup (pre-run)", "api Discover", "api EnsureTargetPVC",
		"api PlanCopySource", "api ChooseNodes", "api EnsureCredentials", "api RequestPermit", "semaphore wait", "mount pod create→Ready",
		"batch wait (join→assigned)", "sync pod create→mover start", "batch pods start (Transfer start→mover start)", "transfer (mover)", "transfer (whole activity)", "api MarkSynced",
		"cleanup (incl. deletions)", "activity scheduling", "workflow tasks", "total",
	}
	seen := map[string]bool{}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%-40s %5s %9s %9s %9s\n", title, "step", "n", "median s", "p95 s", "sum s")
	row := func(step string) {
		v := append([]float64(nil), times[step]...)
		if len(v) == 0 || seen[step] {
			return
		}
		seen[step] = true
		sort.Float64s(v)
		sum := 0.0
		for _, x := range v {
			sum += x
		}
		fmt.Fprintf(&b, "%-40s %5d %9.3f %9.3f %9.1f\n", step, len(v), percentile(v, 50), percentile(v, 95), sum)
	}
	for _, step := range order {
		row(step)
	}
	var rest []string
	for step := range times {
		rest = append(rest, step)
	}
	sort.Strings(rest)
	for _, step := range rest {
		row(step)
	}
	// Printed, not logged: a benchmark's inner test logs only on failure.
	fmt.Print(b.String())
}
