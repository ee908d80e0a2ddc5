package testtree

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// T is the part of testing.TB the builders need.
type T interface {
	Helper()
	Fatalf(string, ...any)
}

func check(t T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Writer creates files under a root and remembers mtimes to set last (a
// directory's mtime changes whenever something is created inside it).
type Writer struct {
	t      T
	root   string
	rng    *rand.Rand
	mtimes []stamp
}

type stamp struct {
	path string
	when time.Time
}

// NewWriter returns a Writer for root (created if missing) with a seeded RNG.
func NewWriter(t T, root string, seed uint64) *Writer {
	t.Helper()
	check(t, os.MkdirAll(root, 0o755), "mkdir root")
	return &Writer{t: t, root: root, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (w *Writer) abs(rel string) string { return filepath.Join(w.root, filepath.FromSlash(rel)) }

// Dir creates a directory (and parents) with mode.
func (w *Writer) Dir(rel string, mode os.FileMode) {
	w.t.Helper()
	p := w.abs(rel)
	check(w.t, os.MkdirAll(p, 0o755), "mkdir "+rel)
	w.chmod(rel, mode)
}

// File writes content to rel with mode and an mtime in the past.
func (w *Writer) File(rel string, content []byte, mode os.FileMode) {
	w.t.Helper()
	p := w.abs(rel)
	check(w.t, os.MkdirAll(filepath.Dir(p), 0o755), "mkdir parent of "+rel)
	check(w.t, os.WriteFile(p, content, 0o600), "write "+rel)
	w.chmod(rel, mode)
	w.Stamp(rel)
}

// Random returns n pseudo-random bytes.
func (w *Writer) Random(n int) []byte {
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := w.rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// Sparse creates a file of size bytes with data only at its start and end.
func (w *Writer) Sparse(rel string, size int64) {
	w.t.Helper()
	p := w.abs(rel)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	check(w.t, err, "create sparse "+rel)
	_, err = f.Write(w.Random(4096))
	check(w.t, err, "write sparse head")
	_, err = f.WriteAt(w.Random(4096), size-4096)
	check(w.t, err, "write sparse tail")
	check(w.t, f.Close(), "close sparse")
	w.Stamp(rel)
}

// Symlink creates rel pointing at target (which may point anywhere).
func (w *Writer) Symlink(target, rel string) {
	w.t.Helper()
	p := w.abs(rel)
	check(w.t, os.MkdirAll(filepath.Dir(p), 0o755), "mkdir parent of "+rel)
	check(w.t, os.Symlink(target, p), "symlink "+rel)
	w.Stamp(rel)
}

// Link hard-links newRel to existing oldRel.
func (w *Writer) Link(oldRel, newRel string) {
	w.t.Helper()
	p := w.abs(newRel)
	check(w.t, os.MkdirAll(filepath.Dir(p), 0o755), "mkdir parent of "+newRel)
	check(w.t, os.Link(w.abs(oldRel), p), "link "+newRel)
}

// Xattr sets a user xattr; it reports false where the filesystem has none.
func (w *Writer) Xattr(rel, name, value string) bool {
	w.t.Helper()
	err := syscall.Setxattr(w.abs(rel), name, []byte(value), 0)
	if err == syscall.ENOTSUP {
		return false
	}
	check(w.t, err, "setxattr "+rel)
	return true
}

// Chown sets numeric ownership when running as root (a no-op otherwise).
func (w *Writer) Chown(rel string, uid, gid int) {
	w.t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	check(w.t, os.Lchown(w.abs(rel), uid, gid), "chown "+rel)
}

func (w *Writer) chmod(rel string, mode os.FileMode) {
	w.t.Helper()
	check(w.t, os.Chmod(w.abs(rel), mode), "chmod "+rel)
}

// Stamp records rel for a deterministic past mtime (with nanoseconds) that
// Finish applies.
func (w *Writer) Stamp(rel string) {
	when := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC).
		Add(time.Duration(w.rng.Int64N(int64(365 * 24 * time.Hour))))
	w.mtimes = append(w.mtimes, stamp{rel, when})
}

// Remove deletes rel (recursively).
func (w *Writer) Remove(rel string) {
	w.t.Helper()
	check(w.t, os.RemoveAll(w.abs(rel)), "remove "+rel)
}

// Finish applies recorded mtimes, then stamps every directory deepest
// first, so the tree's metadata is stable and distinctive.
func (w *Writer) Finish() {
	w.t.Helper()
	for _, s := range w.mtimes {
		p := w.abs(s.path)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		ts := []unix.Timespec{unix.NsecToTimespec(s.when.UnixNano()), unix.NsecToTimespec(s.when.UnixNano())}
		check(w.t, unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW), "utimes "+s.path)
	}
	w.mtimes = nil
	var dirs []string
	check(w.t, filepath.Walk(w.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() {
			dirs = append(dirs, p)
		}
		return err
	}), "walk dirs")
	for i := len(dirs) - 1; i >= 0; i-- {
		when := time.Date(2020, 1, 2, 3, 4, 5, int(w.rng.Int64N(1e9)), time.UTC).Add(time.Duration(i) * time.Minute)
		check(w.t, os.Chtimes(dirs[i], when, when), "chtimes dir")
	}
}

// Nasty builds the data set the design asks for: hard links and symlinks
// (including ones pointing outside the tree, absolute and relative, and
// dangling), sparse and 0-byte files, unicode and space-laden names, names
// that look like options or contain control characters, deep nesting, empty
// directories, odd modes, foreign ownership and xattrs.
func Nasty(t T, root string) {
	t.Helper()
	w := NewWriter(t, root, 42)
	w.File("plain.txt", []byte("hello\n"), 0o644)
	w.File("empty", nil, 0o644)
	w.File("zero dir/also empty", nil, 0o600)
	w.File("bin/tool.sh", []byte("#!/bin/sh\necho hi\n"), 0o755)
	w.File("private/secret", w.Random(3000), 0o400)
	w.Dir("private", 0o700)
	w.File("setgid dir/file", []byte("g"), 0o640)
	w.Dir("setgid dir", 0o2775)
	w.File("sticky/x", []byte("x"), 0o666)
	w.Dir("sticky", 0o1777)
	w.File("big/random.bin", w.Random(1<<20+123), 0o644)

	w.Sparse("big/sparse.img", 8<<20)

	w.File("ünïcödé/日本語 ファイル.txt", []byte("unicode\n"), 0o644)
	w.File("with space/ leading and trailing .txt ", []byte("spaces"), 0o644)
	w.File("-rf", []byte("looks like an option"), 0o644)
	w.File("--delete", []byte("also"), 0o644)
	w.File("ctl/new\nline", []byte("nl"), 0o644)
	w.File("ctl/tab\tname", []byte("tab"), 0o644)
	w.File("ctl/back\\slash #012", []byte("bs"), 0o644)
	w.File("ctl/star*and?[brackets]", []byte("glob"), 0o644)

	deep := strings.Repeat("d/", 40) + "bottom.txt"
	w.File(deep, []byte("deep"), 0o644)
	w.Dir("empty dirs/nested/dirs", 0o755)
	w.Dir("empty dirs/other", 0o750)

	w.File("links/original", []byte("shared inode\n"), 0o644)
	w.Link("links/original", "links/second name")
	w.Link("links/original", "links/sub/third")
	w.File("links/pair-a", w.Random(5000), 0o600)
	w.Link("links/pair-a", "links/pair-b")

	w.Symlink("plain.txt", "sym/../sym-to-plain")
	w.Symlink("../plain.txt", "sym/relative")
	w.Symlink("/etc/passwd", "sym/absolute-outside")
	w.Symlink("../../../../../../../../etc/hostname", "sym/relative-outside")
	w.Symlink("does/not/exist", "sym/dangling")
	w.Symlink("../bin", "sym/dir-link")
	w.Symlink("/", "sym/root")

	if w.Xattr("plain.txt", "user.dr-syncer.test", "value with spaces") {
		w.Xattr("bin", "user.dir-attr", "d")
	}
	w.Chown("plain.txt", 1234, 5678)
	w.Chown("sym/absolute-outside", 4321, 8765)
	w.Chown("ünïcödé", 999, 999)
	w.Finish()
}

// MutateNasty changes a Nasty tree between two syncs: files deleted (one of
// them hard-linked), a directory tree deleted, content changed at the same
// size, a mode changed, a symlink retargeted and new files added.
func MutateNasty(t T, root string) {
	t.Helper()
	w := NewWriter(t, root, 7)
	w.Remove("plain.txt")
	w.Remove("links/second name")
	w.Remove("d")
	w.Remove("empty dirs/other")
	w.Remove("ctl/new\nline")
	w.File("private/secret", w.Random(3000), 0o400)
	w.chmod("bin/tool.sh", 0o700)
	w.Remove("sym/dangling")
	w.Symlink("/var/lib", "sym/dangling")
	w.File("new/file", []byte("new"), 0o644)
	w.File("ünïcödé/新しい", []byte("new unicode"), 0o644)
	w.Finish()
}
