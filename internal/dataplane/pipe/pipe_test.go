package pipe

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	s := <-accepted
	require.NotNil(t, s)
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func TestJoinCopiesBothWaysWithHalfClose(t *testing.T) {
	clientA, joinA := tcpPair(t)
	joinB, clientB := tcpPair(t)

	done := make(chan Counts, 1)
	go func() { done <- Join(joinA, joinB) }()

	up := make([]byte, 3<<20)
	_, _ = rand.Read(up)
	down := []byte("response after EOF")

	// A sends everything then half-closes; B reads to EOF, answers, closes.
	go func() {
		_, _ = clientA.Write(up)
		_ = clientA.CloseWrite()
	}()
	got, err := io.ReadAll(clientB)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(up, got))
	_, err = clientB.Write(down)
	require.NoError(t, err)
	require.NoError(t, clientB.Close())

	back, err := io.ReadAll(clientA)
	require.NoError(t, err)
	assert.Equal(t, down, back)

	c := <-done
	assert.Equal(t, int64(len(up)), c.AToB)
	assert.Equal(t, int64(len(down)), c.BToA)
}
