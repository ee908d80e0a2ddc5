package workflows

import "time"

// This is step 3's core of docs/design-batched-pvc-sync.md: which PVC syncs
// of a run share a pod pair, and when. It is pure, so the Replication
// workflow calls it on every change (batcher.form) and stays
// deterministic.

// nodePair is where a sync's mount pod and sync pod run; only syncs with the
// same pair can share pods.
type nodePair struct{ Source, Target string }

// batchJoin is one PVC sync waiting for the run to place it in a batch.
type batchJoin struct {
	PVC  string
	Pair nodePair
	At   time.Time // when it joined, in workflow time
	// Limit is the most claims one batch on its nodes may hold: the fewer
	// of what they may attach (BatchJoin.AttachLimit) and the movers the DR
	// node has room for (BatchJoin.MoverRoom); 0 is no limit.
	Limit int
}

// batchRules bound a batch.
type batchRules struct {
	// MaxSize is the most claims one pod pair mounts: the run's
	// concurrentSyncs (sizeFor lowers it to its joins' Limit: what the
	// nodes may attach, and the movers the DR node has room for).
	MaxSize int
	// Wait is how long the oldest join waits for batch-mates while other
	// syncs of the run may still join.
	Wait time.Duration
}

// batchRoom is what, besides the joins, decides whether a batch forms now
// or waits to grow.
type batchRoom struct {
	// MayJoin is how many running syncs have neither joined nor passed the
	// join point: a partial batch may wait for them.
	MayJoin int
	// Free is how many more claims may move data now: concurrentSyncs less
	// those moving.
	Free int
	// Freeing is how many claims are moving now; each frees one place when
	// its transfer ends. FreedAt is when a place last freed.
	Freeing int
	FreedAt time.Time
}

// sizeFor is the most claims one batch of a pair's joins may hold: most,
// or the smallest Limit its joins report when lower.
func sizeFor(group []batchJoin, most int) int {
	size := most
	for _, j := range group {
		size = fewest(size, j.Limit)
	}
	return size
}

// fewest is the smallest positive limit; 0 (no limit) when none is.
func fewest(limits ...int) int {
	least := 0
	for _, l := range limits {
		if l > 0 && (least == 0 || l < least) {
			least = l
		}
	}
	return least
}

// formBatches decides which waiting joins form batches now. Batches keep
// join order, pairs the order of their first join; a batch holds at most
// rules.MaxSize claims (fewer when its nodes take fewer, sizeFor)
// and at most room.Free in all. A full batch forms at
// once. A smaller one waits to grow, up to rules.Wait: for batch-mates
// after its oldest join, while others may still join; for places after the
// last one freed, while claims are still moving (a batch's members end
// their transfers nearly together, and one freed place must not start a
// batch of one). With no room at all, joins wait for the next freed
// place. A batch of one is returned like any other: its sync takes the
// solo path. recheck is how long until a kept join's wait ends (zero when
// only an event can change the answer).
func formBatches(waiting []batchJoin, room batchRoom, now time.Time, rules batchRules) (batches [][]batchJoin, kept []batchJoin, recheck time.Duration) {
	free := room.Free
	waitFor := func(left time.Duration) bool {
		if left <= 0 {
			return false
		}
		if recheck == 0 || left < recheck {
			recheck = left
		}
		return true
	}
	var pairs []nodePair
	byPair := map[nodePair][]batchJoin{}
	for _, j := range waiting {
		if _, seen := byPair[j.Pair]; !seen {
			pairs = append(pairs, j.Pair)
		}
		byPair[j.Pair] = append(byPair[j.Pair], j)
	}
	for _, p := range pairs {
		group := byPair[p]
		size := max(sizeFor(group, rules.MaxSize), 1)
		for len(group) >= size && free >= size {
			batches = append(batches, group[:size])
			free -= size
			group = group[size:]
		}
		n := min(len(group), free)
		if n == 0 {
			kept = append(kept, group...)
			continue
		}
		short := n < len(group) // room, not joins, bounds this batch
		if (!short && room.MayJoin > 0 && waitFor(rules.Wait-now.Sub(group[0].At))) ||
			(short && room.Freeing > 0 && waitFor(rules.Wait-now.Sub(room.FreedAt))) {
			kept = append(kept, group...)
			continue
		}
		batches = append(batches, group[:n])
		free -= n
		kept = append(kept, group[n:]...)
	}
	return batches, kept, recheck
}

// fullBatches takes, in join order, the first full batch on one node
// pair (maxSize joins, or as many as sizeFor allows them): what a run
// stages ahead of its places (batcher.stageBatches). kept are the other
// joins, in their order. A batch of one is a sync on its own pods:
// nothing to stage.
func fullBatches(waiting []batchJoin, maxSize int) (batches [][]batchJoin, kept []batchJoin) {
	byPair := map[nodePair][]batchJoin{}
	size := map[nodePair]int{} // the pair's batch size so far: sizeFor of its joins
	for _, j := range waiting {
		group := append(byPair[j.Pair], j)
		byPair[j.Pair] = group
		most, seen := size[j.Pair]
		if !seen {
			most = maxSize
		}
		size[j.Pair] = sizeFor([]batchJoin{j}, most)
		if n := size[j.Pair]; n >= 2 && len(group) >= n {
			taken := map[string]bool{}
			for _, m := range group[:n] {
				taken[m.PVC] = true
			}
			for _, w := range waiting {
				if !taken[w.PVC] {
					kept = append(kept, w)
				}
			}
			return [][]batchJoin{group[:n:n]}, kept
		}
	}
	return nil, waiting
}
