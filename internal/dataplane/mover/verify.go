package mover

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.uber.org/zap"

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
	err := walkRegular(root, func(p string) error {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	return out, err
}

// countRegularFiles counts the regular files under root (hard links once per
// name, as rsync counts them), holding no list: a DR copy may have millions.
func countRegularFiles(root string) (int64, error) {
	var n int64
	err := walkRegular(root, func(string) error { n++; return nil })
	return n, err
}

// walkRegular calls fn with the path of every regular file under root,
// skipping nothing; symlinks are not followed.
func walkRegular(root string, fn func(path string) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			return fn(p)
		}
		return nil
	})
}

// mismatch is one sampled file whose content differs from the source.
type mismatch struct {
	name string
	// sourceChanged: its size or mtime differs too. The copy set both from
	// the source, so the source file changed after the copy read it.
	sourceChanged bool
}

// parseVerifyLine returns the file named by an itemized verification line
// when its content differs (itemize starts with ">f": rsync would transfer
// it). The itemize string is YXcstpoguax: "s" at 3 and "t" at 4 mean the
// size and the mtime differ.
func parseVerifyLine(line string) (mismatch, bool) {
	rest, ok := strings.CutPrefix(line, rsyncargs.VerifyLinePrefix)
	if !ok {
		return mismatch{}, false
	}
	item, name, ok := strings.Cut(rest, "\t")
	if !ok || !strings.HasPrefix(item, ">f") {
		return mismatch{}, false
	}
	changed := len(item) > 4 && (item[3] == 's' || item[4] == 't')
	return mismatch{name: progress.Unescape(name), sourceChanged: changed}, true
}

// ErrVerificationFailed marks files whose content differs after the copy.
var ErrVerificationFailed = errors.New("verification failed")

// verifySample checksums a deterministic sample of the copied files against
// the source with a dry run: rsync compares full-file checksums on both
// sides and itemizes every file it would have to transfer.
//
// The source may be a live volume that is written while the sync runs, so a
// mismatch is not yet damage. Every mismatch is copied once more (by
// checksum) and compared again. What then matches was a file that changed
// after the copy read it, or a damaged copy now repaired (Repaired). What
// still differs with its size or mtime changed is a file that keeps being
// written: it is reported in SkippedLive, not as damage. Only content that
// still differs under the source's unchanged size and mtime fails the sync.
func (r *run) verifySample(ctx context.Context, url, dest string) (*progress.Verification, rsyncargs.Outcome, error) {
	v := &progress.Verification{Mode: rsyncargs.VerifySample}
	files, err := regularFiles(dest)
	if err != nil {
		return v, notRun(rsyncargs.ClassPermanent, "verification: list copy"), fmt.Errorf("list %s: %w", dest, err)
	}
	sample := SelectSample(files, r.opts.Config.SamplePercent)
	v.FilesChecked = len(sample)
	if len(sample) == 0 {
		return v, rsyncargs.Outcome{}, nil
	}
	first, out, err := r.compare(ctx, url, dest, sample)
	if err != nil || len(first) == 0 {
		return v, out, err
	}
	again := make([]string, len(first))
	for i, m := range first {
		again[i] = m.name
	}
	r.log.Info("verification: copying mismatches again", zap.Int("files", len(again)))
	if out, err := r.withList(again, "re-copy", func(list string) (rsyncargs.Outcome, error) {
		args, err := rsyncargs.BuildRecopy(r.opts.Config, url, dest, list)
		if err != nil {
			return notRun(rsyncargs.ClassPermanent, "verification: build re-copy arguments"), err
		}
		return r.runListed(ctx, args, "re-copy", func(string) {})
	}); err != nil {
		return v, out, err
	}
	second, out, err := r.compare(ctx, url, dest, again)
	if err != nil {
		return v, out, err
	}
	judgeMismatches(v, again, second)
	if v.MismatchCount > 0 {
		// Same size and mtime as the source but different content, even
		// after a fresh copy: retrying the same sync cannot help.
		return v, notRun(rsyncargs.ClassPermanent, "verification found differing files"),
			fmt.Errorf("%w: %d of %d sampled files differ after copying them again", ErrVerificationFailed, v.MismatchCount, v.FilesChecked)
	}
	return v, rsyncargs.Outcome{}, nil
}

// judgeMismatches fills v from the second comparison of the files copied
// again: what matches now was repaired, what changed on the source again is
// live, the rest is damage.
func judgeMismatches(v *progress.Verification, again []string, second []mismatch) {
	still := make(map[string]bool, len(second))
	for _, m := range second {
		still[m.name] = true
		if m.sourceChanged {
			v.SkippedLiveCount++
			if len(v.SkippedLive) < maxReportedMismatches {
				v.SkippedLive = append(v.SkippedLive, m.name)
			}
			continue
		}
		v.MismatchCount++
		if len(v.Mismatched) < maxReportedMismatches {
			v.Mismatched = append(v.Mismatched, m.name)
		}
	}
	for _, name := range again {
		if !still[name] {
			v.RepairedCount++
			if len(v.Repaired) < maxReportedMismatches {
				v.Repaired = append(v.Repaired, name)
			}
		}
	}
}

// compare checksums files against the source (a dry run) and returns those
// whose content differs.
func (r *run) compare(ctx context.Context, url, dest string, files []string) ([]mismatch, rsyncargs.Outcome, error) {
	var found []mismatch
	out, err := r.withList(files, "compare", func(list string) (rsyncargs.Outcome, error) {
		args, err := rsyncargs.BuildVerify(r.opts.Config, url, dest, list)
		if err != nil {
			return notRun(rsyncargs.ClassPermanent, "verification: build arguments"), err
		}
		return r.runListed(ctx, args, "verify", func(line string) {
			if m, ok := parseVerifyLine(line); ok {
				found = append(found, m)
			}
		})
	})
	return found, out, err
}

// runListed runs one verification rsync. A file that vanished from the
// source since the copy (exit 24) was deleted by the application: that is a
// live volume, not damage, and the other files were still compared.
func (r *run) runListed(ctx context.Context, args []string, phase string, onLine func(string)) (rsyncargs.Outcome, error) {
	res, err := runRsync(ctx, r.rsync, args, r.opts.Credentials, r.log.With(zap.String("phase", phase)), onLine)
	if err != nil {
		return notRun(rsyncargs.ClassRetryable, "verification: run rsync"), err
	}
	out := rsyncargs.ClassifyExit(res.Code) // 0, and 24: vanished files
	if out.Class == rsyncargs.ClassSuccess {
		return rsyncargs.Outcome{}, nil
	}
	return out, fmt.Errorf("verification %s: rsync exit %d: %s", phase, res.Code, res.StderrTail)
}

// withList writes files as a NUL-separated list for --files-from and runs fn
// with its path.
func (r *run) withList(files []string, what string, fn func(list string) (rsyncargs.Outcome, error)) (rsyncargs.Outcome, error) {
	list, err := os.CreateTemp("", "verify-*.list")
	if err != nil {
		return notRun(rsyncargs.ClassRetryable, "verification: temp file"), err
	}
	defer os.Remove(list.Name())
	_, err = list.WriteString(strings.Join(files, "\x00") + "\x00")
	if cerr := list.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return notRun(rsyncargs.ClassRetryable, "verification: write list for "+what), err
	}
	return fn(filepath.Clean(list.Name()))
}
