package mover

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// PreflightCounts is what the data guard reads from its dry run
// (rsyncargs.BuildPreflight) under LC_ALL=C, change lines tab-separated:
//
//	change	*deleting  	old/z
//	change	>f.st......	a/f1
//	Number of files: 1,234 (reg: 1,000, dir: 234)
//	Number of deleted files: 315 (reg: 314, dir: 1)
type PreflightCounts struct {
	// SourceFiles is the "reg:" part of "Number of files": the regular files
	// the copy would hold. Absent means none (an empty module prints
	// "Number of files: 1 (dir: 1)").
	SourceFiles int64
	// Deletions is "Number of deleted files"; when rsync printed no such
	// line, the "deleting" lines are counted instead.
	Deletions int64
	// DeletionsByTop counts the "deleting" lines by the first component of
	// the path, so the allowance can be split between parallel streams.
	DeletionsByTop map[string]int64
	// Changes counts the items the copy would change in any way, deletions
	// included (rsyncargs.ChangeLinePrefix lines).
	Changes int64
	// Stats are the dry run's --stats: the source's files and sizes.
	Stats progress.Stats
}

// ErrNoPreflightStats marks a dry run whose output held no --stats block.
var ErrNoPreflightStats = errors.New("pre-flight dry run printed no file count")

// preflightParser folds the dry run's stdout, line by line, into
// PreflightCounts. It is pure and keeps memory bounded by the number of
// top-level names, not by the number of deletions.
type preflightParser struct {
	counts       PreflightCounts
	sawFiles     bool
	sawDeleted   bool
	deletedLines int64
}

const deletingPrefix = "deleting "

var regCountRe = regexp.MustCompile(`[(,] ?reg: ([0-9][0-9,]*)`)

// itemizedDeletion is rsync's %i of a deletion.
const itemizedDeletion = "*deleting"

// Feed consumes one stdout line.
func (p *preflightParser) Feed(line string) {
	if rest, ok := strings.CutPrefix(line, rsyncargs.ChangeLinePrefix); ok {
		p.counts.Changes++
		// rsync prints deletions here, not as "deleting" lines, once its
		// --out-format has %i.
		if item, name, ok := strings.Cut(rest, "\t"); ok && strings.HasPrefix(item, itemizedDeletion) {
			p.deletion(name)
		}
		return
	}
	if name, ok := strings.CutPrefix(line, deletingPrefix); ok && name != "" {
		p.deletion(name)
		return
	}
	s := &p.counts.Stats
	if !progress.ParseStatsLine(line, s) {
		return
	}
	switch {
	case strings.HasPrefix(line, "Number of files: "):
		p.sawFiles = true
		p.counts.SourceFiles = 0
		if m := regCountRe.FindStringSubmatch(line); m != nil {
			p.counts.SourceFiles, _ = strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
		}
	case strings.HasPrefix(line, "Number of deleted files: "):
		p.sawDeleted = true
		p.counts.Deletions = s.DeletedFiles
	}
}

func (p *preflightParser) deletion(name string) {
	if name == "" {
		return
	}
	top, _, _ := strings.Cut(name, "/")
	if p.counts.DeletionsByTop == nil {
		p.counts.DeletionsByTop = map[string]int64{}
	}
	p.counts.DeletionsByTop[progress.Unescape(top)]++
	p.deletedLines++
}

// Result returns the counts, or ErrNoPreflightStats when the file count
// never came: without it the guard cannot judge, so it must not guess.
func (p *preflightParser) Result() (PreflightCounts, error) {
	if !p.sawFiles {
		return PreflightCounts{}, ErrNoPreflightStats
	}
	c := p.counts
	if !p.sawDeleted {
		c.Deletions = p.deletedLines
	}
	return c, nil
}
