// Package testenv starts the real parts integration tests run against: a
// Temporal dev server (the temporal CLI) or one whose frontend speaks TLS
// (tlsdevserver, from tools/temporal), and a "source" and a "dr"
// kube-apiserver (envtest) with dr-syncer's CRDs installed. A missing binary
// fails the test with the command that builds it; nothing is ever skipped.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/dr-syncer/dr-syncer/test/lab"
)

// BinDir is where `make tools` links the tool binaries ($DRSYNCER_BIN, or
// bin under $DRSYNCER_CACHE, default ~/.cache/dr-syncer).
func BinDir() string { return lab.BinDir() }

// Binary returns the path of a tool binary, failing the test when it is missing.
func Binary(t testing.TB, name string) string {
	t.Helper()
	path := filepath.Join(BinDir(), name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s not found at %s: run `make tools` (hack/tools.sh) to build it, or set DRSYNCER_BIN to a folder that has it", name, path)
	}
	return path
}

// RepoRoot is the top of the dr-syncer checkout.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}
