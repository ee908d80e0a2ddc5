package dataplane

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/agent"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/test/testtree"
)

// One mover fills a batch's volumes at once (a batch sync pod's), each from
// its own module through the real agent and rsync daemon: every volume is
// judged by its own data guard and reported under its own claim, so one
// emptied source is refused while its batch-mates arrive byte-identical.
func TestOneMoverFillsManyVolumesEachOnItsOwn(t *testing.T) {
	modules := []string{"claim-0", "claim-1", "claim-2"}
	p := newPathServing(t, modules)
	claims := make([]mover.Claim, len(modules))
	for i, m := range modules {
		guardTree(t, filepath.Join(p.src, m))
		claims[i] = mover.Claim{Module: m, Dest: filepath.Join(p.dst, m)}
		require.NoError(t, os.MkdirAll(claims[i].Dest, 0o755)) // a DR volume's mount point
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := func() ([]progress.Summary, []progress.Event) {
		var out bytes.Buffer
		summaries := mover.RunClaims(ctx, p.options(rsyncargs.Config{}, &out), claims, &syncBuffer{b: &out}, 50*time.Millisecond)
		return summaries, decodeEvents(t, out.Bytes())
	}

	summaries, events := run()
	for i, m := range modules {
		assert.Equal(t, rsyncargs.ClassSuccess, summaries[i].Outcome.Class, "%s: %+v", m, summaries[i])
		assert.Equal(t, int64(guardTreeFiles), summaries[i].Stats.RegularFilesTransferred, "%s moved its own files only", m)
		diffs, err := testtree.Compare(filepath.Join(p.src, m), filepath.Join(p.dst, m), testtree.Options{})
		require.NoError(t, err)
		assert.Empty(t, diffs, "%s arrives byte-identical", m)
	}
	assertEveryLineTagged(t, events, modules)

	// The second volume's source is emptied (a re-created claim): its DR
	// copy is kept whole, and only its summary says so.
	emptySource(t, filepath.Join(p.src, "claim-1"))
	kept := scan(t, filepath.Join(p.dst, "claim-1"))
	summaries, events = run()
	assert.Equal(t, rsyncargs.ClassPermanent, summaries[1].Outcome.Class)
	require.NotNil(t, summaries[1].Guard)
	assert.Equal(t, progress.GuardSourceShrank, summaries[1].Guard.Reason)
	assert.Equal(t, kept, scan(t, filepath.Join(p.dst, "claim-1")), "the refused volume's DR copy is untouched")
	for _, i := range []int{0, 2} {
		assert.Equal(t, rsyncargs.ClassSuccess, summaries[i].Outcome.Class, "a batch-mate's refusal is not %s's", modules[i])
	}
	assert.Equal(t, rsyncargs.ClassPermanent, mover.WorstOutcome(summaries).Class, "the mover exits with the worst")
	assertEveryLineTagged(t, events, modules)

	// A person accepts claim-1's change, and claim-2's source is emptied
	// too: only the accepted volume follows its source.
	emptySource(t, filepath.Join(p.src, "claim-2"))
	keptOther := scan(t, filepath.Join(p.dst, "claim-2"))
	claims[1].AcceptSourceChange = true
	summaries, _ = run()
	assert.Equal(t, rsyncargs.ClassSuccess, summaries[1].Outcome.Class, "%+v", summaries[1])
	assert.Zero(t, regularCount(scan(t, filepath.Join(p.dst, "claim-1"))), "the accepted volume now matches its empty source")
	assert.Equal(t, rsyncargs.ClassPermanent, summaries[2].Outcome.Class, "claim-1's acceptance is not claim-2's")
	assert.Equal(t, keptOther, scan(t, filepath.Join(p.dst, "claim-2")), "the other refused volume's DR copy is untouched")
}

// assertEveryLineTagged checks that every output line names a claim, and
// that the last lines are each claim's summary, once, in order: what a
// reader of the log's tail finds.
func assertEveryLineTagged(t *testing.T, events []progress.Event, modules []string) {
	t.Helper()
	summaries := map[string]int{}
	for _, e := range events {
		require.Contains(t, modules, e.Claim, "every line names its claim: %+v", e)
		if e.Type == progress.TypeSummary {
			summaries[e.Claim]++
		}
	}
	for _, m := range modules {
		assert.Equal(t, 2, summaries[m], "%s: its summary when it ends, and again at the end", m)
	}
	require.GreaterOrEqual(t, len(events), len(modules))
	for i, e := range events[len(events)-len(modules):] {
		assert.Equal(t, progress.TypeSummary, e.Type)
		assert.Equal(t, modules[i], e.Claim)
	}
}

// A batch of 20 moves all its volumes at once through one mount server and
// an agent that takes three connections: rsyncd counts its connection limit
// across every module, so the limit must grow with the volumes it serves
// (16 in all refused the 17th); and the claims share a few agent
// connections, since a connection each passed the agent's bounds (16
// handshakes at once per address, 32 connections: two batches of 20).
func TestOneMoverFillsTwentyVolumesAtOnce(t *testing.T) {
	modules := make([]string, 20)
	claims := make([]mover.Claim, len(modules))
	for i := range modules {
		modules[i] = fmt.Sprintf("claim-%d", i)
	}
	p := newPathServing(t, modules, func(o *agent.Options) { o.MaxConnections = 3 })
	for i, m := range modules {
		w := testtree.NewWriter(t, filepath.Join(p.src, m), uint64(i))
		w.File("data", w.Random(96<<10), 0o644)
		w.Finish()
		claims[i] = mover.Claim{Module: m, Dest: filepath.Join(p.dst, m)}
		require.NoError(t, os.MkdirAll(claims[i].Dest, 0o755))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	// 64 KiB/s: each copy takes over a second, so all 20 are connected at once.
	summaries := mover.RunClaims(ctx, p.options(rsyncargs.Config{BandwidthLimitKiB: 64}, &out), claims, &syncBuffer{b: &out}, time.Second)
	for i, m := range modules {
		require.Equal(t, rsyncargs.ClassSuccess, summaries[i].Outcome.Class, "%s: %+v", m, summaries[i])
		diffs, err := testtree.Compare(filepath.Join(p.src, m), filepath.Join(p.dst, m), testtree.Options{})
		require.NoError(t, err)
		assert.Empty(t, diffs, "%s arrives byte-identical", m)
	}
}

// A claim whose mount side accepts and then never answers ends at its own
// timeout, though its agent connection is shared: the sync's end closes its
// channels itself. Left to the agent's idle timeout (10 minutes, which the
// other claims' data keeps deferring), its mover would hold the batch.
func TestClaimTimeoutEndsATransferStuckOnASharedConnection(t *testing.T) {
	p := newPathServing(t, []string{"claim-0"})
	stuck, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = stuck.Close() })
	go func() {
		var held []net.Conn // accepted, never answered
		for {
			c, err := stuck.Accept()
			if err != nil {
				for _, h := range held {
					_ = h.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	p.target = stuck.Addr().String()
	p.allow(p.target)
	claims := []mover.Claim{{Module: "claim-0", Dest: filepath.Join(p.dst, "claim-0")}}
	require.NoError(t, os.MkdirAll(claims[0].Dest, 0o755))

	var out bytes.Buffer
	done := make(chan []progress.Summary, 1)
	go func() {
		cfg := rsyncargs.Config{Timeout: rsyncargs.Duration(2 * time.Second)}
		done <- mover.RunClaims(context.Background(), p.options(cfg, &out), claims, &syncBuffer{b: &out}, time.Second)
	}()
	select {
	case summaries := <-done:
		assert.Equal(t, rsyncargs.ClassRetryable, summaries[0].Outcome.Class, "%+v", summaries[0])
		assert.Contains(t, summaries[0].Outcome.Reason, "timeout")
	case <-time.After(time.Minute):
		t.Fatal("the claim's 2 s timeout did not end its transfer within a minute: its channel held the mover")
	}
}
