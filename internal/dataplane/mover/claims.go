package mover

import (
	"context"
	"io"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// Claim is one volume of a mover that fills many (a batch sync pod's,
// docs/design-batched-pvc-sync.md): the rsync module it pulls and the
// directory where its DR volume is mounted.
type Claim struct {
	Module string
	Dest   string
	// AcceptSourceChange is Options.AcceptSourceChange for this volume
	// alone: a person accepts one PVC's change, not its batch's.
	AcceptSourceChange bool
}

// RunClaims runs one sync per claim, all at once, each as Run runs it with
// base's settings but its own module, destination and accepted change
// (base.AcceptSourceChange is not used), and returns their summaries in
// the claims' order.
//
// One process fills the batch because the kubelet starts a pod's
// containers one after another (about 0.25 s each in the lab), so a sync
// pod with a mover container per claim took seconds to start its last
// one; every volume still gets its own rsync connections, data guard,
// progress and summary. The claims share agent connections (agentShare),
// so a batch makes a few SSH handshakes instead of one per claim. Every
// line written to out carries its claim's module
// (progress.Event.Claim), and once every sync has ended the summaries are
// written again, one per claim, as the last lines, so a reader of the
// log's tail finds each of them however long the others ran.
func RunClaims(ctx context.Context, base Options, claims []Claim, out io.Writer, interval time.Duration) []progress.Summary {
	shared := &lockedWriter{w: out}
	log := base.Logger
	if log == nil {
		log = zap.NewNop()
	}
	connections := newAgentShare(ctx, base.Agent, claimsPerConnection(base.Config.Streams()), log)
	defer connections.close()
	summaries := make([]progress.Summary, len(claims))
	var wg sync.WaitGroup
	for i, c := range claims {
		opts := base
		opts.Module, opts.Dest = c.Module, c.Dest
		// Only the claim's own: a person accepts one volume's change.
		opts.AcceptSourceChange = c.AcceptSourceChange
		opts.Reporter = progress.NewReporter(shared, progress.ReporterOptions{Interval: interval, Claim: c.Module})
		opts.Logger = log.With(zap.String("claim", c.Module))
		opts.sharedAgent = connections.forClaim(i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			summaries[i] = Run(ctx, opts)
		}()
	}
	wg.Wait()
	for i, c := range claims {
		again := progress.NewReporter(shared, progress.ReporterOptions{Claim: c.Module})
		if err := again.Summary(summaries[i]); err != nil {
			log.Error("write summary", zap.String("claim", c.Module), zap.Error(err))
		}
	}
	return summaries
}

// WorstOutcome is the most severe of the summaries' outcomes: what a
// mover filling many volumes exits with.
func WorstOutcome(summaries []progress.Summary) rsyncargs.Outcome {
	worst := rsyncargs.Outcome{Class: rsyncargs.ClassSuccess}
	for _, s := range summaries {
		worst = rsyncargs.Worse(worst, s.Outcome)
	}
	return worst
}

// lockedWriter lets the claims' reporters share one output: each line is
// one Write, and no two interleave.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
