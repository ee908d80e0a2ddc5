package mover

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/pipe"
)

// forwarder listens on 127.0.0.1:0 and carries each accepted connection to
// target over a direct-tcpip channel of one SSH connection, so any number of
// rsync processes share one authenticated link to the agent.
type forwarder struct {
	ln     net.Listener
	client *ssh.Client
	target string
	log    *zap.Logger
	wg     sync.WaitGroup
	up     atomic.Int64
	down   atomic.Int64
}

func startForwarder(client *ssh.Client, target string, log *zap.Logger) (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln, client: client, target: target, log: log}
	f.wg.Add(1)
	go f.serve()
	return f, nil
}

// Addr is the local host:port rsync connects to.
func (f *forwarder) Addr() string { return f.ln.Addr().String() }

func (f *forwarder) serve() {
	defer f.wg.Done()
	for {
		c, err := f.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				f.log.Warn("local forwarder accept failed", zap.Error(err))
			}
			return
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			ch, err := f.client.Dial("tcp", f.target)
			if err != nil {
				// rsync sees the connection close and fails with a classified
				// exit code; this line says why.
				f.log.Warn("agent refused forwarding", zap.String("target", f.target), zap.Error(err))
				_ = c.Close()
				return
			}
			n := pipe.Join(c, ch)
			f.up.Add(n.AToB)
			f.down.Add(n.BToA)
		}()
	}
}

// Close stops accepting and waits for open forwards to finish.
func (f *forwarder) Close() {
	_ = f.ln.Close()
	f.wg.Wait()
}
