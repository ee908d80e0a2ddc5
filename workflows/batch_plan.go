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
}

// batchRules bound a batch.
type batchRules struct {
	// MaxSize is the most claims one pod pair mounts: the run's
	// concurrentSyncs, and the DR node's CSI attach limit when lower.
	MaxSize int
	// Wait is how long the oldest join waits for batch-mates while other
	// syncs of the run may still join.
	Wait time.Duration
}

// formBatches decides which waiting joins form batches now. mayJoin is how
// many running syncs have neither joined nor passed the join point: while
// there are any, a pair's partial batch waits for them, up to rules.Wait
// after its oldest join. A full batch forms at once. Batches keep join
// order, pairs the order of their first join. A batch of one is returned
// like any other: its sync takes the solo path. recheck is how long until
// a kept join's wait ends (zero when none is kept).
func formBatches(waiting []batchJoin, mayJoin int, now time.Time, rules batchRules) (batches [][]batchJoin, kept []batchJoin, recheck time.Duration) {
	size := max(rules.MaxSize, 1)
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
		for len(group) >= size {
			batches = append(batches, group[:size])
			group = group[size:]
		}
		if len(group) == 0 {
			continue
		}
		waited := now.Sub(group[0].At)
		if mayJoin == 0 || waited >= rules.Wait {
			batches = append(batches, group)
			continue
		}
		kept = append(kept, group...)
		if left := rules.Wait - waited; recheck == 0 || left < recheck {
			recheck = left
		}
	}
	return batches, kept, recheck
}
