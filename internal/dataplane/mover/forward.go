package mover

import (
	"context"
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
	ctx    context.Context // ends at Close or with the sync
	stop   context.CancelFunc
	ln     net.Listener
	client *ssh.Client
	target string
	log    *zap.Logger
	wg     sync.WaitGroup
	up     atomic.Int64
	down   atomic.Int64
}

// startForwarder forwards until Close, or until ctx (the sync's timeout or
// cancellation) ends: either closes the forwards still open.
func startForwarder(ctx context.Context, client *ssh.Client, target string, log *zap.Logger) (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	fctx, stop := context.WithCancel(ctx)
	f := &forwarder{ctx: fctx, stop: stop, ln: ln, client: client, target: target, log: log}
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
			// The channel may share its connection with other claims'
			// (agentShare), so the forwarder closes it itself: a mount side
			// that sends nothing would otherwise hold it, and Close, until
			// the agent's idle timeout, which other claims' data defers.
			unhook := context.AfterFunc(f.ctx, func() { _ = ch.Close(); _ = c.Close() })
			n := pipe.Join(c, ch)
			unhook()
			f.up.Add(n.AToB)
			f.down.Add(n.BToA)
		}()
	}
}

// Close stops accepting, closes the forwards still open (their rsync
// processes have ended) and waits for them.
func (f *forwarder) Close() {
	_ = f.ln.Close()
	f.stop()
	f.wg.Wait()
}
