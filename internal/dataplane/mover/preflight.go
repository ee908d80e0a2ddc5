package mover

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// ErrSourceShrank marks a sync the data guard refused because the source
// holds under GuardMinPercent of the DR copy's regular files.
var ErrSourceShrank = errors.New("data guard: the source shrank")

// guardResult is what the pre-flight hands to the copy.
type guardResult struct {
	// verdict is nil when the pre-flight did not run (empty DR copy).
	verdict *progress.GuardVerdict
	// allowance is the copy's deletion limit; nil means none.
	allowance *int64
	// byTop counts the deletions seen by top-level name (see LimitStreams).
	byTop map[string]int64
	// unchanged: the dry run ran whole (exit 0) and found nothing the copy
	// would change; stats are its --stats.
	unchanged bool
	stats     progress.Stats
}

// preflight is the data guard: it runs before any byte moves. An empty DR
// copy (first sync) needs no check and costs nothing extra. Otherwise one dry
// run over the whole tree, with the copy's own options, counts the source's
// regular files and the deletions, and Decide rules. A refusal is returned
// as an error wrapping ErrSourceShrank with the verdict filled in.
func (r *run) preflight(ctx context.Context, url, dest string) (guardResult, rsyncargs.Outcome, error) {
	drFiles, err := countRegularFiles(dest)
	if err != nil {
		return guardResult{}, notRun(rsyncargs.ClassPermanent, "data guard: count the DR copy's files"), fmt.Errorf("count files in %s: %w", dest, err)
	}
	if drFiles == 0 {
		r.log.Info("data guard: DR copy holds no regular file, first sync needs no pre-flight")
		return guardResult{}, rsyncargs.Outcome{}, nil
	}
	counts, out, err := r.dryRun(ctx, url, dest)
	if err != nil {
		return guardResult{}, out, err
	}
	unchanged := out.ExitCode == 0 && counts.Changes == 0 && counts.Deletions == 0
	ack := r.opts.AcceptSourceChange
	d := Decide(GuardCounts{DRFiles: drFiles, SourceFiles: counts.SourceFiles, Deletions: counts.Deletions}, ack)
	v := &progress.GuardVerdict{Reason: d.Reason, SourceFiles: counts.SourceFiles, DRFiles: drFiles,
		Deletions: counts.Deletions, MaxDelete: d.MaxDelete, Acknowledged: ack}
	fields := []zap.Field{zap.Int64("dr_files", drFiles), zap.Int64("source_files", counts.SourceFiles),
		zap.Int64("deletions", counts.Deletions), zap.Bool("acknowledged", ack)}
	if d.MaxDelete != nil {
		fields = append(fields, zap.Int64("max_delete", *d.MaxDelete))
	}
	if d.Refused() {
		r.log.Warn("data guard refused the sync", append(fields, zap.String("reason", d.Reason))...)
		return guardResult{verdict: v},
			notRun(rsyncargs.ClassPermanent, fmt.Sprintf("data guard: the source holds under %d%% of the DR copy's files", GuardMinPercent)),
			fmt.Errorf("%w: the source holds %d regular files, the DR copy %d; the sync would delete %d; nothing was copied or deleted",
				ErrSourceShrank, counts.SourceFiles, drFiles, counts.Deletions)
	}
	r.log.Info("data guard passed", fields...)
	return guardResult{verdict: v, allowance: d.MaxDelete, byTop: counts.DeletionsByTop, unchanged: unchanged, stats: counts.Stats}, rsyncargs.Outcome{}, nil
}

// dryRun runs the pre-flight rsync and parses its counts; its outcome says
// how rsync exited (24: files vanished while it listed).
func (r *run) dryRun(ctx context.Context, url, dest string) (PreflightCounts, rsyncargs.Outcome, error) {
	args, err := rsyncargs.BuildPreflight(r.opts.Config, rsyncargs.Transfer{Sources: []string{url}, Dest: dest})
	if err != nil {
		return PreflightCounts{}, notRun(rsyncargs.ClassPermanent, "data guard: build pre-flight arguments"), err
	}
	log := r.log.With(zap.String("phase", "preflight"))
	log.Info("rsync pre-flight starting", zap.Strings("args", args))
	var p preflightParser
	res, err := runRsync(ctx, r.rsync, args, r.opts.Credentials, log, p.Feed)
	if err != nil {
		return PreflightCounts{}, notRun(rsyncargs.ClassPermanent, "data guard: run pre-flight"), err
	}
	out := rsyncargs.ClassifyExit(res.Code)
	switch {
	case res.Code == rsyncargs.ExitMaxDelete:
		// Only the user's own limit is in force in the dry run.
		return PreflightCounts{}, userMaxDeleteStopped(), fmt.Errorf("pre-flight dry run: %s", res.StderrTail)
	case out.Class != rsyncargs.ClassSuccess: // exit 24 (vanished files) still prints full counts
		out.Reason = "pre-flight dry run: " + out.Reason
		return PreflightCounts{}, out, fmt.Errorf("pre-flight dry run: rsync exit %d: %s", res.Code, res.StderrTail)
	}
	counts, err := p.Result()
	if err != nil {
		return PreflightCounts{}, notRun(rsyncargs.ClassPermanent, "data guard: read pre-flight counts"), err
	}
	return counts, out, nil
}

// userMaxDeleteStopped is exit 25 when no guard allowance was in force, so
// the user's own rsyncOptions --max-delete stopped deletions: it trips the
// same way on every run, so retrying cannot help.
func userMaxDeleteStopped() rsyncargs.Outcome {
	return rsyncargs.Outcome{Class: rsyncargs.ClassPermanent, ExitCode: rsyncargs.ExitMaxDelete,
		Reason: "the --max-delete limit in rsyncOptions stopped deletions"}
}
