package mover

import (
	"context"

	"go.uber.org/zap"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// copyResult is what a copy did: its outcome, its stats, rsync's error
// text, how many streams ran and the copy's progress at its end.
type copyResult struct {
	outcome  rsyncargs.Outcome
	stats    progress.Stats
	errText  string
	streams  int
	progress progress.Snapshot
}

// copyTree copies the source into dest with the streams the config asks
// for, within the data guard's allowance.
//
// A copy the pre-flight proved needless is not run: its dry run, with the
// copy's own options, itemized nothing the copy would change (no file, no
// attribute, no link, no deletion) and exited whole. A no-change resync
// then runs one rsync per volume instead of two, and the DR copy is
// exactly what the copy would have left. Not when the copy compares by
// checksum (full verification, or the user's --checksum), which the dry
// run leaves out: a file changed under the same size and time is found
// only by the copy.
func (r *run) copyTree(ctx context.Context, url, dest string, guard guardResult) copyResult {
	if guard.unchanged && rsyncargs.PreflightComparesAsCopy(r.opts.Config) {
		r.log.Info("the pre-flight found nothing to change; no copy runs",
			zap.Int64("files", guard.stats.NumFiles), zap.Int64("bytes", guard.stats.TotalFileSize))
		done := rsyncargs.ClassifyExit(0)
		done.Reason = "the pre-flight found nothing to change"
		return copyResult{outcome: done, stats: guard.stats, progress: unchangedSnapshot(guard.stats, r.snapshot().ElapsedSeconds)}
	}
	plans := []StreamPlan{{Root: true}}
	if streams := r.opts.Config.Streams(); streams > 1 {
		entries, out, err := r.listTop(ctx, url)
		if err != nil {
			return copyResult{outcome: out, errText: err.Error(), progress: r.snapshot()}
		}
		plans = PlanStreams(entries, streams)
	}
	plans = LimitStreams(plans, guard.allowance, guard.byTop)
	outcome, stats, errText := r.runStreams(ctx, plans, url, dest)
	if outcome.Class == rsyncargs.ClassSuccess && len(plans) > 1 {
		outcome, errText = r.fixRootAttrs(ctx, url, dest)
	}
	return copyResult{outcome: outcome, stats: stats, errText: errText, streams: len(plans), progress: r.snapshot()}
}

// unchangedSnapshot is the progress of a copy that did not need to run:
// the whole source, as the pre-flight counted it, is in place.
func unchangedSnapshot(s progress.Stats, elapsed float64) progress.Snapshot {
	return progress.Snapshot{BytesDone: s.TotalFileSize, BytesTotal: s.TotalFileSize, Percent: 100,
		FilesDone: int(s.NumFiles), FilesTotal: int(s.NumFiles), ScanComplete: true, ElapsedSeconds: elapsed}
}
