package agent

import (
	"net"
	"sync/atomic"
	"time"
)

// directTCPIP is the RFC 4254 §7.2 channel payload.
type directTCPIP struct {
	Host       string
	Port       uint32
	OriginHost string
	OriginPort uint32
}

// activityConn records when bytes last moved, for the idle timeout.
type activityConn struct {
	net.Conn
	last      atomic.Int64 // unix nanoseconds
	bytesRead atomic.Int64
}

func newActivityConn(c net.Conn) *activityConn {
	a := &activityConn{Conn: c}
	a.touch()
	return a
}

func (a *activityConn) touch() { a.last.Store(time.Now().UnixNano()) }

func (a *activityConn) idleFor() time.Duration {
	return time.Duration(time.Now().UnixNano() - a.last.Load())
}

func (a *activityConn) Read(p []byte) (int, error) {
	n, err := a.Conn.Read(p)
	if n > 0 {
		a.touch()
		a.bytesRead.Add(int64(n))
	}
	return n, err
}

func (a *activityConn) Write(p []byte) (int, error) {
	n, err := a.Conn.Write(p)
	if n > 0 {
		a.touch()
	}
	return n, err
}
