package rsyncargs

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FileLinePrefix starts every per-file line rsync prints (--out-format).
// rsync escapes newlines and carriage returns inside names (as \#012, \#015),
// so a line starting with this prefix is always a file line, never the tail of
// a name, and progress lines start with spaces.
const FileLinePrefix = "xfer\t"

// ChangeLinePrefix starts the pre-flight's line for each item the copy
// would change in any way (rsync's itemized %i, a tab, then %n): a transfer, an
// attribute, a link or a deletion ("*deleting"). A dry run that prints
// none found the DR copy already equal to the source.
const ChangeLinePrefix = "change\t"

// VerifyLinePrefix starts every itemized line of a verification run.
const VerifyLinePrefix = "verify\t"

// ErrInvalidTransfer marks a Transfer whose endpoints cannot be used.
var ErrInvalidTransfer = errors.New("invalid rsync transfer")

// Transfer names the endpoints of one rsync run.
type Transfer struct {
	// Sources are rsync sources, normally rsync:// URLs of the mount pod's module.
	Sources []string
	// Dest is the local destination directory.
	Dest string
	// StreamExcludes are anchored, already-escaped patterns that hand parts of
	// the tree to other parallel streams. They come from the mover, not the user.
	StreamExcludes []string
	// MaxDelete is the data guard's deletion allowance for this run (0 means
	// delete nothing); nil means the guard sets no limit.
	MaxDelete *int64
}

func (t Transfer) check() error {
	if len(t.Sources) == 0 {
		return fmt.Errorf("%w: no source", ErrInvalidTransfer)
	}
	for _, s := range append([]string{t.Dest}, t.Sources...) {
		if s == "" || strings.HasPrefix(s, "-") {
			return fmt.Errorf("%w: endpoint %q", ErrInvalidTransfer, s)
		}
	}
	for _, p := range t.StreamExcludes {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("%w: stream exclude %q is not anchored", ErrInvalidTransfer, p)
		}
	}
	if t.MaxDelete != nil && *t.MaxDelete < 0 {
		return fmt.Errorf("%w: max-delete %d", ErrInvalidTransfer, *t.MaxDelete)
	}
	return nil
}

// Build returns the rsync argv (without the program name) for the main copy.
//
// Flag choices, each measured or required by the design:
//   - --archive --hard-links --acls --xattrs --numeric-ids: an identical copy;
//     numeric ids because the DR node's /etc/passwd is not the source's.
//   - --sparse: holes stay holes (compatible with --inplace since rsync 3.1.3).
//   - --partial --inplace: an interrupted transfer resumes from what is
//     already on disk; --inplace also halves the resync of a big, slightly
//     changed file. Never --append/--append-verify: they skip same-size
//     modified files.
//   - --delete: the DR copy mirrors the source.
//   - --modify-window=-1: compare mtimes to the nanosecond. rsync's default
//     compares whole seconds, so a same-size rewrite within the second of
//     the last sync (a database page file, say) would be skipped and the DR
//     copy silently stale. Users copying to a filesystem with coarse
//     timestamps can override it with --modify-window=N.
//   - no compression: it cost 13-26% on incompressible data on a LAN.
//   - --info=progress2 + --out-format + --stats: what the progress parser reads.
//   - --max-delete=N (after the user's options, so it wins) when the data
//     guard set an allowance: the smaller of it and the user's own limit.
func Build(cfg Config, t Transfer) ([]string, error) {
	return build(cfg, t, false)
}

// BuildPreflight returns the argv of the data guard's dry run over t: the
// copy's options, so it selects and deletes exactly what the copy would, plus
// --dry-run, --stats (source file count, deletions) and one ChangeLinePrefix
// line per item the copy would change, deletions among them ("*deleting",
// to split the allowance between streams). It prints no progress, and it
// drops every checksum option: counts do not depend on content, and
// --checksum would read the whole volume on both sides just to count files
// (so a dry run that itemizes nothing proves the copy needless only when
// PreflightComparesAsCopy).
func BuildPreflight(cfg Config, t Transfer) ([]string, error) {
	return build(cfg, t, true)
}

func build(cfg Config, t Transfer, preflight bool) ([]string, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := t.check(); err != nil {
		return nil, err
	}
	args := []string{
		"--archive", "--hard-links", "--acls", "--xattrs", "--numeric-ids",
		"--sparse", "--partial", "--inplace", "--delete", "--modify-window=-1",
		"--8-bit-output",
		"--timeout=" + seconds(time.Duration(cfg.IOTimeout), DefaultIOTimeout),
		"--contimeout=" + seconds(0, DefaultConnectTimeout),
	}
	if preflight {
		args = append(args, "--dry-run", "--info=del1", "--stats", "--out-format="+ChangeLinePrefix+"%i\t%n")
	} else {
		args = append(args, "--info=progress2", "--out-format="+FileLinePrefix+"%n", "--stats")
		if cfg.Mode() == VerifyFull {
			args = append(args, "--checksum")
		}
	}
	if cfg.BandwidthLimitKiB > 0 {
		args = append(args, "--bwlimit="+strconv.FormatInt(cfg.BandwidthLimitKiB, 10))
	}
	for _, p := range cfg.ExcludePaths {
		pattern, _ := ExcludePattern(p) // validated above
		args = append(args, "--exclude="+pattern)
	}
	for _, p := range t.StreamExcludes {
		args = append(args, "--exclude="+p)
	}
	for _, o := range cfg.RsyncOptions {
		if !preflight || !isChecksumOption(o) {
			args = append(args, o)
		}
	}
	if t.MaxDelete != nil {
		limit := *t.MaxDelete
		if user, ok := userMaxDelete(cfg.RsyncOptions); ok {
			limit = min(limit, user)
		}
		args = append(args, "--max-delete="+strconv.FormatInt(limit, 10))
	}
	args = append(args, t.Sources...)
	return append(args, t.Dest), nil
}

// PreflightComparesAsCopy reports whether the pre-flight's dry run judges
// a file changed as the copy would: it leaves out --checksum (the copy's
// full verification, or the user's own), which finds changes that keep a
// file's size and time, so with it a dry run that saw no change proves
// nothing.
func PreflightComparesAsCopy(cfg Config) bool {
	return cfg.Mode() != VerifyFull && !slices.ContainsFunc(cfg.RsyncOptions, isChecksumOption)
}

// isChecksumOption reports the allowed options that make rsync read every
// file's content (see allowedOptions).
func isChecksumOption(o string) bool {
	return o == "--checksum" || o == "-c"
}

// userMaxDelete returns the user's own --max-delete from validated
// rsyncOptions; like rsync, the last one counts.
func userMaxDelete(opts []string) (int64, bool) {
	var limit int64
	found := false
	for _, o := range opts {
		if v, ok := strings.CutPrefix(o, "--max-delete="); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				limit, found = n, true
			}
		}
	}
	return limit, found
}

// BuildVerify returns the argv that checksums the files listed (NUL-separated,
// relative to the module root) in filesFrom without changing anything. Every
// file whose content differs is printed as VerifyLinePrefix + itemize + tab +
// name, with an itemize string starting ">f". Mtimes are compared to the
// nanosecond, as the copy compares them, so the itemize's "s" and "t" flags
// tell a source file that changed after the copy read it from a copy whose
// content alone differs.
func BuildVerify(cfg Config, source, dest, filesFrom string) ([]string, error) {
	return buildFileList(cfg, source, dest, filesFrom, "--dry-run")
}

// BuildRecopy returns the argv that copies the files listed in filesFrom
// again, comparing by checksum so that a file whose size and mtime match the
// source but whose content does not is rewritten too. The sample
// verification runs it once over its mismatches before it judges them. Like
// the main copy it writes in place (hard-linked names stay linked) and keeps
// holes; it deletes nothing.
func BuildRecopy(cfg Config, source, dest, filesFrom string) ([]string, error) {
	extra := []string{"--inplace", "--sparse", "--acls", "--xattrs"}
	if cfg.BandwidthLimitKiB > 0 {
		extra = append(extra, "--bwlimit="+strconv.FormatInt(cfg.BandwidthLimitKiB, 10))
	}
	return buildFileList(cfg, source, dest, filesFrom, extra...)
}

func buildFileList(cfg Config, source, dest, filesFrom string, extra ...string) ([]string, error) {
	t := Transfer{Sources: []string{source}, Dest: dest}
	if err := t.check(); err != nil {
		return nil, err
	}
	if filesFrom == "" || strings.HasPrefix(filesFrom, "-") {
		return nil, fmt.Errorf("%w: files-from %q", ErrInvalidTransfer, filesFrom)
	}
	args := []string{
		"--links", "--perms", "--times", "--group", "--owner", "--devices", "--specials",
		"--numeric-ids", "--checksum", "--modify-window=-1", "--8-bit-output",
		"--timeout=" + seconds(time.Duration(cfg.IOTimeout), DefaultIOTimeout),
		"--contimeout=" + seconds(0, DefaultConnectTimeout),
		"--out-format=" + VerifyLinePrefix + "%i\t%n",
		"--files-from=" + filesFrom, "--from0",
	}
	args = append(args, extra...)
	return append(args, source, dest), nil
}

// BuildRootAttrs returns the argv that copies only the attributes of the
// module root onto dest (parallel streams create top-level directories in
// any order, which moves the root's mtime after stream 0 set it).
func BuildRootAttrs(cfg Config, source, dest string) ([]string, error) {
	t := Transfer{Sources: []string{source}, Dest: dest}
	if err := t.check(); err != nil {
		return nil, err
	}
	return []string{
		"--dirs", "--perms", "--times", "--owner", "--group", "--acls", "--xattrs", "--numeric-ids",
		"--modify-window=-1", "--8-bit-output",
		"--timeout=" + seconds(time.Duration(cfg.IOTimeout), DefaultIOTimeout),
		"--contimeout=" + seconds(0, DefaultConnectTimeout),
		"--exclude=/*",
		source, dest,
	}, nil
}

// BuildListTop returns the argv that lists the top level of source (which
// must end in "/") without recursing: one line per entry.
func BuildListTop(cfg Config, source string) ([]string, error) {
	if source == "" || strings.HasPrefix(source, "-") || !strings.HasSuffix(source, "/") {
		return nil, fmt.Errorf("%w: list source %q must end in /", ErrInvalidTransfer, source)
	}
	return []string{
		"--list-only", "--8-bit-output",
		"--timeout=" + seconds(time.Duration(cfg.IOTimeout), DefaultIOTimeout),
		"--contimeout=" + seconds(0, DefaultConnectTimeout),
		source,
	}, nil
}

func seconds(d, def time.Duration) string {
	if d <= 0 {
		d = def
	}
	s := int64((d + time.Second - 1) / time.Second)
	return strconv.FormatInt(s, 10)
}

// ModuleURL is the rsync:// URL of module at hostPort for user, with a
// trailing slash so rsync copies the module's contents.
func ModuleURL(user, hostPort, module string) string {
	return "rsync://" + user + "@" + hostPort + "/" + module + "/"
}
