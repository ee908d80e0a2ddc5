package mover

import (
	"bufio"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

// TopEntry is one line of `rsync --list-only` on the module root.
type TopEntry struct {
	Name  string
	IsDir bool
}

var (
	permsRe = regexp.MustCompile(`^[-dlcbps][-rwxsStT]{9}$`)
	dateRe  = regexp.MustCompile(`^[0-9]{4}/[0-9]{2}/[0-9]{2}$`)
	clockRe = regexp.MustCompile(`^[0-9]{2}:[0-9]{2}:[0-9]{2}$`)
)

// ParseListOnly parses `rsync --list-only` output:
//
//	drwxr-xr-x          4,096 2025/01/02 03:04:05 name with  spaces
//
// The name is everything after the single space that follows the time
// column (so leading spaces survive), with rsync's \#ooo escapes decoded.
// The "." entry is skipped. Symlink names are not used by the planner, so
// their "name -> target" form needs no splitting.
func ParseListOnly(out string) ([]TopEntry, error) {
	var entries []TopEntry
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		rest := line
		var fields [4]string
		for i := range fields {
			rest = strings.TrimLeft(rest, " ")
			j := strings.IndexByte(rest, ' ')
			if j < 0 {
				return nil, fmt.Errorf("parse list-only line %q: too few fields", line)
			}
			fields[i], rest = rest[:j], rest[j+1:]
		}
		if !permsRe.MatchString(fields[0]) || !dateRe.MatchString(fields[2]) || !clockRe.MatchString(fields[3]) || rest == "" {
			return nil, fmt.Errorf("parse list-only line %q: unexpected format", line)
		}
		name := progress.Unescape(rest)
		if name == "." {
			continue
		}
		entries = append(entries, TopEntry{Name: name, IsDir: fields[0][0] == 'd'})
	}
	return entries, sc.Err()
}

// StreamPlan is the work of one parallel rsync stream.
type StreamPlan struct {
	// Root is true for the stream that copies the module root (top-level
	// files, links and directories not handed to other streams) and runs
	// --delete at the top level.
	Root bool
	// Dirs are the top-level directories this stream copies (Root=false),
	// or the ones the root stream excludes because others copy them.
	Dirs []string
	// MaxDelete is this stream's share of the data guard's deletion
	// allowance (see LimitStreams); nil means no limit.
	MaxDelete *int64
}

// splittable reports whether a top-level directory may be handed to another
// stream. The root stream excludes such directories with an anchored
// pattern, so names that rsync would read as a wildcard pattern, or with
// edge whitespace or control characters, stay with the root stream.
func splittable(name string) bool {
	if name == "" || strings.ContainsAny(name, "*?[\\/") || strings.TrimSpace(name) != name {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// PlanStreams splits the top level into at most n streams: splittable
// directories are dealt round-robin in name order starting with stream 1;
// stream 0 is the root stream and also takes everything else. Hard links
// between directories of different streams are copied as separate files
// (each stream sees only its own tree); with n <= 1 the plan is a single root
// stream.
func PlanStreams(entries []TopEntry, n int) []StreamPlan {
	var dirs []string
	for _, e := range entries {
		if e.IsDir && splittable(e.Name) {
			dirs = append(dirs, e.Name)
		}
	}
	sort.Strings(dirs)
	if n <= 1 || len(dirs) == 0 {
		return []StreamPlan{{Root: true}}
	}
	n = min(n, len(dirs)+1)
	plans := make([]StreamPlan, n)
	plans[0].Root = true
	var handedOff []string
	for i, d := range dirs {
		s := (i + 1) % n // start at stream 1: the root stream already has the top-level files
		if s == 0 {
			continue // the root stream copies it in place
		}
		plans[s].Dirs = append(plans[s].Dirs, d)
		handedOff = append(handedOff, d)
	}
	plans[0].Dirs = handedOff
	// Drop streams that got nothing.
	out := plans[:1]
	for _, p := range plans[1:] {
		if len(p.Dirs) > 0 {
			out = append(out, p)
		}
	}
	return out
}
