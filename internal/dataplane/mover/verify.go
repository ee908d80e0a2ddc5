package mover

import (
	"hash/fnv"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// SelectSample picks about percent% of paths, deterministically: a path is
// chosen when the FNV-1a hash of its name falls in the first percent% of the
// hash space, so the same file is sampled on every run and on every replica
// of the decision, and the choice does not depend on listing order. At least
// one path is chosen when paths is not empty.
func SelectSample(paths []string, percent int) []string {
	if percent >= 100 {
		out := append([]string(nil), paths...)
		sort.Strings(out)
		return out
	}
	var out []string
	bestPath, bestHash := "", uint64(1<<64-1)
	for _, p := range paths {
		h := fnv.New64a()
		_, _ = h.Write([]byte(p))
		v := h.Sum64()
		if v%10000 < uint64(percent)*100 {
			out = append(out, p)
		}
		if v < bestHash {
			bestPath, bestHash = p, v
		}
	}
	if len(out) == 0 && len(paths) > 0 {
		out = []string{bestPath}
	}
	sort.Strings(out)
	return out
}

// regularFiles lists the regular files under root as slash paths.
func regularFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	return out, err
}

// parseVerifyLine returns the file named by an itemized verification line
// when its content differs (itemize starts with ">f": rsync would transfer it).
func parseVerifyLine(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, rsyncargs.VerifyLinePrefix)
	if !ok {
		return "", false
	}
	item, name, ok := strings.Cut(rest, "\t")
	if !ok || !strings.HasPrefix(item, ">f") {
		return "", false
	}
	return progress.Unescape(name), true
}
