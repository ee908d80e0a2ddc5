package workflows

import (
	"errors"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
)

// The PVC sync's side of batched pods (docs/design-batched-pvc-sync.md):
// once it holds its permit and knows its nodes, a sync offered a batch
// (PVCSyncInput.Batch) joins one, and follows the mover container its run
// assigns it. Anything else takes the solo path: a batch of one, pods the
// run could not make, and a followed container that was lost or ended in a
// way only a new pod can retry.

// joinBatch reports the sync ready to its run and waits for the answer.
// There is no time bound: the run answers every join (formBatches forms a
// batch at most batchWait after it), and a sync that gave up waiting could
// find the run's mover writing its DR claim beside its own. A cancelled
// sync stops waiting.
func joinBatch(ctx workflow.Context, state *syncState, join contract.BatchJoin) (contract.BatchAssignment, error) {
	state.joinBatch(ctx, join)
	var answer contract.BatchAssignment
	// Receive alone would not end on cancellation.
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, contract.SignalBatchAssigned), func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, &answer) })
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
	sel.Select(ctx)
	return answer, ctx.Err()
}

// changeBatchClaimTransfer is the GetVersion change ID of a batched sync
// that follows its claim in the batch's one mover as
// contract.ActivityTransferBatchClaim.
const changeBatchClaimTransfer = "2026-12-07-batch-claim-transfer"

// transferInBatch runs the sync's transfer in its run's batch, when it is
// offered one. batched is false when the sync must take its own pods: it
// was not offered a batch, its batch is of one, or its followed container
// cannot finish the transfer.
func transferInBatch(ctx workflow.Context, in contract.PVCSyncInput, transferOptions workflow.ActivityOptions,
	transferIn contract.TransferInput, join contract.BatchJoin, state *syncState) (batched bool, err error) {
	if !in.Batch || state.parent == nil {
		return false, nil
	}
	answer, err := joinBatch(ctx, state, join)
	if err != nil {
		return false, err
	}
	if answer.Follow == nil {
		workflow.GetLogger(ctx).Info("taking this sync's own pods", "why", answer.Solo)
		return false, nil
	}
	state.following = true
	state.enter(ctx, contract.PhaseTransfer)
	transferIn.Follow, transferIn.Target, transferIn.Credentials, transferIn.Mount = answer.Follow, answer.Target, answer.Credentials, nil
	var a *pvcdata.PVCActivities
	transfer := a.Transfer
	// One mover for the batch: a name older workers do not run. Behind a
	// change, as a sync of older code may have taken this answer and
	// scheduled Transfer.
	if answer.Follow.Claim != "" && hasChange(ctx, changeBatchClaimTransfer) {
		transfer = a.TransferBatchClaim
	}
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, transferOptions), transfer, transferIn).Get(ctx, &state.Result.Transfer)
	var appErr *temporal.ApplicationError
	if err != nil && ctx.Err() == nil && errors.As(err, &appErr) && appErr.Type() == contract.ErrTypeFollowedMoverLost {
		workflow.GetLogger(ctx).Warn("the batch's mover cannot finish this transfer; taking this sync's own pods", "error", err)
		state.Result.Transfer = contract.TransferResult{}
		state.following = false
		return false, nil
	}
	return err == nil, err
}

// joinBatch moves the sync to PhaseWaitBatch and sends its run the join,
// on the progress channel the run already reads.
func (s *syncState) joinBatch(ctx workflow.Context, join contract.BatchJoin) {
	s.Phase = contract.PhaseWaitBatch
	s.show(ctx)
	s.report(ctx, contract.PVCProgressUpdate{PVC: s.pvc, Phase: contract.PhaseWaitBatch, Join: &join})
}

// ownCredentials makes the sync's own SSH credentials, for its own pods;
// ctx carries the activity options.
func ownCredentials(ctx workflow.Context, in contract.PVCSyncInput, op contract.Operation) (contract.Credentials, error) {
	var a *pvcdata.PVCActivities
	var creds contract.Credentials
	err := workflow.ExecuteActivity(step(ctx, "SSH credentials for "+in.Source.String()), a.EnsureCredentials, contract.CredentialsInput{
		Op: op, Source: in.Source.Cluster, SourceNamespace: in.Source.Namespace,
		Destination: in.Destination, DestinationNamespace: in.DestinationNamespace,
		ClusterKey: in.ClusterKey, AgentHostKey: in.AgentHostKey, Authority: authority(in),
	}).Get(ctx, &creds)
	return creds, err
}
