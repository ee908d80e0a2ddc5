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
}

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
}

// enter moves the sync to phase and reports it to the parent run. Only a
// change is reported, each costing two events of this history, and the
// signal is not waited for: progress must never slow or fail a sync, and a
// parent that is gone (its signal fails) only loses a report.
func (s *syncState) enter(ctx workflow.Context, phase string) {
	if s.Phase == phase {
		return
	}
	s.Phase = phase
	s.show(ctx)
	if s.parent == nil {
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
