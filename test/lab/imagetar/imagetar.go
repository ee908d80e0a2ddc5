// Package imagetar assembles container image tarballs without a container engine.
//
// It writes the docker-archive format (manifest.json, one config JSON, one
// uncompressed tar per layer), which both `ctr images import` and `docker load`
// accept. Layers are built from a directory tree or from a list of files, with
// sorted entries and no host user names, so the same input gives the same bytes.
package imagetar

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// fixedTime is the modification time of entries that have no source timestamp
// (parent directories of added files, configs), so builds are reproducible.
var fixedTime = time.Unix(946684800, 0).UTC() // 2000-01-01

// File is one file to place in a layer.
type File struct {
	Dest string      // absolute path inside the image, e.g. /usr/local/bin/agent
	Src  string      // file on the host
	Mode fs.FileMode // permission bits; 0 means 0755
}

// WriteDirLayer writes dir as an uncompressed layer tar to w and returns the
// layer's diff ID ("sha256:<hex>"). Hard links are kept; sockets are skipped.
func WriteDirLayer(w io.Writer, dir string) (string, error) {
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(w, h))
	inodes := map[[2]uint64]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 {
			return nil
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("tar header for %s: %w", p, err)
		}
		hdr.Name = filepath.ToSlash(rel)
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.ModTime = hdr.ModTime.Truncate(time.Second)
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
			if fi.Mode().IsRegular() && st.Nlink > 1 {
				key := [2]uint64{uint64(st.Dev), st.Ino}
				if first, seen := inodes[key]; seen {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				} else {
					inodes[key] = hdr.Name
				}
			}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write header %s: %w", hdr.Name, err)
		}
		if hdr.Typeflag == tar.TypeReg {
			return copyFile(tw, p)
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("layer from %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// WriteFilesLayer writes a layer holding files (and their parent directories)
// to w and returns its diff ID.
func WriteFilesLayer(w io.Writer, files []File) (string, error) {
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(w, h))
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Dest < sorted[j].Dest })
	dirs := map[string]bool{}
	for _, f := range sorted {
		dest := strings.TrimPrefix(path.Clean("/"+f.Dest), "/")
		var parents []string
		for d := path.Dir(dest); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			parents = append([]string{d}, parents...)
			dirs[d] = true
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: fixedTime, Format: tar.FormatPAX}); err != nil {
				return "", err
			}
		}
		fi, err := os.Stat(f.Src)
		if err != nil {
			return "", fmt.Errorf("layer file %s: %w", f.Src, err)
		}
		mode := f.Mode
		if mode == 0 {
			mode = 0o755
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: dest, Mode: int64(mode.Perm()), Size: fi.Size(), ModTime: fixedTime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return "", err
		}
		if err := copyFile(tw, f.Src); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func copyFile(w io.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := io.Copy(w, f); err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	return nil
}

// Config is the runtime part of an image config.
type Config struct {
	Entrypoint []string `json:"Entrypoint,omitempty"`
	Cmd        []string `json:"Cmd,omitempty"`
	Env        []string `json:"Env,omitempty"`
	WorkingDir string   `json:"WorkingDir,omitempty"`
	User       string   `json:"User,omitempty"`
}

// Layer is a layer tar on disk and its diff ID (the sha256 of the tar).
type Layer struct {
	Path   string
	DiffID string
}

type imageConfig struct {
	Architecture string    `json:"architecture"`
	OS           string    `json:"os"`
	Created      time.Time `json:"created"`
	Config       Config    `json:"config"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

type manifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// WriteImage writes a docker-archive image tarball named refs with layers
// (bottom first) and cfg to w.
func WriteImage(w io.Writer, refs []string, layers []Layer, cfg Config) error {
	ic := imageConfig{Architecture: "amd64", OS: "linux", Created: fixedTime, Config: cfg}
	ic.RootFS.Type = "layers"
	ic.RootFS.DiffIDs = []string{}
	for _, l := range layers {
		if !strings.HasPrefix(l.DiffID, "sha256:") {
			return fmt.Errorf("layer %s: diff ID %q is not sha256:<hex>", l.Path, l.DiffID)
		}
		ic.RootFS.DiffIDs = append(ic.RootFS.DiffIDs, l.DiffID)
	}
	cfgJSON, err := json.Marshal(ic)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(cfgJSON)
	cfgName := hex.EncodeToString(sum[:]) + ".json"

	tw := tar.NewWriter(w)
	add := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: fixedTime}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := add(cfgName, cfgJSON); err != nil {
		return err
	}
	m := manifestEntry{Config: cfgName, RepoTags: refs}
	seen := map[string]bool{}
	for _, l := range layers {
		dir := strings.TrimPrefix(l.DiffID, "sha256:")
		name := dir + "/layer.tar"
		m.Layers = append(m.Layers, name)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0o755, ModTime: fixedTime}); err != nil {
			return err
		}
		fi, err := os.Stat(l.Path)
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.Path, err)
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: fi.Size(), ModTime: fixedTime}); err != nil {
			return err
		}
		if err := copyFile(tw, l.Path); err != nil {
			return err
		}
	}
	manifest, err := json.Marshal([]manifestEntry{m})
	if err != nil {
		return err
	}
	if err := add("manifest.json", manifest); err != nil {
		return err
	}
	return tw.Close()
}
