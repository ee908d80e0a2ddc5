package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestFormBatches(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	ab, cd := nodePair{"a", "b"}, nodePair{"c", "d"}
	join := func(pvc string, pair nodePair, after time.Duration) batchJoin {
		return batchJoin{PVC: pvc, Pair: pair, At: t0.Add(after)}
	}
	rules := batchRules{MaxSize: 3, Wait: time.Second}
	names := func(batches [][]batchJoin) [][]string {
		var out [][]string
		for _, b := range batches {
			var n []string
			for _, j := range b {
				n = append(n, j.PVC)
			}
			out = append(out, n)
		}
		return out
	}

	t.Run("a full batch forms at once, the rest waits for more", func(t *testing.T) {
		waiting := []batchJoin{join("p1", ab, 0), join("p2", ab, 100*time.Millisecond), join("p3", ab, 200*time.Millisecond), join("p4", ab, 300*time.Millisecond)}
		batches, kept, recheck := formBatches(waiting, batchRoom{MayJoin: 2, Free: 6}, t0.Add(400*time.Millisecond), rules)
		assert.Equal(t, [][]string{{"p1", "p2", "p3"}}, names(batches))
		assert.Equal(t, []batchJoin{waiting[3]}, kept)
		assert.Equal(t, 900*time.Millisecond, recheck, "p4 waits until a second after its own join")
	})
	t.Run("nobody else can join: every partial batch forms", func(t *testing.T) {
		waiting := []batchJoin{join("p1", ab, 0), join("q1", cd, 0), join("p2", ab, 0)}
		batches, kept, recheck := formBatches(waiting, batchRoom{Free: 3}, t0, rules)
		assert.Equal(t, [][]string{{"p1", "p2"}, {"q1"}}, names(batches), "pairs never mix; a lone sync goes solo")
		assert.Empty(t, kept)
		assert.Zero(t, recheck)
	})
	t.Run("the wait bounds how long others are waited for", func(t *testing.T) {
		waiting := []batchJoin{join("p1", ab, 0), join("q1", cd, 600*time.Millisecond)}
		batches, kept, recheck := formBatches(waiting, batchRoom{MayJoin: 5, Free: 3}, t0.Add(time.Second), rules)
		assert.Equal(t, [][]string{{"p1"}}, names(batches))
		assert.Equal(t, []batchJoin{waiting[1]}, kept)
		assert.Equal(t, 600*time.Millisecond, recheck)
	})
	t.Run("a size below one is one", func(t *testing.T) {
		batches, _, _ := formBatches([]batchJoin{join("p1", ab, 0), join("p2", ab, 0)}, batchRoom{MayJoin: 3, Free: 3}, t0, batchRules{Wait: time.Second})
		assert.Equal(t, [][]string{{"p1"}, {"p2"}}, names(batches))
	})
	t.Run("with no room, joins wait for the next freed place", func(t *testing.T) {
		waiting := []batchJoin{join("p1", ab, 0), join("p2", ab, 0), join("p3", ab, 0)}
		batches, kept, recheck := formBatches(waiting, batchRoom{Free: 0, Freeing: 3, FreedAt: t0}, t0.Add(5*time.Second), rules)
		assert.Empty(t, batches)
		assert.Equal(t, waiting, kept)
		assert.Zero(t, recheck, "only a freed place can change this")
	})
	t.Run("one freed place does not start a batch of one while others are about to free", func(t *testing.T) {
		waiting := []batchJoin{join("p1", ab, 0), join("p2", ab, 0), join("p3", ab, 0)}
		freed := t0.Add(10 * time.Second)
		batches, kept, recheck := formBatches(waiting, batchRoom{Free: 1, Freeing: 2, FreedAt: freed}, freed.Add(200*time.Millisecond), rules)
		assert.Empty(t, batches)
		assert.Equal(t, waiting, kept)
		assert.Equal(t, 800*time.Millisecond, recheck, "a second after the place freed")

		batches, kept, _ = formBatches(waiting, batchRoom{Free: 3, FreedAt: freed.Add(300 * time.Millisecond)}, freed.Add(300*time.Millisecond), rules)
		assert.Equal(t, [][]string{{"p1", "p2", "p3"}}, names(batches), "all three freed: a full batch at once")
		assert.Empty(t, kept)
	})
	t.Run("a place that stays alone is used after the wait", func(t *testing.T) {
		waiting := []batchJoin{join("p1", ab, 0), join("p2", ab, 0), join("p3", ab, 0)}
		freed := t0.Add(10 * time.Second)
		batches, kept, _ := formBatches(waiting, batchRoom{Free: 2, Freeing: 1, FreedAt: freed}, freed.Add(time.Second), rules)
		assert.Equal(t, [][]string{{"p1", "p2"}}, names(batches), "a long transfer of the last batch does not hold the rest")
		assert.Equal(t, []batchJoin{waiting[2]}, kept)
	})
	t.Run("room is shared across pairs, in the order of their first join", func(t *testing.T) {
		waiting := []batchJoin{join("p1", ab, 0), join("q1", cd, 0), join("p2", ab, 0), join("q2", cd, 0)}
		batches, kept, _ := formBatches(waiting, batchRoom{Free: 3}, t0, rules)
		assert.Equal(t, [][]string{{"p1", "p2"}, {"q1"}}, names(batches))
		assert.Equal(t, []batchJoin{waiting[3]}, kept)
	})
	t.Run("a batch holds no more claims than its nodes may attach", func(t *testing.T) {
		waiting := []batchJoin{join("p1", ab, 0), join("p2", ab, 0), join("p3", ab, 0), join("q1", cd, 0), join("q2", cd, 0), join("q3", cd, 0)}
		waiting[1].Limit = 2 // the nodes a and b may attach two of p2's driver's volumes
		batches, kept, _ := formBatches(waiting, batchRoom{Free: 6}, t0, rules)
		assert.Equal(t, [][]string{{"p1", "p2"}, {"p3"}, {"q1", "q2", "q3"}}, names(batches), "only the limited pair's batches shrink")
		assert.Empty(t, kept)
	})
	t.Run("nothing waiting, nothing to do", func(t *testing.T) {
		batches, kept, recheck := formBatches(nil, batchRoom{MayJoin: 3, Free: 3}, t0, rules)
		assert.Empty(t, batches)
		assert.Empty(t, kept)
		assert.Zero(t, recheck)
	})
}

func TestFullBatches(t *testing.T) {
	ab, cd := nodePair{"a", "b"}, nodePair{"c", "d"}
	j := func(pvc string, pair nodePair) batchJoin { return batchJoin{PVC: pvc, Pair: pair} }
	waiting := []batchJoin{j("p1", ab), j("q1", cd), j("p2", ab), j("q2", cd), j("p3", ab), j("q3", cd)}

	batches, kept := fullBatches(waiting, 3)
	assert.Equal(t, [][]batchJoin{{waiting[0], waiting[2], waiting[4]}}, batches, "the first pair to fill a batch stages it")
	assert.Equal(t, []batchJoin{waiting[1], waiting[3], waiting[5]}, kept, "at most one batch's claims stage; the rest keep their order")

	batches, kept = fullBatches(waiting[:4], 3)
	assert.Empty(t, batches, "a partial batch does not stage")
	assert.Equal(t, waiting[:4], kept)

	batches, kept = fullBatches(waiting, 1)
	assert.Empty(t, batches, "with one sync at a time there is nothing to share")
	assert.Equal(t, waiting, kept)

	limited := append([]batchJoin(nil), waiting...)
	limited[3].Limit = 2 // q2's nodes may attach two
	batches, kept = fullBatches(limited, 3)
	assert.Equal(t, [][]batchJoin{{limited[1], limited[3]}}, batches, "a batch as large as its nodes may attach is full")
	assert.Equal(t, []batchJoin{limited[0], limited[2], limited[4], limited[5]}, kept)

	limited[3].Limit = 1
	batches, kept = fullBatches(limited[:4], 3)
	assert.Empty(t, batches, "nodes that attach one claim share nothing")
	assert.Equal(t, limited[:4], kept)
}
