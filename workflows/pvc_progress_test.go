package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

const reportingParentName = "reporting-parent"

// reportingInput is reportingParent's: the sync to run, and the answer to its join.
type reportingInput struct {
	Sync   contract.PVCSyncInput
	Answer contract.BatchAssignment
	// Fails: the sync is expected to fail; its phases are returned all the same.
	Fails bool
}

// reportingParent starts one PVC sync that reports to it and returns the
// phases it reported, in order. It plays the run's part: it grants the
// permit the sync waits for, and answers its join.
func reportingParent(ctx workflow.Context, in reportingInput) ([]string, error) {
	var phases []string
	id := "pvc-sync/reported"
	child := workflow.ExecuteChildWorkflow(workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: id}), contract.PVCSyncName, in.Sync)
	var err error
	done := false
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, contract.SignalPVCProgress), func(c workflow.ReceiveChannel, _ bool) {
		var u contract.PVCProgressUpdate
		c.Receive(ctx, &u)
		phases = append(phases, u.Phase)
		switch {
		case u.Phase == contract.PhaseWaitPermit:
			workflow.SignalExternalWorkflow(ctx, id, "", contract.SignalPermit, nil)
		case u.Join != nil:
			workflow.SignalExternalWorkflow(ctx, id, "", contract.SignalBatchAssigned, in.Answer)
		}
	})
	sel.AddFuture(child, func(f workflow.Future) { done, err = true, f.Get(ctx, nil) })
	for !done {
		sel.Select(ctx)
	}
	if err != nil && !in.Fails {
		return nil, err
	}
	return phases, nil
}

// reportedPhases runs one sync of PVC "a" under reportingParent, batched
// or not, with every activity mocked to succeed but the followed
// transfers of failFollowed.
func reportedPhases(t *testing.T, batched bool, answer contract.BatchAssignment, failFollowed ...string) []string {
	s := newBatchSuite(t, []string{"a"}, 1)
	s.failFollowed = failFollowed
	var permits *pvcdata.PermitActivities
	s.env.OnActivity(permits.RequestPermit, mock.Anything, mock.Anything).Return(nil)
	s.env.OnSignalExternalWorkflow(mock.Anything, contract.ClusterSemaphoreID(srcCluster), "", contract.SignalRelease, mock.Anything).Return(nil)
	in := pvcSyncInput(testPlan(1), "a")
	in.ReportProgress, in.Batch, in.GlobalConcurrencyLimit = true, batched, 10
	s.env.ExecuteWorkflow(reportingParentName, reportingInput{Sync: in, Answer: answer, Fails: len(failFollowed) > 0})
	require.True(t, s.env.IsWorkflowCompleted())
	require.NoError(t, s.env.GetWorkflowError())
	var phases []string
	require.NoError(t, s.env.GetWorkflowResult(&phases))
	return phases
}

// A sync does not report to its run the phases of its short API steps,
// nor those the run needs not hear (changeQuietPhases): every report
// costs events and workflow tasks in both histories.
func TestSyncReportsOnlyThePhasesItsRunActsOnOrThatMayLast(t *testing.T) {
	follow := contract.BatchAssignment{Follow: &contract.FollowedMover{Pod: "batch-sync", Container: "mover-0"}, Target: "mount", Credentials: "creds"}
	assert.Equal(t, []string{contract.PhaseWaitPermit, contract.PhaseWaitBatch, contract.PhaseMarkSynced},
		reportedPhases(t, true, follow), "a batch member: the run shows its transfer itself, and frees no slot at its cleanup")
	assert.Equal(t, []string{contract.PhaseWaitPermit, contract.PhaseWaitBatch, contract.PhaseCleanup},
		reportedPhases(t, true, follow, "a"), "a batch member whose transfer failed: its place frees at its cleanup, "+
			"which may wait for a claim its batch's mount pod holds")
	assert.Equal(t, []string{contract.PhaseWaitPermit, contract.PhaseWaitBatch, contract.PhaseMountPod, contract.PhaseTransfer, contract.PhaseMarkSynced},
		reportedPhases(t, true, contract.BatchAssignment{Solo: "a batch of one"}), "a batched sync on its own pods")
	assert.Equal(t, []string{contract.PhaseWaitPermit, contract.PhaseMountPod, contract.PhaseTransfer, contract.PhaseMarkSynced, contract.PhaseCleanup},
		reportedPhases(t, false, contract.BatchAssignment{}), "without batched pods, the run frees a slot at the cleanup")
}
