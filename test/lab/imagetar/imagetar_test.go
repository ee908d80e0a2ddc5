package imagetar

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestDirLayerIsDeterministicAndKeepsLinks(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "usr/bin"), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "usr/bin/tool"), []byte("#!/bin/sh\n"), 0o755))
	must(t, os.Link(filepath.Join(dir, "usr/bin/tool"), filepath.Join(dir, "usr/bin/tool2")))
	must(t, os.Symlink("usr/bin", filepath.Join(dir, "bin")))

	var a, b bytes.Buffer
	idA, err := WriteDirLayer(&a, dir)
	must(t, err)
	idB, err := WriteDirLayer(&b, dir)
	must(t, err)
	if idA != idB || !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two layers of the same tree differ")
	}
	got := map[string]*tar.Header{}
	tr := tar.NewReader(&a)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		got[h.Name] = h
	}
	if h := got["bin"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "usr/bin" {
		t.Errorf("bin: %+v, want symlink to usr/bin", h)
	}
	if h := got["usr/bin/tool2"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "usr/bin/tool" {
		t.Errorf("tool2: %+v, want hard link to usr/bin/tool", h)
	}
	if h := got["usr/bin/"]; h == nil || h.Typeflag != tar.TypeDir {
		t.Errorf("usr/bin/: %+v, want dir", h)
	}
}

func TestWriteImageManifest(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "agent")
	must(t, os.WriteFile(src, []byte("bin"), 0o755))
	layerPath := filepath.Join(dir, "l.tar")
	f, err := os.Create(layerPath)
	must(t, err)
	id, err := WriteFilesLayer(f, []File{{Dest: "/usr/local/bin/agent", Src: src}})
	must(t, err)
	must(t, f.Close())

	var img bytes.Buffer
	must(t, WriteImage(&img, []string{"localhost/x:lab"}, []Layer{{Path: layerPath, DiffID: id}}, Config{Entrypoint: []string{"/usr/local/bin/agent"}}))
	files := map[string][]byte{}
	tr := tar.NewReader(&img)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		b, _ := io.ReadAll(tr)
		files[h.Name] = b
	}
	var m []manifestEntry
	must(t, json.Unmarshal(files["manifest.json"], &m))
	if len(m) != 1 || m[0].RepoTags[0] != "localhost/x:lab" || len(m[0].Layers) != 1 {
		t.Fatalf("manifest %+v", m)
	}
	var cfg imageConfig
	must(t, json.Unmarshal(files[m[0].Config], &cfg))
	if cfg.RootFS.DiffIDs[0] != id || cfg.Config.Entrypoint[0] != "/usr/local/bin/agent" {
		t.Fatalf("config %+v", cfg)
	}
	if _, ok := files[m[0].Layers[0]]; !ok {
		t.Fatalf("layer %s missing from archive", m[0].Layers[0])
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
