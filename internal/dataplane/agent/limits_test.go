package agent

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

// rawFrom opens a TCP connection from the loopback address src that never
// authenticates, and reports whether the agent started a handshake on it
// (sent its banner) or closed it at once.
func rawFrom(t *testing.T, addr, src string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return c, err == nil && strings.HasPrefix(line, "SSH-2.0-")
}

func TestPreAuthLimitsPerIPAndGlobal(t *testing.T) {
	target := echoServer(t)
	ca := newKey(t, "ca")
	h := startAgent(t, harnessOptions{authorized: []testKey{ca}, allowed: []string{target}, mutate: func(o *Options) {
		o.MaxPreAuth, o.MaxPreAuthPerIP = 5, 3
	}})
	inFlight, err := h.dial(t, ca, target)
	require.NoError(t, err)
	defer inFlight.Close()
	h.waitLog(t, "connection opened") // its handshake slot is given back

	var held []net.Conn
	for i := range 3 {
		c, served := rawFrom(t, h.addr, "127.0.0.2")
		require.True(t, served, "connection %d from 127.0.0.2 is within the per-IP limit", i)
		held = append(held, c)
	}
	_, served := rawFrom(t, h.addr, "127.0.0.2")
	assert.False(t, served, "a 4th unauthenticated connection from one address is closed at once")
	for i := range 2 {
		c, served := rawFrom(t, h.addr, "127.0.0.3")
		require.True(t, served, "connection %d from 127.0.0.3", i)
		held = append(held, c)
	}
	_, served = rawFrom(t, h.addr, "127.0.0.4")
	assert.False(t, served, "beyond the global limit every address is refused")

	// The authenticated connection is not counted and keeps working.
	require.NoError(t, roundTrip(t, inFlight, target))

	for _, c := range held {
		c.Close()
	}
	require.Eventually(t, func() bool {
		c, err := h.dial(t, ca, target)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "slots come back when the unauthenticated connections end")
}

func TestChannelCap(t *testing.T) {
	target := echoServer(t)
	ca := newKey(t, "ca")
	h := startAgent(t, harnessOptions{authorized: []testKey{ca}, allowed: []string{target}, mutate: func(o *Options) { o.MaxChannels = 2 }})
	c, err := h.dial(t, ca, target)
	require.NoError(t, err)
	defer c.Close()
	first, err := c.Dial("tcp", target)
	require.NoError(t, err)
	second, err := c.Dial("tcp", target)
	require.NoError(t, err)
	defer second.Close()
	_, err = c.Dial("tcp", target)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "too many channels")
	h.waitLog(t, "refused channel: too many channels")

	first.Close()
	require.Eventually(t, func() bool {
		ch, err := c.Dial("tcp", target)
		if err == nil {
			ch.Close()
		}
		return err == nil
	}, 5*time.Second, 20*time.Millisecond, "a closed channel frees its slot")
}

func TestIdleTimeoutNotResetByKeepAlives(t *testing.T) {
	target := echoServer(t)
	ca := newKey(t, "ca")
	h := startAgent(t, harnessOptions{authorized: []testKey{ca}, allowed: []string{target},
		mutate: func(o *Options) { o.IdleTimeout = 300 * time.Millisecond }})

	// Channel data keeps a connection open well past the idle timeout.
	busy, err := h.dial(t, ca, target)
	require.NoError(t, err)
	defer busy.Close()
	for end := time.Now().Add(time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		require.NoError(t, roundTrip(t, busy, target))
	}

	// Keep-alives alone do not.
	idle, err := h.dial(t, ca, keys.ProbeTarget)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- idle.Wait() }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(3 * time.Second)
	for closed := false; !closed; {
		select {
		case <-tick.C:
			_, _, _ = idle.SendRequest("keepalive@openssh.com", true, nil)
		case <-done:
			closed = true
		case <-deadline:
			t.Fatal("a connection kept open by keep-alives only was not closed")
		}
	}
	// The agent logs the close just after the client sees it.
	require.Eventually(t, func() bool {
		for _, e := range h.logs.FilterMessage("connection closed").All() {
			if e.ContextMap()["cert_target"] == keys.ProbeTarget && e.ContextMap()["idle_timeout"] == true {
				return true
			}
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "closed by the idle timeout")
}

func TestIdleTimeoutClosesConnection(t *testing.T) {
	client := newKey(t, "client")
	h := startAgent(t, harnessOptions{authorized: []testKey{client},
		mutate: func(o *Options) { o.IdleTimeout = 200 * time.Millisecond }})
	c, err := h.dial(t, client, keys.ProbeTarget)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("idle connection was not closed")
	}
	e := h.waitLog(t, "connection closed")
	assert.Equal(t, true, e.ContextMap()["idle_timeout"])
}

func TestMaxConnections(t *testing.T) {
	client := newKey(t, "client")
	h := startAgent(t, harnessOptions{authorized: []testKey{client},
		mutate: func(o *Options) { o.MaxConnections = 1 }})
	first, err := h.dial(t, client, keys.ProbeTarget)
	require.NoError(t, err)
	h.waitLog(t, "connection opened")
	_, err = h.dial(t, client, keys.ProbeTarget)
	require.Error(t, err)
	h.waitLog(t, "refused connection: too many connections")
	first.Close()
	require.Eventually(t, func() bool {
		c, err := h.dial(t, client, keys.ProbeTarget)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
}
