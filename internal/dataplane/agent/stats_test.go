package agent

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The figures count logins let through and turned away, and what is open
// now; a probe that connects and leaves is neither.
func TestStatsCountConnectionsAndChannels(t *testing.T) {
	target := echoServer(t)
	client := newKey(t, "client")
	h := startAgent(t, harnessOptions{authorized: []testKey{client}, allowed: []string{target}})

	probe, err := net.Dial("tcp", h.addr)
	require.NoError(t, err)
	require.NoError(t, probe.Close())
	h.waitLog(t, "connection closed before the SSH handshake")
	_, err = h.dial(t, newKey(t, "stranger"), target)
	require.Error(t, err)
	h.waitLog(t, "ssh handshake failed")

	c, err := h.dial(t, client, target)
	require.NoError(t, err)
	ch, err := c.Dial("tcp", target)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return h.srv.Stats().ActiveChannels == 1 }, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, Stats{Accepted: 1, Refused: 1, ActiveConnections: 1, ActiveChannels: 1}, h.srv.Stats())

	require.NoError(t, ch.Close())
	require.NoError(t, c.Close())
	h.waitLog(t, "connection closed")
	require.Eventually(t, func() bool { return h.srv.Stats() == Stats{Accepted: 1, Refused: 1} }, 5*time.Second, 10*time.Millisecond,
		"closed: nothing active, the totals kept; got %+v", h.srv.Stats())
}
