package agent

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGracefulShutdownLetsInFlightFinish(t *testing.T) {
	target := echoServer(t)
	client := newKey(t, "client")
	h := startAgent(t, harnessOptions{authorized: []testKey{client}, allowed: []string{target}})
	c, err := h.dial(t, client, target)
	require.NoError(t, err)
	conn, err := c.Dial("tcp", target)
	require.NoError(t, err)

	h.cancel()
	h.waitLog(t, "agent draining connections")
	_, err = h.dial(t, client, target)
	require.Error(t, err, "no new connections after shutdown starts")

	// The in-flight channel still carries data.
	_, err = conn.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(conn, buf)
	require.NoError(t, err)
	assert.Equal(t, "ping", string(buf))
	conn.Close()
	c.Close()
	select {
	case err := <-h.served:
		require.NoError(t, err)
		h.served <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the last connection closed")
	}
}

func TestGracefulShutdownForcesAfterGrace(t *testing.T) {
	target := echoServer(t)
	client := newKey(t, "client")
	h := startAgent(t, harnessOptions{authorized: []testKey{client}, allowed: []string{target},
		mutate: func(o *Options) { o.ShutdownGrace = 100 * time.Millisecond }})
	c, err := h.dial(t, client, target)
	require.NoError(t, err)
	defer c.Close()
	h.cancel()
	select {
	case err := <-h.served:
		require.NoError(t, err)
		h.served <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not force-close after the grace period")
	}
	require.Error(t, c.Wait())
}
