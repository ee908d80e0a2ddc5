// Command mkimage builds image layers and docker-archive image tarballs for the
// lab without a container engine (see package imagetar).
//
//	mkimage layer -dir ROOTFS -o base.tar            # prints the diff ID, writes base.tar.diffid
//	mkimage layer -file /usr/local/bin/agent=bin/agent -o bins.tar
//	mkimage image -ref localhost/dr-syncer/base:lab -layer base.tar [-layer bins.tar] \
//	        [-entrypoint /usr/local/bin/agent] [-env K=V] -o image.tar
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/dr-syncer/dr-syncer/test/lab/imagetar"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: mkimage layer|image [flags]")
	}
	switch args[0] {
	case "layer":
		return layer(args[1:])
	case "image":
		return image(args[1:])
	}
	return fmt.Errorf("unknown subcommand %q", args[0])
}

func layer(args []string) error {
	fs := flag.NewFlagSet("layer", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory to pack as the layer")
	out := fs.String("o", "", "output tar")
	var files list
	fs.Var(&files, "file", "DEST=SRC file to add (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || (*dir == "") == (len(files) == 0) {
		return errors.New("layer: need -o and exactly one of -dir or -file")
	}
	return writeAtomic(*out, func(f *os.File) error {
		var id string
		var err error
		if *dir != "" {
			id, err = imagetar.WriteDirLayer(f, *dir)
		} else {
			var fl []imagetar.File
			for _, s := range files {
				dest, src, ok := strings.Cut(s, "=")
				if !ok {
					return fmt.Errorf("-file %q: want DEST=SRC", s)
				}
				fl = append(fl, imagetar.File{Dest: dest, Src: src})
			}
			id, err = imagetar.WriteFilesLayer(f, fl)
		}
		if err != nil {
			return err
		}
		fmt.Println(id)
		return os.WriteFile(*out+".diffid", []byte(id+"\n"), 0o644)
	})
}

func image(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	out := fs.String("o", "", "output image tarball")
	entrypoint := fs.String("entrypoint", "", "entrypoint, space separated")
	cmd := fs.String("cmd", "", "default command, space separated")
	var refs, layers, env list
	fs.Var(&refs, "ref", "image reference (repeatable)")
	fs.Var(&layers, "layer", "layer tar, bottom first; its diff ID is read from LAYER.diffid (repeatable)")
	fs.Var(&env, "env", "K=V environment entry (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || len(refs) == 0 || len(layers) == 0 {
		return errors.New("image: need -o, -ref and -layer")
	}
	cfg := imagetar.Config{
		Env:        append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, env...),
		Entrypoint: strings.Fields(*entrypoint),
		Cmd:        strings.Fields(*cmd),
		WorkingDir: "/",
	}
	var ls []imagetar.Layer
	for _, p := range layers {
		id, err := os.ReadFile(p + ".diffid")
		if err != nil {
			return fmt.Errorf("layer %s has no diff ID (build it with `mkimage layer`): %w", p, err)
		}
		ls = append(ls, imagetar.Layer{Path: p, DiffID: strings.TrimSpace(string(id))})
	}
	return writeAtomic(*out, func(f *os.File) error { return imagetar.WriteImage(f, refs, ls, cfg) })
}

// writeAtomic writes path through a temporary file, so an interrupted build never
// leaves a truncated tarball that looks complete.
func writeAtomic(path string, write func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
