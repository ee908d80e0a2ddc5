package workflows

import "github.com/dr-syncer/dr-syncer/contract"

// The GetVersion changes of a batched run since its first version
// (changeBatchedPods).

// changeStagedBatches is the GetVersion change ID of a batched run that
// starts a batch's pods while the batch before it moves data.
const changeStagedBatches = "2026-12-06-staged-batches"

// changeFreeOnMoverDone is the GetVersion change ID of a batched run that
// frees a sync's place for moving data once its Transfer reports the
// transfer done (contract.TransferMoved), not once the sync reports marking
// its DR claim synced: a staged batch starts that much sooner.
const changeFreeOnMoverDone = "2026-12-06-free-on-mover-done"

// changeMoverRoom is the GetVersion change ID of a batched run that sizes
// its batches to the movers the DR node has room for
// (contract.BatchJoin.MoverRoom), besides its attach limit. It is a change
// of its own although only the joins carry the room: during a rolling
// upgrade, a worker from before it could form a run's batches from joins
// that carry a room it ignores, and a new worker replaying that run would
// form them smaller.
const changeMoverRoom = "2026-12-07-mover-room"

// limitOf is the most claims a batch holding join's claim may hold: 0 is
// no limit.
func (b *batcher) limitOf(join contract.BatchJoin) int {
	if !b.moverRoom {
		return join.AttachLimit
	}
	return fewest(join.AttachLimit, join.MoverRoom)
}
