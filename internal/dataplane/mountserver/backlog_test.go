package mountserver

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A batch's movers connect to the daemon at once. The kernel queues their
// connections for the daemon only as far as its listen backlog; past it,
// it drops them, and each waits a second for TCP to try again. With the
// daemon stopped, so that it accepts nothing, every one of 20 connections
// must still be queued.
func TestDaemonQueuesABatchOfConnectionsAtOnce(t *testing.T) {
	s, _, _ := startDaemon(t)
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGSTOP))
	t.Cleanup(func() { _ = s.cmd.Process.Signal(syscall.SIGCONT) }) // before Stop, which runs after

	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			_ = c.Close()
		}
	})
	queued := 0
	for range 20 {
		// Far under TCP's first retry (1 s): a queued connection completes
		// at once, a dropped one would wait for the retry.
		c, err := net.DialTimeout("tcp", s.Addr, 300*time.Millisecond)
		if err == nil {
			conns = append(conns, c)
			queued++
		}
	}
	assert.Equal(t, 20, queued, "connections the kernel queued for the daemon (rsync's default backlog of 5 queues 6)")
}
