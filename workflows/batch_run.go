package workflows

import (
	"fmt"
	"strconv"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/activities/pvcdata"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// The run's side of batched pods (docs/design-batched-pvc-sync.md): it
// places the syncs that join in batches per node pair (formBatches), makes
// each batch's pods as the batch's own operation, tells every member the
// container to follow, and deletes the batch's pods and Secrets once every
// member has left it.

// batchWait is how long a join waits for batch-mates while other syncs of
// the run may still join.
const batchWait = time.Second

// batchStage is where a started sync stands with respect to batches.
type batchStage int

const (
	stageBeforeJoin batchStage = iota // may still join
	stageWaiting                      // joined, not yet placed
	stageStaged                       // placed in a batch that does not move data yet
	stageInBatch                      // follows a batch's container
	stageSolo                         // moves its data on its own pods
	stageLeft                         // done moving data
	// stageMoved: its mover is done and its transfer succeeded, but the
	// sync has not yet marked the DR claim synced (changeFreeOnMoverDone).
	// Its place is free; its batch's pods are kept until it leaves.
	stageMoved
)

// moving says the stage holds one of the run's concurrentSyncs places.
func (s batchStage) moving() bool { return s == stageInBatch || s == stageSolo }

// beforeJoin are the phases a sync passes before it joins.
var beforeJoin = map[string]bool{
	contract.PhaseDiscover: true, contract.PhaseTargetPVC: true, contract.PhaseChooseNodes: true, contract.PhaseCredentials: true,
	contract.PhasePlanCopySource: true, contract.PhaseFreeze: true, contract.PhaseSnapshotSource: true, contract.PhaseThaw: true,
	contract.PhaseWaitSnapshotReady: true, contract.PhaseTemporaryPVC: true, contract.PhaseWaitPermit: true,
}

type batcher struct {
	plan     contract.ReplicationPlan
	rules    batchRules
	freedAt  time.Time // when a moving sync last ended its transfer
	selector workflow.Selector
	stage    map[string]batchStage
	ids      map[string]string // PVC → its sync's workflow ID
	joins    map[string]contract.BatchJoin
	waiting  []batchJoin
	formed   int  // batches formed so far: the next one's index
	open     int  // batches whose pods are not yet deleted
	timerSet bool // a recheck timer is pending
	// staging (changeStagedBatches): batches form ahead of the places
	// for them, and their pods start held (stageBatches).
	staging bool
	staged  []*formedBatch // in the order they formed, not yet released
	// freeOnMoverDone (changeFreeOnMoverDone): a sync's place frees when
	// its Transfer reports the mover done and the transfer a success,
	// before the sync marks its DR claim synced and reports that.
	freeOnMoverDone bool
	// moverRoom (changeMoverRoom): batches are sized to the movers the DR
	// node has room for too (limitOf).
	moverRoom bool
	// moving, when set, shows a member in PhaseTransfer in the run's
	// progress once its batch may move data: a quiet sync
	// (changeQuietPhases) does not report it.
	moving func(pvc string)
}

// formedBatch is a batch the run placed; released once it may move data.
type formedBatch struct {
	members  []batchJoin
	released bool
}

func newBatcher(plan contract.ReplicationPlan, maxSize int, selector workflow.Selector) *batcher {
	return &batcher{plan: plan, rules: batchRules{MaxSize: maxSize, Wait: batchWait}, selector: selector,
		stage: map[string]batchStage{}, ids: map[string]string{}, joins: map[string]contract.BatchJoin{}}
}

func (b *batcher) started(pvc, workflowID string) {
	b.stage[pvc], b.ids[pvc] = stageBeforeJoin, workflowID
}

// report follows a sync's phase reports: its join, when it passes or
// leaves a batch, and when it ends moving data. A transfer's byte reports
// carry no phase.
func (b *batcher) report(ctx workflow.Context, u contract.PVCProgressUpdate) {
	stage, started := b.stage[u.PVC]
	ownPods := u.Phase == contract.PhaseMountPod || u.Phase == contract.PhaseTransfer
	moved := b.freeOnMoverDone && u.Transfer != nil && u.Transfer.Phase == contract.TransferMoved
	switch {
	case moved && stage == stageInBatch:
		b.stage[u.PVC], b.freedAt = stageMoved, workflow.Now(ctx)
	case moved && stage == stageSolo:
		b.leave(ctx, u.PVC) // its own pods: no batch waits for it
	case !started || u.Phase == "":
	case u.Join != nil && stage == stageBeforeJoin:
		b.stage[u.PVC], b.joins[u.PVC] = stageWaiting, *u.Join
		b.waiting = append(b.waiting, batchJoin{PVC: u.PVC, Pair: nodePair{u.Join.SourceNode, u.Join.TargetNode}, At: workflow.Now(ctx), Limit: b.limitOf(*u.Join)})
	case (stage == stageInBatch || stage == stageStaged || stage == stageMoved) && u.Phase == contract.PhaseMountPod, // its mover was lost
		stage == stageBeforeJoin && ownPods:
		b.stage[u.PVC] = stageSolo
	case (stage == stageInBatch || stage == stageMoved) && u.Phase != contract.PhaseTransfer,
		stage == stageStaged && u.Phase != contract.PhaseTransfer && u.Phase != contract.PhaseWaitBatch,
		stage == stageSolo && !ownPods,
		stage == stageBeforeJoin && !beforeJoin[u.Phase],
		stage == stageWaiting && u.Phase != contract.PhaseWaitBatch:
		b.leave(ctx, u.PVC)
	}
}

// leave marks pvc done moving data: its transfer ended, or its sync did.
func (b *batcher) leave(ctx workflow.Context, pvc string) {
	if b.stage[pvc].moving() {
		b.freedAt = workflow.Now(ctx)
	}
	b.stage[pvc] = stageLeft
	for i, j := range b.waiting {
		if j.PVC == pvc {
			b.waiting = append(b.waiting[:i:i], b.waiting[i+1:]...)
			break
		}
	}
}

// count is how many started syncs stand at one of stages.
func (b *batcher) count(stages ...batchStage) int {
	n := 0
	for _, s := range b.stage {
		for _, want := range stages {
			if s == want {
				n++
			}
		}
	}
	return n
}

// preparing is how many syncs have not yet been placed: the run starts
// new syncs while fewer than concurrentSyncs do, so the next batch's
// syncs prepare (read the source, make their DR claim, choose nodes)
// while the current batch moves data.
func (b *batcher) preparing() int { return b.count(stageBeforeJoin, stageWaiting) }

// form places the joins that are due, and sets a timer for the first
// partial batch still waiting.
func (b *batcher) form(ctx workflow.Context) {
	if b.staging {
		b.stageBatches(ctx)
		return
	}
	b.formWithinRoom(ctx)
}

// formWithinRoom forms batches within the run's concurrentSyncs places
// for moving data, and places them at once.
func (b *batcher) formWithinRoom(ctx workflow.Context) {
	moving := b.count(stageInBatch, stageSolo)
	room := batchRoom{MayJoin: b.count(stageBeforeJoin), Free: b.rules.MaxSize - moving, Freeing: moving, FreedAt: b.freedAt}
	batches, kept, recheck := formBatches(b.waiting, room, workflow.Now(ctx), b.rules)
	b.waiting = kept
	for _, batch := range batches {
		b.place(ctx, &formedBatch{members: batch, released: true})
	}
	b.recheckIn(ctx, recheck)
}

// stageBatches forms full batches ahead of the places for them: up to
// concurrentSyncs claims wait staged, their pods made but held
// (BatchPodsInput.Held: the mount pod starts, the sync pod is not placed),
// while the claims before them move data. A staged batch is released,
// whole and in order, once the places for all its claims are free (the
// members of a batch end their transfers nearly together). So a batch's
// mount pod starts while the one before it transfers, and concurrentSyncs
// still bounds the syncs that move data. Only full
// batches stage: joins trickle in as permits free, and staging the first
// few would split them into small batches. Whatever is not full forms as
// without staging, within the free places, once nothing is staged.
func (b *batcher) stageBatches(ctx workflow.Context) {
	if b.count(stageStaged) == 0 {
		var full [][]batchJoin
		full, b.waiting = fullBatches(b.waiting, b.rules.MaxSize)
		for _, batch := range full {
			for _, m := range batch {
				b.stage[m.PVC] = stageStaged
			}
			fb := &formedBatch{members: batch}
			b.staged = append(b.staged, fb)
			b.start(ctx, fb)
		}
	}
	moving := b.count(stageInBatch, stageSolo)
	for len(b.staged) > 0 {
		fb := b.staged[0]
		n := b.countOf(fb.members, stageStaged)
		if moving+n > b.rules.MaxSize {
			break
		}
		b.staged, moving = b.staged[1:], moving+n
		fb.released = true
		for _, m := range fb.members {
			if b.stage[m.PVC] == stageStaged {
				b.stage[m.PVC] = stageInBatch
			}
		}
	}
	if len(b.staged) == 0 {
		b.formWithinRoom(ctx)
	}
}

// place starts a released batch moving data: a batch of one on its own
// pods, a larger one on the pods start makes.
func (b *batcher) place(ctx workflow.Context, fb *formedBatch) {
	if len(fb.members) == 1 {
		b.stage[fb.members[0].PVC] = stageSolo
		b.tell(ctx, fb.members, []contract.BatchAssignment{{Solo: "no other sync of this run was ready on the same nodes"}})
		return
	}
	for _, m := range fb.members {
		b.stage[m.PVC] = stageInBatch
	}
	b.start(ctx, fb)
}

// start runs a batch's pods in a goroutine of the run.
func (b *batcher) start(ctx workflow.Context, fb *formedBatch) {
	index := b.formed
	b.formed++
	b.open++
	workflow.Go(ctx, func(gctx workflow.Context) {
		defer func() { b.open-- }()
		b.run(gctx, index, fb)
	})
}

// countOf is how many of members stand at stage.
func (b *batcher) countOf(members []batchJoin, stage batchStage) int {
	n := 0
	for _, m := range members {
		if b.stage[m.PVC] == stage {
			n++
		}
	}
	return n
}

// recheckIn sets a timer that wakes the run after recheck, unless one is
// pending.
func (b *batcher) recheckIn(ctx workflow.Context, recheck time.Duration) {
	if recheck > 0 && !b.timerSet {
		b.timerSet = true
		b.selector.AddFuture(newTimer(ctx, recheck, "wait for more syncs to join a batch"), func(workflow.Future) { b.timerSet = false })
	}
}

// run makes one batch's pods (held while the batch is staged), answers
// its members, releases the pods once the batch is, and deletes the pods
// and Secrets once every member has left. Pods that could not all be made
// are deleted before the members hear they are on their own, so no batch
// mover ever writes a claim beside the member's own; a staged batch's
// members hear it only once released, so they do not move data before
// their places are free.
func (b *batcher) run(ctx workflow.Context, index int, fb *formedBatch) {
	members := fb.members
	info := workflow.GetInfo(ctx)
	op := contract.Operation{WorkflowID: info.WorkflowExecution.ID + "/batch-" + strconv.Itoa(index), RunID: info.WorkflowExecution.RunID}
	for _, m := range members {
		op.Members = append(op.Members, b.ids[m.PVC])
	}
	held := !fb.released
	made, answers, err := b.makePods(ctx, op, members, held)
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	if err == nil {
		b.tell(ctx, members, answers)
		if held {
			err = b.release(ctx, made, fb)
		}
	}
	if err == nil && b.moving != nil {
		for _, m := range members {
			if b.stage[m.PVC] == stageInBatch { // not one that left meanwhile
				b.moving(m.PVC)
			}
		}
	}
	if err == nil {
		err = workflow.Await(ctx, func() bool { return b.allLeft(members) })
	}
	var a *pvcdata.PVCActivities
	cleanup := contract.CleanupInput{Op: op, Source: b.plan.Source, SourceNamespace: b.plan.SourceNamespace,
		Destination: b.plan.Destination, DestinationNamespace: b.plan.DestinationNamespace}
	if cerr := workflow.ExecuteActivity(step(withCleanupOptions(dctx), "delete the pods and Secrets of batch "+strconv.Itoa(index)), a.Cleanup, cleanup).Get(dctx, nil); cerr != nil {
		workflow.GetLogger(ctx).Error("batch cleanup failed; objects labelled with its operation remain", "batch", op.WorkflowID, "error", cerr)
	}
	if answers == nil && ctx.Err() == nil {
		if err := workflow.Await(ctx, func() bool { return fb.released || b.allLeft(members) }); err != nil {
			return
		}
		solo := contract.BatchAssignment{Solo: fmt.Sprintf("the batch's pods could not be made: %v", err)}
		for _, m := range members {
			answers = append(answers, solo)
			if b.stage[m.PVC] == stageInBatch {
				b.stage[m.PVC] = stageSolo
			}
		}
		b.tell(dctx, members, answers)
	}
}

// release waits until the staged batch fb is released, and lets its
// movers start: its mount pod becomes one the agent serves, and its sync
// pod, with a fresh certificate, is placed. A batch whose members all
// left before has nothing to release. made is what made its pods.
func (b *batcher) release(ctx workflow.Context, made contract.BatchPodsInput, fb *formedBatch) error {
	if err := workflow.Await(ctx, func() bool { return fb.released || b.allLeft(fb.members) }); err != nil || b.allLeft(fb.members) {
		return err
	}
	var a *pvcdata.PVCActivities
	return workflow.ExecuteActivity(step(batchOptions(ctx), "let batch "+made.Op.WorkflowID+" move data"), a.ReleaseBatchPods,
		contract.ReleaseBatchInput{Op: made.Op, Source: b.plan.Source, SourceNamespace: b.plan.SourceNamespace,
			Destination: b.plan.Destination, DestinationNamespace: b.plan.DestinationNamespace, Pods: &made}).Get(ctx, nil)
}

// batchOptions are the options of a batch's own steps. Every member can
// sync on its own pods, so a batch does not retry long. A cancelled run
// waits for a step in flight (2026-12-07-batch-steps-wait): its batch
// cleanup, which follows at once, deleted nothing of a pod pair that an
// EnsureBatchPods still in flight created a moment later, and the pods
// stayed (seen in the lab).
func batchOptions(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
		WaitForCancellation: hasChange(ctx, changeBatchStepsWait),
	})
}

// changeBatchStepsWait is the GetVersion change ID of a run whose
// cancellation waits for its batch steps in flight (batchOptions).
const changeBatchStepsWait = "2026-12-07-batch-steps-wait"

// makePods creates the batch's credentials and pod pair, held or not, and
// returns what made them and each member's answer; nil answers when they
// could not be made.
func (b *batcher) makePods(ctx workflow.Context, op contract.Operation, members []batchJoin, held bool) (contract.BatchPodsInput, []contract.BatchAssignment, error) {
	var a *pvcdata.PVCActivities
	auth := authority(pvcSyncInput(b.plan, members[0].PVC))
	opts := batchOptions(ctx)
	dp := b.plan.DataPlane
	var creds contract.Credentials
	if err := workflow.ExecuteActivity(step(opts, "SSH credentials for "+op.WorkflowID), a.EnsureCredentials, contract.CredentialsInput{
		Op: op, Source: b.plan.Source, SourceNamespace: b.plan.SourceNamespace,
		Destination: b.plan.Destination, DestinationNamespace: b.plan.DestinationNamespace,
		ClusterKey: dp.ClusterKey, AgentHostKey: dp.AgentHostKey, Authority: auth,
	}).Get(ctx, &creds); err != nil {
		return contract.BatchPodsInput{}, nil, err
	}
	first := b.joins[members[0].PVC]
	in := contract.BatchPodsInput{Op: op, Source: b.plan.Source, SourceNamespace: b.plan.SourceNamespace, SourceNode: first.SourceNode,
		Destination: b.plan.Destination, DestinationNamespace: b.plan.DestinationNamespace, DestinationNode: first.TargetNode,
		Image: dp.Image, AgentAddr: first.AgentAddr, Credentials: creds.Secret, ClusterKey: dp.ClusterKey, AgentHostKey: dp.AgentHostKey,
		Config: b.plan.DataSync, Authority: auth, Held: held, OneMover: true}
	for _, m := range members {
		j := b.joins[m.PVC]
		in.Claims = append(in.Claims, contract.BatchClaim{Source: j.ReadFrom.Name, Target: j.Target, Acknowledged: j.Acknowledged})
		in.OneMover = in.OneMover && j.FollowsClaims
	}
	var pods contract.BatchPods
	summary := fmt.Sprintf("pods of batch %s: %d PVCs on %s → %s", op.WorkflowID, len(members), in.SourceNode, in.DestinationNode)
	if err := workflow.ExecuteActivity(step(opts, summary), a.EnsureBatchPods, in).Get(ctx, &pods); err != nil {
		return in, nil, err
	}
	answers := make([]contract.BatchAssignment, len(members))
	for i := range members {
		// The claim's own container too, in case a worker of older code
		// ran EnsureBatchPods and made a mover per claim.
		follow := &contract.FollowedMover{Pod: pods.SyncPod, Container: kube.BatchMoverContainer(i)}
		if in.OneMover {
			follow.Claim = kube.BatchModule(i)
		}
		answers[i] = contract.BatchAssignment{Follow: follow,
			Target: pods.Target, Credentials: creds.Secret}
	}
	return in, answers, nil
}

// tell signals each member its answer, without waiting for the signals to
// be delivered: a member that is gone cannot be told, and needs no answer.
func (b *batcher) tell(ctx workflow.Context, members []batchJoin, answers []contract.BatchAssignment) {
	for i, m := range members {
		workflow.SignalExternalWorkflow(ctx, b.ids[m.PVC], "", contract.SignalBatchAssigned, answers[i])
	}
}

// allLeft says no member follows, or waits to follow, the batch's
// containers any more.
func (b *batcher) allLeft(members []batchJoin) bool {
	return b.countOf(members, stageInBatch)+b.countOf(members, stageStaged)+b.countOf(members, stageMoved) == 0
}
