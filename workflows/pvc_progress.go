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
	// reported is the last phase reported to the run.
	reported string
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
		!hasChange(ctx, changeReportProgress) {
		return
	}
	s.parent = parent
	s.batched = in.Batch
	s.quiet = hasChange(ctx, changeQuietPhases)
}

// reportedPhase says whether a quiet sync reports phase to its run. It
// does not for the steps of an API call or two (the run shows the phase
// before them meanwhile), nor for a batch member's Transfer (the run shows
// it itself when it lets the batch move), nor for Cleanup once the run
// has let a batched sync go at its MarkSynced. Every other phase is one
// the run acts on (MountPod: the sync takes its own pods; MarkSynced: its
// place frees; Cleanup of a sync that failed or without batched pods: its
// place or slot frees) or one that may last (a permit, a hook, a
// snapshot, a clone, a restore point).
func (s *syncState) reportedPhase(phase string) bool {
	switch phase {
	case contract.PhaseTargetPVC, contract.PhasePlanCopySource, contract.PhaseChooseNodes, contract.PhaseCredentials:
		return false
	case contract.PhaseTransfer:
		return !s.following
	case contract.PhaseCleanup:
		return !s.batched || s.reported != contract.PhaseMarkSynced
	}
	return true
}

// enter moves the sync to phase and reports it to the parent run (a quiet
// sync, only if reportedPhase). Only a change is reported, each costing
// two events of this history, and the signal is not waited for: progress
// must never slow or fail a sync, and a parent that is gone (its signal
// fails) only loses a report.
func (s *syncState) enter(ctx workflow.Context, phase string) {
	if s.Phase == phase {
		return
	}
	s.Phase = phase
	s.show(ctx)
	if s.parent == nil || s.quiet && !s.reportedPhase(phase) {
		return
	}
	s.report(ctx, contract.PVCProgressUpdate{PVC: s.pvc, Phase: phase})
}

// report signals u to the parent run.
func (s *syncState) report(ctx workflow.Context, u contract.PVCProgressUpdate) {
	s.reported = u.Phase
	workflow.SignalExternalWorkflow(ctx, s.parent.ID, s.parent.RunID, contract.SignalPVCProgress, u)
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
