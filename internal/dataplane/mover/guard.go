package mover

import "github.com/dr-syncer/dr-syncer/internal/dataplane/progress"

// The data guard keeps a source that was emptied or re-created from wiping
// the last good DR copy: rsync --delete would mirror the loss and report
// success. Before any byte moves, a dry run counts the source's regular files
// and the deletions the copy would make, and Decide judges those counts.

// GuardMinPercent is the share of the DR copy's regular files the source must
// hold: below it the sync is refused until a person accepts the change.
const GuardMinPercent = 10

// guardMarginPercent is the share of the DR copy's regular files the copy may
// delete beyond what the pre-flight saw: files a live volume deletes between
// the two runs. It is small so that a source wiped in that window still trips
// --max-delete long before the DR copy is gone.
const guardMarginPercent = 1

// GuardCounts are the facts the guard judges.
type GuardCounts struct {
	// DRFiles are the regular files in the DR copy now.
	DRFiles int64
	// SourceFiles are the regular files the copy would leave (the source's,
	// after excludes).
	SourceFiles int64
	// Deletions is what the pre-flight dry run would delete: files,
	// directories and links, as rsync's --max-delete counts them.
	Deletions int64
}

// GuardDecision is the guard's ruling on one sync.
type GuardDecision struct {
	// Reason is empty when the sync may go ahead, else why it may not
	// (progress.GuardSourceShrank).
	Reason string
	// MaxDelete is the copy's deletion allowance (rsync --max-delete, where 0
	// deletes nothing); nil means no limit.
	MaxDelete *int64
}

// Refused reports whether the sync must not run.
func (d GuardDecision) Refused() bool { return d.Reason != "" }

// Decide rules on one sync:
//
//   - acknowledged (a person accepted the change): go ahead, no limit;
//   - the DR copy holds no regular file (first sync): go ahead, no limit;
//   - the source holds under GuardMinPercent of the DR copy's regular files
//     (an empty source is 0 of N): refuse with GuardSourceShrank;
//   - otherwise go ahead with the allowance below.
//
// The allowance is the deletions the pre-flight saw plus a margin of
// guardMarginPercent of the DR copy's regular files (at least one) for churn
// between the two runs. The margin never takes the allowance past the floor
// budget (DR files minus GuardMinPercent of them, rounded up: what the copy
// could lose and still hold a tenth), but the allowance is never below the
// deletions seen, which were judged already: otherwise an unchanged source
// would trip the limit on every run. Counting every deletion against the
// DR's regular files is conservative, as directories and links count too.
func Decide(c GuardCounts, acknowledged bool) GuardDecision {
	switch {
	case acknowledged, c.DRFiles <= 0:
		return GuardDecision{}
	case c.SourceFiles*100 < c.DRFiles*GuardMinPercent:
		return GuardDecision{Reason: progress.GuardSourceShrank}
	}
	keep := ceilPercent(c.DRFiles, GuardMinPercent)
	budget := c.DRFiles - keep
	margin := max(ceilPercent(c.DRFiles, guardMarginPercent), 1)
	allowance := c.Deletions + min(max(budget-c.Deletions, 0), margin)
	return GuardDecision{MaxDelete: &allowance}
}

// ceilPercent is percent% of n, rounded up.
func ceilPercent(n, percent int64) int64 {
	return (n*percent + 99) / 100
}

// LimitStreams gives each stream its share of the allowance, so that the
// streams together never delete more than it: each stream gets the
// deletions the pre-flight saw in its part of the tree (byTop counts them by
// top-level name; names no other stream copies belong to the root stream),
// and the rest of the allowance is dealt evenly, the remainder to the root
// stream. A nil allowance leaves every stream unlimited. The plans are
// returned as new values; the input is not changed.
func LimitStreams(plans []StreamPlan, allowance *int64, byTop map[string]int64) []StreamPlan {
	out := append([]StreamPlan(nil), plans...)
	if allowance == nil || len(out) == 0 {
		return out
	}
	limits := make([]int64, len(out))
	rootIdx := 0
	owner := map[string]int{}
	for i, p := range out {
		if p.Root {
			rootIdx = i
			continue
		}
		for _, d := range p.Dirs {
			owner[d] = i
		}
	}
	var seen int64
	for name, n := range byTop {
		i, ok := owner[name]
		if !ok {
			i = rootIdx
		}
		limits[i] += n
		seen += n
	}
	rest := *allowance - seen
	if rest < 0 {
		// The deletion lines and the stats disagree; never exceed the
		// allowance: the root stream gets it all, a retry re-plans.
		clear(limits)
		limits[rootIdx], rest = *allowance, 0
	}
	share := rest / int64(len(out))
	for i := range limits {
		limits[i] += share
	}
	limits[rootIdx] += rest % int64(len(out))
	for i := range out {
		out[i].MaxDelete = &limits[i]
	}
	return out
}
