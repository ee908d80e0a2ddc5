package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/contract"
)

// changeReportProgress is the GetVersion change ID of a PVC sync reporting
// its phase changes to the Replication run that started it (2026-12-05):
// the run then answers for all its PVC syncs in one progress query, and the
// controller no longer queries and describes every child on each poll.
const changeReportProgress = "2026-12-05-report-progress-to-parent"

// syncState is a PVC sync's answer to its progress query, and the way its
// phase changes reach the parent run.
type syncState struct {
	contract.PVCSyncProgress
	pvc string
	// route is "source → destination", for the Web UI's current details.
	route string
	// parent is the run reports go to; nil for a sync without one, and in
	// syncs started before they reported.
	parent *workflow.Execution
	// quiet syncs report only the phases reportedPhase names
	// (changeQuietPhases); batched is the sync's PVCSyncInput.Batch, and
	// following is set once it follows a batch's mover.
	quiet, batched, following bool
	// steps runs the sync's short API steps.
	steps apiSteps
}

// changeQuietPhases is the GetVersion change ID of a PVC sync reporting to
// its run only the phases the run acts on or that may last (2026-12-06).
// Every report costs the sync two events and a workflow task of its own,
// and the run an event and often a task: eight reports made about half of
// a batched sync's history, and most of the load that paced a run of many
// PVCs on the Temporal server.
const changeQuietPhases = "2026-12-06-quiet-phases"

// reportToParent turns reporting on when the sync has a parent run that
// takes reports (in.ReportProgress). The version marker is only recorded
// then, so a sync started on its own or by a drill keeps the history it
// always had.
func (s *syncState) reportToParent(ctx workflow.Context, in contract.PVCSyncInput) {
	parent := workflow.GetInfo(ctx).ParentWorkflowExecution
	if parent == nil || !in.ReportProgress ||
		workflow.GetVersion(ctx, changeReportProgress, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return
	}
	s.parent = parent
	s.batched = in.Batch
	s.quiet = workflow.GetVersion(ctx, changeQuietPhases, workflow.DefaultVersion, 1) == 1
}

// reportedPhase says whether a quiet sync reports phase to its run. It
// does for the phases the run acts on: MountPod (the sync takes its own
// pods), MarkSynced (its transfer ended, so its place is free), Transfer
// of a sync on its own pods, and Cleanup in a run without batched pods
// (the run's slot frees then). And for those that may last: waiting for a
// permit, a freeze hook, a snapshot. A step of an API call or two is not
// worth its events; the run shows the phase before it meanwhile. The run
// shows a batch member's Transfer itself, when it lets the batch move.
func (s *syncState) reportedPhase(phase string) bool {
	switch phase {
	case contract.PhaseWaitPermit, contract.PhaseFreeze, contract.PhaseWaitSnapshotReady,
		contract.PhaseMountPod, contract.PhaseMarkSynced:
		return true
	case contract.PhaseTransfer:
		return !s.following
	case contract.PhaseCleanup:
		return !s.batched
	}
	return false
}

// enter moves the sync to phase and reports it to the parent run (a quiet
// sync, only if reportedPhase). Only a change is reported, each costing two events of this history, and the
// signal is not waited for: progress must never slow or fail a sync, and a
// parent that is gone (its signal fails) only loses a report.
func (s *syncState) enter(ctx workflow.Context, phase string) {
	if s.Phase == phase {
		return
	}
	s.Phase = phase
	s.show(ctx)
	if s.parent == nil || s.quiet && !s.reportedPhase(phase) {
		return
	}
	workflow.SignalExternalWorkflow(ctx, s.parent.ID, s.parent.RunID, contract.SignalPVCProgress,
		contract.PVCProgressUpdate{PVC: s.pvc, Phase: phase})
}

// progressTarget is where the Transfer activity sends its bytes: the same
// parent run, keyed by the same PVC; nil when the sync does not report.
func (s *syncState) progressTarget() *contract.ProgressTarget {
	if s.parent == nil {
		return nil
	}
	return &contract.ProgressTarget{WorkflowID: s.parent.ID, RunID: s.parent.RunID, PVC: s.pvc}
}

// show keeps the sync's current details in the Web UI at its step.
func (s *syncState) show(ctx workflow.Context) {
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**PVC:** %s\n\n**Step:** %s", s.route, s.Phase))
}
