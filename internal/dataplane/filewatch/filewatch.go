// Package filewatch serves the parsed content of a small file (a mounted
// Secret, an allow-list) and re-reads it when it changes.
//
// It polls with stat on each Get instead of using inotify: Kubernetes updates
// Secret and ConfigMap volumes by swapping a "..data" symlink, which an
// inotify watch on the file itself misses, while a stat through the path sees
// the new inode at once. Get is called per SSH authentication or channel
// open, so the cost is one stat per event, not a timer.
package filewatch

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// DefaultMaxAge forces a re-read even when stat reports no change, covering
// in-place rewrites within the filesystem's timestamp granularity.
const DefaultMaxAge = 10 * time.Second

// Options configures a File.
type Options[T any] struct {
	// MaxAge bounds how long content is trusted without re-reading; default DefaultMaxAge.
	MaxAge time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// OnReload is called after new content was parsed (for logging); optional.
	OnReload func(value T)
}

// File is a parsed view of a file that follows its changes. It is safe for
// concurrent use.
type File[T any] struct {
	path  string
	parse func([]byte) (T, error)
	opts  Options[T]

	mu       sync.Mutex
	sig      signature
	loadedAt time.Time
	loaded   bool
	value    T
	raw      string
}

type signature struct {
	mod   time.Time
	size  int64
	inode uint64
	dev   uint64
}

// New returns a File for path; nothing is read until the first Get.
func New[T any](path string, parse func([]byte) (T, error), opts Options[T]) *File[T] {
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &File[T]{path: path, parse: parse, opts: opts}
}

// ErrUnreadable wraps read and parse failures.
var ErrUnreadable = errors.New("file unreadable")

// Get returns the current parsed content. When the file is missing or does
// not parse, Get fails (callers deny access) rather than serving stale
// content, because stale content may include a revoked key.
func (f *File[T]) Get() (T, error) {
	var zero T
	fi, err := os.Stat(f.path)
	if err != nil {
		f.forget()
		return zero, fmt.Errorf("%w: stat %s: %w", ErrUnreadable, f.path, err)
	}
	sig := signatureOf(fi)
	now := f.opts.Now()

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loaded && sig == f.sig && now.Sub(f.loadedAt) < f.opts.MaxAge {
		return f.value, nil
	}
	raw, err := os.ReadFile(f.path)
	if err != nil {
		f.loaded = false
		return zero, fmt.Errorf("%w: read %s: %w", ErrUnreadable, f.path, err)
	}
	if f.loaded && string(raw) == f.raw {
		f.sig, f.loadedAt = sig, now
		return f.value, nil
	}
	v, err := f.parse(raw)
	if err != nil {
		f.loaded = false
		return zero, fmt.Errorf("%w: parse %s: %w", ErrUnreadable, f.path, err)
	}
	f.sig, f.loadedAt, f.loaded, f.value, f.raw = sig, now, true, v, string(raw)
	if f.opts.OnReload != nil {
		f.opts.OnReload(v)
	}
	return v, nil
}

func (f *File[T]) forget() {
	f.mu.Lock()
	f.loaded = false
	f.mu.Unlock()
}

func signatureOf(fi os.FileInfo) signature {
	s := signature{mod: fi.ModTime(), size: fi.Size()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.inode = uint64(st.Ino)
		s.dev = uint64(st.Dev) //nolint:unconvert // Dev is not uint64 on every platform.
	}
	return s
}
