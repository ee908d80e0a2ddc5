package csihostpath

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubernetes-csi/csi-test/v5/pkg/sanity"
	"github.com/stretchr/testify/require"
)

// TestSanity runs the CSI community's conformance suite (csi-sanity) against
// the driver served in this process on a unix socket. Ginkgo runs a suite
// once per process, so run it with -count=1 only.
func TestSanity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the CSI sanity suite needs root: NodePublishVolume bind-mounts volumes; run go test as root")
	}
	dir := t.TempDir()
	endpoint := startDriver(t, filepath.Join(dir, "base"), filepath.Join(dir, "csi.sock"), "")

	cfg := sanity.NewTestConfig()
	cfg.Address = endpoint
	// The suite makes and removes these itself, so they must not exist yet.
	cfg.TargetPath = filepath.Join(dir, "target")
	cfg.StagingPath = filepath.Join(dir, "staging")
	sanity.Test(t, cfg)
}

// startDriver serves a driver on the socket endpoint, and on the
// registration socket if one is named, until the test ends; it returns once
// the sockets are there.
func startDriver(t *testing.T, baseDir, endpoint, registrationSocket string) string {
	t.Helper()
	d, err := New(Options{NodeID: "lab-node", BaseDir: baseDir, Endpoint: endpoint, RegistrationSocket: registrationSocket})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
		require.NoFileExists(t, endpoint, "the driver removes its socket when it stops")
	})
	last := endpoint
	if registrationSocket != "" {
		last = registrationSocket
	}
	deadline := time.After(10 * time.Second)
	for {
		if _, err := os.Stat(last); err == nil {
			return endpoint
		}
		select {
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("the driver stopped before making its sockets: %v", err)
		case <-deadline:
			t.Fatal("the driver did not make its sockets in 10s")
		case <-time.After(10 * time.Millisecond):
		}
	}
}
