package agent

import (
	"net"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"
)

// directTCPIP is the RFC 4254 §7.2 channel payload.
type directTCPIP struct {
	Host       string
	Port       uint32
	OriginHost string
	OriginPort uint32
}

// countingConn counts the bytes a client sent, to tell a port probe (none)
// from a failed SSH handshake in the logs.
type countingConn struct {
	net.Conn
	bytesRead atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.bytesRead.Add(int64(n))
	return n, err
}

// activity records when channel data last moved, for the idle timeout. Only
// forwarded bytes count: SSH keep-alives (keepalive@openssh.com, answered by
// refuseGlobalRequests) and other protocol messages do not, so a client
// that keeps a connection open without using it is still closed.
type activity struct {
	last atomic.Int64 // unix nanoseconds
}

func newActivity() *activity {
	a := &activity{}
	a.touch()
	return a
}

func (a *activity) touch() { a.last.Store(time.Now().UnixNano()) }

func (a *activity) idleFor() time.Duration {
	return time.Duration(time.Now().UnixNano() - a.last.Load())
}

// activityChannel touches its activity on every byte of channel data. The
// embedded Channel keeps CloseWrite, which pipe.Join passes half-closes to.
type activityChannel struct {
	ssh.Channel
	act *activity
}

func (c activityChannel) Read(p []byte) (int, error) {
	n, err := c.Channel.Read(p)
	if n > 0 {
		c.act.touch()
	}
	return n, err
}

func (c activityChannel) Write(p []byte) (int, error) {
	n, err := c.Channel.Write(p)
	if n > 0 {
		c.act.touch()
	}
	return n, err
}

// watchIdle closes sconn when its channels carried no data for
// IdleTimeout, and reports whether it did.
func (s *Server) watchIdle(act *activity, sconn *ssh.ServerConn, stop <-chan struct{}) bool {
	tick := max(s.opts.IdleTimeout/4, 10*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return false
		case <-t.C:
			if act.idleFor() >= s.opts.IdleTimeout {
				_ = sconn.Close()
				return true
			}
		}
	}
}

// refuseGlobalRequests answers every global request with "no": that covers
// tcpip-forward (remote forwarding) and cancel-tcpip-forward. OpenSSH's
// keepalive@openssh.com gets the same answer, which is all a keep-alive needs,
// without a log line.
func (s *Server) refuseGlobalRequests(log *zap.Logger, reqs <-chan *ssh.Request) {
	for r := range reqs {
		if r.Type != "keepalive@openssh.com" {
			log.Warn("refused global request", zap.String("request_type", r.Type))
		}
		if r.WantReply {
			_ = r.Reply(false, nil)
		}
	}
}
