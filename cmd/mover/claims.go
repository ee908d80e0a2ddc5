package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

// parseClaims reads the --claim volumes of a mover that fills many, and
// the modules whose change a person accepted. --module and --dest name the
// one volume of a mover that fills one, so they may not come with --claim.
func parseClaims(fs *flag.FlagSet, claimFlags, acceptFor []string) ([]mover.Claim, error) {
	if len(claimFlags) == 0 {
		if len(acceptFor) > 0 {
			return nil, errors.New("--accept-source-change-for names a --claim module; there is none")
		}
		return nil, nil
	}
	var single error
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "module" || f.Name == "dest" {
			single = fmt.Errorf("--%s names the one volume of a mover without --claim; give each volume as --claim MODULE=DIR", f.Name)
		}
	})
	if single != nil {
		return nil, single
	}
	accepted := map[string]bool{}
	for _, m := range acceptFor {
		accepted[m] = true
	}
	claims := make([]mover.Claim, 0, len(claimFlags))
	seen := map[string]bool{}
	for _, c := range claimFlags {
		module, dir, ok := strings.Cut(c, "=")
		if !ok || module == "" || dir == "" {
			return nil, fmt.Errorf("--claim %q: want MODULE=DIR", c)
		}
		if seen[module] {
			return nil, fmt.Errorf("--claim %q: module %s is given twice", c, module)
		}
		seen[module] = true
		claims = append(claims, mover.Claim{Module: module, Dest: dir, AcceptSourceChange: accepted[module]})
		delete(accepted, module)
	}
	for m := range accepted {
		return nil, fmt.Errorf("--accept-source-change-for %s: no --claim serves that module", m)
	}
	return claims, nil
}

// runClaims fills every claim at once and exits with the worst outcome.
func runClaims(ctx context.Context, log *zap.Logger, opts mover.Options, claims []mover.Claim, interval time.Duration, terminationLog string) int {
	summaries := mover.RunClaims(ctx, opts, claims, os.Stdout, interval)
	return endClaims(log, summaries, claims, terminationLog)
}

// claimSummaries is sum for every claim: a failure before any of them ran.
func claimSummaries(claims []mover.Claim, sum progress.Summary) []progress.Summary {
	summaries := make([]progress.Summary, len(claims))
	for i, c := range claims {
		summaries[i] = sum
		if err := progress.NewReporter(os.Stdout, progress.ReporterOptions{Claim: c.Module}).Summary(sum); err != nil {
			fmt.Fprintln(os.Stderr, "mover: write summary:", err)
		}
	}
	return summaries
}

// endClaims writes the termination message of a mover that fills many
// volumes and returns its exit code. Twenty whole summaries do not fit the
// message's 4 KiB, so it only names each claim's outcome, for a person
// reading the pod; the summaries themselves are in the log, one line per
// claim (mover.RunClaims), and a reader that cannot read the log treats
// the claim as lost rather than guess.
func endClaims(log *zap.Logger, summaries []progress.Summary, claims []mover.Claim, terminationLog string) int {
	if terminationLog != "" {
		var b strings.Builder
		b.WriteString("summaries are in the log, one per claim:")
		for i, s := range summaries {
			b.WriteString(fmt.Sprintf(" %s %s", claims[i].Module, s.Outcome.Class))
		}
		msg := b.String()
		if len(msg) > progress.TerminationMessageLimit {
			msg = msg[:progress.TerminationMessageLimit]
		}
		if err := os.WriteFile(terminationLog, []byte(msg), 0o644); err != nil {
			log.Warn("termination message not written", zap.Error(err))
		}
	}
	return exitCode(mover.WorstOutcome(summaries))
}
