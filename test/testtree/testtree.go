// Package testtree builds hostile directory trees for data-path tests and
// compares two trees independently of rsync: content by SHA-256 and metadata
// by lstat (type, mode, ownership, ns mtimes, symlink targets, hard-link
// groups, sparseness, xattrs). It is test support; production code does not
// import it.
package testtree

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// RequireRsync returns the rsync path or fails the test: a missing real
// dependency is an error, never a skip.
func RequireRsync(t interface {
	Helper()
	Fatalf(string, ...any)
}) string {
	t.Helper()
	p, err := exec.LookPath("rsync")
	if err != nil {
		t.Fatalf("rsync not found: run `make deps` (hack/deps.sh): %v", err)
	}
	return p
}

// Entry is what Compare checks for one path.
type Entry struct {
	Path    string
	Type    fs.FileMode // fs.ModeType bits
	Perm    fs.FileMode // permission, setuid, setgid, sticky
	UID     uint32
	GID     uint32
	Size    int64
	MtimeNS int64
	Link    string // symlink target
	SHA256  string // regular files
	Sparse  bool   // allocated much less than the size
	Xattrs  map[string]string
	ino     uint64
}

// Scan walks root and returns its entries keyed by slash path ("." is root).
func Scan(root string) (map[string]Entry, map[uint64][]string, error) {
	entries := map[string]Entry{}
	inodes := map[uint64][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return fmt.Errorf("lstat %s: %w", p, err)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{
			Path:    rel,
			Type:    fi.Mode().Type(),
			Perm:    fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
			UID:     st.Uid,
			GID:     st.Gid,
			MtimeNS: st.Mtim.Nano(),
			ino:     st.Ino,
		}
		switch {
		case fi.Mode().IsRegular():
			e.Size = st.Size
			e.Sparse = st.Size > 256<<10 && st.Blocks*512 < st.Size/2
			if e.SHA256, err = hashFile(p); err != nil {
				return err
			}
			if st.Nlink > 1 {
				inodes[st.Ino] = append(inodes[st.Ino], rel)
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if e.Xattrs, err = readXattrs(p); err != nil {
				return err
			}
		}
		entries[rel] = e
		return nil
	})
	return entries, inodes, err
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func readXattrs(p string) (map[string]string, error) {
	buf := make([]byte, 64<<10)
	n, err := syscall.Listxattr(p, buf)
	if err != nil {
		if errors.Is(err, syscall.ENOTSUP) {
			return nil, nil
		}
		return nil, fmt.Errorf("listxattr %s: %w", p, err)
	}
	out := map[string]string{}
	for _, name := range strings.Split(string(buf[:n]), "\x00") {
		if name == "" {
			continue
		}
		v := make([]byte, 64<<10)
		m, err := syscall.Getxattr(p, name, v)
		if err != nil {
			return nil, fmt.Errorf("getxattr %s %s: %w", p, name, err)
		}
		out[name] = string(v[:m])
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// Options tune Compare.
type Options struct {
	// Ignore lists slash paths (and everything under them) left out on both sides.
	Ignore []string
	// IgnoreRootMtime skips the root directory's mtime (parallel streams
	// finish in any order).
	IgnoreRootMtime bool
	// IgnoreHardLinksAcross skips hard-link groups that span top-level
	// directories (parallel streams copy those separately).
	IgnoreHardLinksAcross bool
}

// Compare returns every difference between the trees at a and b; none
// means byte- and metadata-identical.
func Compare(a, b string, opts Options) ([]string, error) {
	ea, ia, err := Scan(a)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", a, err)
	}
	eb, ib, err := Scan(b)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", b, err)
	}
	ignored := func(p string) bool {
		for _, ig := range opts.Ignore {
			if p == ig || strings.HasPrefix(p, ig+"/") {
				return true
			}
		}
		return false
	}
	var diffs []string
	for _, p := range sortedKeys(ea) {
		if ignored(p) {
			continue
		}
		x := ea[p]
		y, ok := eb[p]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("%q: missing in copy", p))
			continue
		}
		if opts.IgnoreRootMtime && p == "." {
			y.MtimeNS = x.MtimeNS
		}
		diffs = append(diffs, diffEntry(x, y)...)
	}
	for _, p := range sortedKeys(eb) {
		if _, ok := ea[p]; !ok && !ignored(p) {
			diffs = append(diffs, fmt.Sprintf("%q: extra in copy", p))
		}
	}
	diffs = append(diffs, diffLinks(ia, eb, ignored, opts.IgnoreHardLinksAcross)...)
	_ = ib
	return diffs, nil
}

func diffEntry(x, y Entry) []string {
	var d []string
	add := func(what string, a, b any) {
		d = append(d, fmt.Sprintf("%q: %s %v != %v", x.Path, what, a, b))
	}
	if x.Type != y.Type {
		add("type", x.Type, y.Type)
		return d
	}
	if x.Perm != y.Perm {
		add("mode", x.Perm, y.Perm)
	}
	if x.UID != y.UID || x.GID != y.GID {
		add("owner", fmt.Sprint(x.UID, ":", x.GID), fmt.Sprint(y.UID, ":", y.GID))
	}
	if x.MtimeNS != y.MtimeNS {
		add("mtime", time.Unix(0, x.MtimeNS).UTC(), time.Unix(0, y.MtimeNS).UTC())
	}
	if x.Size != y.Size {
		add("size", x.Size, y.Size)
	}
	if x.Link != y.Link {
		add("symlink target", x.Link, y.Link)
	}
	if x.SHA256 != y.SHA256 {
		add("sha256", x.SHA256, y.SHA256)
	}
	if x.Sparse && !y.Sparse {
		add("sparse", x.Sparse, y.Sparse)
	}
	if fmt.Sprint(x.Xattrs) != fmt.Sprint(y.Xattrs) {
		add("xattrs", x.Xattrs, y.Xattrs)
	}
	return d
}

// diffLinks checks that every hard-link group of the source is exactly one
// group in the copy.
func diffLinks(groups map[uint64][]string, eb map[string]Entry, ignored func(string) bool, skipAcross bool) []string {
	var d []string
	for _, g := range groups {
		g = slices.DeleteFunc(slices.Clone(g), ignored)
		if len(g) < 2 {
			continue
		}
		sort.Strings(g)
		if skipAcross && spansTopLevel(g) {
			continue
		}
		var ino uint64
		for i, p := range g {
			e, ok := eb[p]
			if !ok {
				break
			}
			if i == 0 {
				ino = e.ino
			} else if e.ino != ino {
				d = append(d, fmt.Sprintf("hard links %q not linked in copy", g))
				break
			}
		}
		for p, e := range eb {
			if e.ino == ino && e.Type.IsRegular() && !slices.Contains(g, p) {
				d = append(d, fmt.Sprintf("%q: linked to %q in copy only", p, g))
			}
		}
	}
	return d
}

func spansTopLevel(paths []string) bool {
	top := func(p string) string { s, _, _ := strings.Cut(p, "/"); return s }
	for _, p := range paths[1:] {
		if top(p) != top(paths[0]) {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]Entry) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
