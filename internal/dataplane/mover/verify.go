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

// ErrVerificationFailed marks files whose content differs after the copy.
var ErrVerificationFailed = errors.New("verification failed")

// verifySample checksums a deterministic sample of the copied files against
// the source with a dry run: rsync compares full-file checksums on both
// sides and itemizes every file it would have to transfer.
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
	list, err := os.CreateTemp("", "verify-*.list")
	if err != nil {
		return v, notRun(rsyncargs.ClassRetryable, "verification: temp file"), err
	}
	defer os.Remove(list.Name())
	_, err = list.WriteString(strings.Join(sample, "\x00") + "\x00")
	if cerr := list.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return v, notRun(rsyncargs.ClassRetryable, "verification: write list"), err
	}
	args, err := rsyncargs.BuildVerify(r.opts.Config, url, dest, filepath.Clean(list.Name()))
	if err != nil {
		return v, notRun(rsyncargs.ClassPermanent, "verification: build arguments"), err
	}
	res, err := runRsync(ctx, r.rsync, args, r.opts.Credentials, r.log.With(zap.String("phase", "verify")), func(line string) {
		if name, ok := parseVerifyLine(line); ok {
			v.MismatchCount++
			if len(v.Mismatched) < maxReportedMismatches {
				v.Mismatched = append(v.Mismatched, name)
			}
		}
	})
	if err != nil {
		return v, notRun(rsyncargs.ClassRetryable, "verification: run rsync"), err
	}
	if res.Code != 0 {
		out := rsyncargs.ClassifyExit(res.Code)
		if out.Class == rsyncargs.ClassSuccess {
			out.Class = rsyncargs.ClassRetryable // vanished files: sample again next run
		}
		return v, out, fmt.Errorf("verification rsync exit %d: %s", res.Code, res.StderrTail)
	}
	if v.MismatchCount > 0 {
		// Same size and mtime but different content: the normal quick check
		// will not repair it, so retrying the same sync cannot help.
		return v, notRun(rsyncargs.ClassPermanent, "verification found differing files"),
			fmt.Errorf("%w: %d of %d sampled files differ", ErrVerificationFailed, v.MismatchCount, v.FilesChecked)
	}
	return v, rsyncargs.Outcome{}, nil
}
