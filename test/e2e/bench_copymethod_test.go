//go:build e2e && bench

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// benchCopyMethods: a 1 GiB csi-hostpath PVC, first copied Direct, then
// synced again unchanged with Direct, Snapshot and Clone: the extra
// seconds a point-in-time copy adds to a sync, step by step from the
// workflow's history; then the time to take and prune a DR restore point.
func benchCopyMethods(t *testing.T, e *pvcSyncEnv, report reportFunc) {
	const name = "gib"
	e.csiPVC(t, name, name, "sleep infinity")
	e.exec(t, e.prod, e.srcNS, name, `set -e; mkdir -p /data/part; for i in $(seq 1 8); do head -c 134217728 /dev/urandom > /data/part/$i; done`)
	input := func(p contract.PointInTime) contract.PVCSyncInput {
		in := e.input(name, rsyncargs.Config{})
		in.StorageClassMappings = map[string]string{csiClass: csiClass}
		in.PointInTime = p
		return in
	}
	sync := func(p contract.PointInTime) (time.Duration, map[string]time.Duration) {
		run := e.startSync(t, name, input(p), e.tp.TaskQueue)
		e.waitSync(t, run)
		start, _, end, _ := historyTimes(t, e, run.GetID(), run.GetRunID())
		return end.Sub(start), activityTimes(t, e, run.GetID(), run.GetRunID())
	}
	first, _ := sync(contract.PointInTime{CopyMethod: contract.CopyDirect})
	report("copy_1gib_first_direct", first.Seconds(), "s-first-1GiB", "first sync of 1 GiB, Direct")
	direct, _ := sync(contract.PointInTime{CopyMethod: contract.CopyDirect})
	report("copy_1gib_resync_direct", direct.Seconds(), "s-resync-direct", "unchanged 1 GiB resynced, Direct")
	for _, method := range []contract.CopyMethod{contract.CopySnapshot, contract.CopyClone} {
		took, steps := sync(contract.PointInTime{CopyMethod: method})
		extra := took - direct
		t.Logf("%s: %.1fs vs Direct %.1fs (+%.1fs); steps %v", method, took.Seconds(), direct.Seconds(), extra.Seconds(), steps)
		report("copy_1gib_extra_"+string(method), extra.Seconds(), "s-extra-"+string(method),
			fmt.Sprintf("unchanged 1 GiB resynced with %s, minus Direct (snapshot %.1fs, ready %.1fs, temporary PVC %.1fs)", method,
				steps["SnapshotSource"].Seconds(), steps["WaitSnapshotReady"].Seconds(), steps["CreateTemporaryPVC"].Seconds()))
	}
	keep1 := contract.PointInTime{CopyMethod: contract.CopyDirect, RestorePoints: contract.RestorePoints{Keep: 1}}
	sync(keep1) // the first restore point: nothing to prune yet
	_, steps := sync(keep1)
	report("restore_point_take_1gib", steps["TakeRestorePoint"].Seconds(), "s-take-rp", "snapshot of the 1 GiB DR PVC until ready to use")
	report("restore_point_prune", steps["PruneRestorePoints"].Seconds(), "s-prune-rp", "delete the older restore point (keep 1)")
	e.assertNothingLeft(t)
}

// activityTimes sums, per activity type, the time from scheduled to
// completed in a workflow's history.
func activityTimes(t *testing.T, e *pvcSyncEnv, id, runID string) map[string]time.Duration {
	t.Helper()
	it := e.tp.Client.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	type scheduled struct {
		name string
		at   time.Time
	}
	pending := map[int64]scheduled{}
	out := map[string]time.Duration{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("history of %s: %v", id, err)
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			pending[ev.GetEventId()] = scheduled{ev.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName(), ev.GetEventTime().AsTime()}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			s := pending[ev.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]
			out[s.name] += ev.GetEventTime().AsTime().Sub(s.at)
		}
	}
	return out
}
