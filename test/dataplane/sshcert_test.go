package dataplane

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/agent"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/test/testtree"
)

// writeRandomFiles fills the source with n random files of size bytes.
func writeRandomFiles(t *testing.T, root string, n, size int) {
	t.Helper()
	for i := range n {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		require.NoError(t, os.WriteFile(filepath.Join(root, fmt.Sprintf("file-%02d.bin", i)), data, 0o644))
	}
}

// flood opens n TCP connections to addr from the loopback address src and
// never authenticates; it holds them until stop, and counts those the agent
// started a handshake on instead of closing at once.
type flood struct {
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []net.Conn
	served atomic.Int64
}

func (f *flood) open(t *testing.T, addr, src string, n int) {
	t.Helper()
	for range n {
		f.wg.Go(func() {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
			c, err := d.Dial("tcp", addr)
			if err != nil {
				return // a full accept queue is the agent surviving too
			}
			f.mu.Lock()
			f.conns = append(f.conns, c)
			f.mu.Unlock()
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if line, err := bufio.NewReader(c).ReadString('\n'); err == nil && strings.HasPrefix(line, "SSH-2.0-") {
				f.served.Add(1)
			}
		})
	}
	f.wg.Wait()
}

func (f *flood) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		_ = c.Close()
	}
}

// TestAgentSurvivesUnauthenticatedFloodDuringSync: 500 connections that
// never authenticate, first from one address, then from fifty, do not stop
// a real sync through the agent, and the copy is byte-identical (SHA-256 of
// every file, testtree.Compare).
func TestAgentSurvivesUnauthenticatedFloodDuringSync(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	writeRandomFiles(t, p.src, 8, 512<<10)

	// One address floods before the sync starts: it gets its per-IP share,
	// and the sync's login from another address goes through.
	var single flood
	defer single.close()
	single.open(t, p.agentAddr, "127.0.0.2", 500)
	assert.LessOrEqual(t, single.served.Load(), int64(agent.DefaultMaxPreAuthPerIP),
		"one address holds no more handshakes than its share")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan progress.Summary, 1)
	go func() {
		sum, _ := p.sync(ctx, rsyncargs.Config{BandwidthLimitKiB: 2048, VerificationMode: rsyncargs.VerifySample, SamplePercent: 100})
		done <- sum
	}()
	require.Eventually(t, func() bool {
		entries, _ := os.ReadDir(p.dst)
		return len(entries) > 0
	}, 30*time.Second, 20*time.Millisecond, "transfer never got going")

	// Fifty addresses flood while it runs, filling the global limit.
	var many flood
	defer many.close()
	for i := range 50 {
		many.open(t, p.agentAddr, fmt.Sprintf("127.0.1.%d", i+1), 10)
	}
	assert.LessOrEqual(t, single.served.Load()+many.served.Load(), int64(agent.DefaultMaxPreAuth),
		"no more handshakes at once than the global limit")
	t.Logf("handshakes started: %d of 500 from one address, %d of 500 from fifty", single.served.Load(), many.served.Load())

	sum := <-done
	requireSuccess(t, sum)
	require.NotNil(t, sum.Verification)
	assert.Equal(t, 0, sum.Verification.MismatchCount)
	p.requireIdentical(testtree.Options{})
}

// TestCARotationDuringSync: the cluster-pair key is rotated and the old one
// removed from the agent while a sync runs. The running sync (which opens
// new channels afterwards, for its verification) completes; a new sync
// needs a certificate from the new key.
func TestCARotationDuringSync(t *testing.T) {
	t.Parallel()
	p := newPath(t)
	writeRandomFiles(t, p.src, 4, 1<<20)
	oldClient := p.certFor(p.target)
	p.client = oldClient

	done := make(chan progress.Summary, 1)
	go func() {
		sum, _ := p.sync(context.Background(), rsyncargs.Config{BandwidthLimitKiB: 2048, VerificationMode: rsyncargs.VerifySample, SamplePercent: 100})
		done <- sum
	}()
	require.Eventually(t, func() bool {
		entries, _ := os.ReadDir(p.dst)
		return len(entries) > 0
	}, 30*time.Second, 20*time.Millisecond, "transfer never got going")

	next, err := keys.GenerateClusterPairKey("prod->dr rotated")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p.authFile+".tmp", next.AuthorizedKey, 0o600))
	require.NoError(t, os.Rename(p.authFile+".tmp", p.authFile))

	sum := <-done
	requireSuccess(t, sum)
	require.NotNil(t, sum.Verification, "verification opened channels after the rotation")
	p.requireIdentical(testtree.Options{})

	refused, _ := p.sync(context.Background(), rsyncargs.Config{})
	assert.Contains(t, refused.Error, mover.ErrAuthRefused.Error(), "a new login with the removed key's certificate")
	p.ca, p.client = signer(t, next), nil
	again, _ := p.sync(context.Background(), rsyncargs.Config{})
	requireSuccess(t, again)
}
