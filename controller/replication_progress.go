package controller

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

// Event reasons of one PVC's data sync within a run.
const (
	EventPVCSyncStarted   = "PVCSyncStarted"
	EventPVCSyncCompleted = "PVCSyncCompleted"
	EventPVCSyncFailed    = "PVCSyncFailed"
)

// progressOf turns the run's progress query answer and its PVC syncs'
// heartbeats into the status's progress.
func progressOf(run *starter.RunState) *drv1.SyncProgress {
	sp := &drv1.SyncProgress{CurrentOperation: "Starting"}
	if pr := run.Progress; pr != nil {
		sp.PercentComplete = int32(pr.Percent)
		sp.PVCsDone, sp.PVCsTotal = int32(pr.PVCsDone), int32(pr.PVCsTotal)
		sp.CurrentOperation = pr.Phase
	}
	var pvcs []string
	for _, pvc := range run.PVCs {
		desc := pvc.PVC
		if pvc.Phase != "" {
			desc += " " + pvc.Phase
		}
		if tr := pvc.Transfer; tr != nil {
			sp.BytesTransferred += tr.BytesDone
			sp.BytesTotal += tr.BytesTotal
			desc += fmt.Sprintf(" %.0f%%", tr.Percent)
		}
		pvcs = append(pvcs, desc)
	}
	sp.Summary = sp.CurrentOperation
	if len(pvcs) > 0 {
		sp.CurrentOperation += ": " + strings.Join(pvcs, ", ")
	}
	// Finished PVCs count whole, running transfers by their own percent, so a
	// run with one large PVC does not sit at 0% until it is done.
	if sp.PVCsTotal > 0 {
		done := float64(sp.PVCsDone)
		for _, pvc := range run.PVCs {
			if tr := pvc.Transfer; tr != nil {
				done += tr.Percent / 100
			}
		}
		sp.PercentComplete = int32(min(100, 100*done/float64(sp.PVCsTotal)))
		sp.Summary = fmt.Sprintf("%d/%d PVCs, %d%%", sp.PVCsDone, sp.PVCsTotal, sp.PercentComplete)
	}
	return sp
}

// pvcSyncNews folds what a run says of its PVC syncs (those running now,
// those that ended) into the states the status already holds (prev), and
// returns the new states with one Event per change not reported before.
// The states live in the status, so a later poll, or a restarted
// controller, reports nothing twice; a sync first seen ended (it started and
// ended between two polls) gets its Started event too.
func pvcSyncNews(prev []drv1.PVCSyncState, running []string, ended []contract.PVCEnded, runID string) ([]drv1.PVCSyncState, []replicationEvent) {
	states := append([]drv1.PVCSyncState(nil), prev...)
	at := make(map[string]int, len(states))
	for i, s := range states {
		at[s.Name] = i
	}
	var events []replicationEvent
	seen := func(pvc string) int {
		if i, ok := at[pvc]; ok {
			return i
		}
		events = append(events, replicationEvent{corev1.EventTypeNormal, EventPVCSyncStarted,
			fmt.Sprintf("PVC %s: data sync started (run %s)", pvc, runID)})
		at[pvc] = len(states)
		states = append(states, drv1.PVCSyncState{Name: pvc, State: drv1.PVCSyncRunning})
		return at[pvc]
	}
	for _, pvc := range running {
		seen(pvc)
	}
	for _, e := range ended {
		i := seen(e.PVC)
		if states[i].State != drv1.PVCSyncRunning {
			continue
		}
		if e.Error == "" {
			states[i].State = drv1.PVCSyncCompleted
			events = append(events, replicationEvent{corev1.EventTypeNormal, EventPVCSyncCompleted, completedMessage(e)})
			continue
		}
		states[i].State = drv1.PVCSyncFailed
		events = append(events, replicationEvent{corev1.EventTypeWarning, EventPVCSyncFailed, failedMessage(e)})
	}
	return states, events
}

// runPVCNews is pvcSyncNews for an open run, from its progress answer.
// Without an answer (no worker took the query) nothing is news.
func runPVCNews(prev []drv1.PVCSyncState, run *starter.RunState) ([]drv1.PVCSyncState, []replicationEvent) {
	if run.Progress == nil {
		return prev, nil
	}
	running := make([]string, 0, len(run.PVCs))
	for _, p := range run.PVCs {
		running = append(running, p.PVC)
	}
	return pvcSyncNews(prev, running, run.Progress.Ended, run.WorkflowID)
}

// closedRunPVCEvents are the Events of a closed run's PVC syncs that its
// polls did not report: from the run's result, which has every outcome.
func closedRunPVCEvents(prev []drv1.PVCSyncState, run *starter.RunState) []replicationEvent {
	if run.Result == nil {
		return nil
	}
	ended := make([]contract.PVCEnded, 0, len(run.Result.PVCs))
	for _, o := range run.Result.PVCs {
		ended = append(ended, contract.EndOf(o))
	}
	_, events := pvcSyncNews(prev, nil, ended, run.WorkflowID)
	return events
}

// reportedPVCs are the PVC states the status holds for run, or nil when the
// status follows another run (or none).
func reportedPVCs(st drv1.ReplicationStatus, run *starter.RunState) []drv1.PVCSyncState {
	if !tracksRun(st, run) {
		return nil
	}
	return st.SyncProgress.PVCs
}

// tracksRun says the status already follows run and holds its progress.
func tracksRun(st drv1.ReplicationStatus, run *starter.RunState) bool {
	cur := st.CurrentRun
	return cur != nil && st.SyncProgress != nil && cur.WorkflowID == run.WorkflowID &&
		(cur.RunID == "" || run.RunID == "" || cur.RunID == run.RunID)
}

func completedMessage(e contract.PVCEnded) string {
	msg := fmt.Sprintf("PVC %s: data synced, %s transferred", e.PVC, contract.HumanBytes(e.BytesTransferred))
	if e.BytesTotal > 0 {
		msg += " of " + contract.HumanBytes(e.BytesTotal)
	}
	if e.DurationSeconds > 0 {
		msg += " in " + (time.Duration(e.DurationSeconds * float64(time.Second))).Round(100*time.Millisecond).String()
	}
	return msg
}

func failedMessage(e contract.PVCEnded) string {
	kind := ""
	if e.ErrorType != "" {
		kind = " (" + e.ErrorType + ")"
	}
	return fmt.Sprintf("PVC %s: data sync failed%s: %s; %s", e.PVC, kind, e.Error, whatToDo(e))
}

// whatToDo says how to get a failed PVC sync going; the DR copy it was to
// update is kept in every case.
func whatToDo(e contract.PVCEnded) string {
	switch e.ErrorType {
	case contract.ErrTypeSourceReplaced, contract.ErrTypeSourceShrank, contract.ErrTypeConflict:
		return "the DR copy was kept; if the change at the source is intended, set the annotation " +
			drv1.AnnotationAcceptChanges + " on this Replication to a new value"
	case contract.ErrTypeNoSnapshotClass:
		return "create a VolumeSnapshotClass for the source PVC's CSI driver, or set spec.pvcConfig.dataSyncConfig.copyMethod to Direct"
	case contract.ErrTypeHookFailed:
		return "fix the command in spec.pvcConfig.dataSyncConfig.hooks; the next sync tries again"
	case contract.ErrTypeStorageClassNotFound:
		return "create that storage class in the DR cluster, or map it in spec.pvcConfig.storageClassMappings"
	}
	if e.WorkflowID != "" {
		return "the next sync tries again; workflow " + e.WorkflowID + " in the Temporal Web UI has the details"
	}
	return "the next sync tries again"
}
