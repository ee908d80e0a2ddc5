package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/pipe"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/sshalgo"
)

// Defaults for Options.
const (
	DefaultIdleTimeout      = 10 * time.Minute
	DefaultHandshakeTimeout = 15 * time.Second
	DefaultMaxConnections   = 32
	DefaultShutdownGrace    = 30 * time.Second
	DefaultDialTimeout      = 10 * time.Second
)

// DialFunc opens a connection to a forwarding target.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Options configures a Server.
type Options struct {
	// HostKeys identify the agent; movers pin the public half. Required.
	HostKeys []ssh.Signer
	// AuthorizedKeys lists the cluster-pair keys allowed in. Required.
	AuthorizedKeys KeySource
	// AllowList says which targets channels may reach. Required.
	AllowList AllowList
	// Logger receives one line per connection, channel and refusal. Required.
	Logger *zap.Logger
	// DialTarget opens connections to targets; default net.Dialer.
	DialTarget DialFunc
	// IdleTimeout closes a connection with no traffic either way for this
	// long. It must exceed rsync's --timeout, whose keep-alives keep a slow
	// but healthy transfer from looking idle.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds the SSH handshake including authentication.
	HandshakeTimeout time.Duration
	// MaxConnections caps concurrent SSH connections; extra ones are closed
	// at once. Each sync uses one connection however many streams it runs.
	MaxConnections int
	// ShutdownGrace is how long in-flight connections may run after the
	// serve context ends before they are closed.
	ShutdownGrace time.Duration
	// DialTimeout bounds dialing a target.
	DialTimeout time.Duration
}

// Server is the agent's SSH server.
type Server struct {
	opts   Options
	config *ssh.ServerConfig
	log    *zap.Logger
	nextID atomic.Uint64
}

// New validates opts and builds a Server.
func New(opts Options) (*Server, error) {
	switch {
	case len(opts.HostKeys) == 0:
		return nil, errors.New("agent: no host key")
	case opts.AuthorizedKeys == nil:
		return nil, errors.New("agent: no authorized keys source")
	case opts.AllowList == nil:
		return nil, errors.New("agent: no allow-list")
	case opts.Logger == nil:
		return nil, errors.New("agent: no logger")
	}
	if opts.DialTarget == nil {
		opts.DialTarget = (&net.Dialer{}).DialContext
	}
	setDefault(&opts.IdleTimeout, DefaultIdleTimeout)
	setDefault(&opts.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&opts.ShutdownGrace, DefaultShutdownGrace)
	setDefault(&opts.DialTimeout, DefaultDialTimeout)
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	s := &Server{opts: opts, log: opts.Logger}
	s.config = &ssh.ServerConfig{
		Config:            sshalgo.Config(),
		PublicKeyCallback: s.checkKey,
		MaxAuthTries:      3,
		ServerVersion:     "SSH-2.0-dr-syncer-agent",
	}
	for _, k := range opts.HostKeys {
		s.config.AddHostKey(k)
	}
	return s, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

// errDenied is what a client learns about a refused key: nothing more.
var errDenied = errors.New("public key not authorized")

// Permission extension keys set on authenticated connections.
const (
	extFingerprint = "fingerprint"
	extComment     = "comment"
)

func (s *Server) checkKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	fp := ssh.FingerprintSHA256(key)
	set, err := s.opts.AuthorizedKeys.AuthorizedKeys()
	if err != nil {
		s.log.Error("authorized keys unavailable; refusing all keys",
			zap.String("remote", meta.RemoteAddr().String()), zap.Error(err))
		return nil, errDenied
	}
	k, ok := set.Lookup(key)
	if !ok {
		s.log.Warn("refused public key",
			zap.String("remote", meta.RemoteAddr().String()),
			zap.String("user", meta.User()),
			zap.String("key_fingerprint", fp))
		return nil, errDenied
	}
	return &ssh.Permissions{Extensions: map[string]string{extFingerprint: k.Fingerprint, extComment: k.Comment}}, nil
}

// Serve accepts connections on ln until ctx ends, then stops accepting and
// gives in-flight connections ShutdownGrace to finish before closing them.
// It returns nil after a shutdown, or an error if ln was closed by someone else.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		live  = map[net.Conn]struct{}{}
		slots = make(chan struct{}, s.opts.MaxConnections)
	)
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()

	var acceptErr error
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if !errors.Is(err, net.ErrClosed) {
				// EMFILE and friends pass; back off instead of spinning.
				s.log.Warn("accept failed", zap.Error(err))
				time.Sleep(100 * time.Millisecond)
				continue
			}
			acceptErr = fmt.Errorf("agent accept: %w", err)
			break
		}
		select {
		case slots <- struct{}{}:
		default:
			s.log.Warn("refused connection: too many connections",
				zap.String("remote", conn.RemoteAddr().String()), zap.Int("max_connections", s.opts.MaxConnections))
			_ = conn.Close()
			continue
		}
		mu.Lock()
		live[conn] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			defer func() {
				mu.Lock()
				delete(live, conn)
				mu.Unlock()
			}()
			s.handleConn(conn)
		}()
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	mu.Lock()
	inFlight := len(live)
	mu.Unlock()
	if inFlight > 0 {
		s.log.Info("agent draining connections", zap.Int("connections", inFlight), zap.Duration("grace", s.opts.ShutdownGrace))
	}
	select {
	case <-done:
	case <-time.After(s.opts.ShutdownGrace):
		mu.Lock()
		s.log.Warn("agent shutdown grace expired; closing connections", zap.Int("connections", len(live)))
		for c := range live {
			_ = c.Close()
		}
		mu.Unlock()
		<-done
	}
	return acceptErr
}

func (s *Server) handleConn(raw net.Conn) {
	start := time.Now()
	id := s.nextID.Add(1)
	conn := newActivityConn(raw)
	log := s.log.With(zap.Uint64("conn", id), zap.String("remote", raw.RemoteAddr().String()))

	_ = raw.SetDeadline(start.Add(s.opts.HandshakeTimeout))
	sconn, chans, reqs, err := ssh.NewServerConn(conn, s.config)
	if err != nil {
		if conn.bytesRead.Load() == 0 {
			// TCP readiness probes and port scans: not worth a warning.
			log.Debug("connection closed before the SSH handshake", zap.Error(err))
		} else {
			log.Warn("ssh handshake failed", zap.Error(err))
		}
		_ = raw.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	log = log.With(zap.String("key_fingerprint", sconn.Permissions.Extensions[extFingerprint]),
		zap.String("key_comment", sconn.Permissions.Extensions[extComment]),
		zap.String("user", sconn.User()))
	log.Info("connection opened", zap.String("client_version", string(sconn.ClientVersion())))

	idleStop := make(chan struct{})
	idleDone := make(chan bool, 1)
	go func() { idleDone <- s.watchIdle(conn, sconn, idleStop) }()
	go s.refuseGlobalRequests(log, reqs)

	var (
		wg              sync.WaitGroup
		toTarget, toCli atomic.Int64
		channels        atomic.Int64
	)
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			log.Warn("refused channel", zap.String("channel_type", nc.ChannelType()))
			_ = nc.Reject(ssh.Prohibited, "only direct-tcpip to allowed targets")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			up, down, ok := s.forward(log, nc)
			if ok {
				channels.Add(1)
				toTarget.Add(up)
				toCli.Add(down)
			}
		}()
	}
	wg.Wait()
	close(idleStop)
	idled := <-idleDone
	_ = sconn.Close()
	log.Info("connection closed",
		zap.Int64("channels", channels.Load()),
		zap.Int64("bytes_to_target", toTarget.Load()),
		zap.Int64("bytes_to_client", toCli.Load()),
		zap.Duration("duration", time.Since(start)),
		zap.Bool("idle_timeout", idled))
}

// watchIdle closes sconn when the connection carried no bytes for
// IdleTimeout, and reports whether it did.
func (s *Server) watchIdle(conn *activityConn, sconn *ssh.ServerConn, stop <-chan struct{}) bool {
	tick := max(s.opts.IdleTimeout/4, 10*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return false
		case <-t.C:
			if conn.idleFor() >= s.opts.IdleTimeout {
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

func (s *Server) forward(log *zap.Logger, nc ssh.NewChannel) (up, down int64, ok bool) {
	var d directTCPIP
	if err := ssh.Unmarshal(nc.ExtraData(), &d); err != nil {
		log.Warn("refused channel: malformed direct-tcpip request", zap.Error(err))
		_ = nc.Reject(ssh.ConnectionFailed, "malformed request")
		return 0, 0, false
	}
	target := net.JoinHostPort(d.Host, strconv.FormatUint(uint64(d.Port), 10))
	host := d.Host
	named, byName := s.opts.AllowList.(NamedTargets)
	if _, err := netip.ParseAddr(host); err != nil && byName {
		addr, ok, pending := named.LookupTarget(host)
		switch {
		case ok:
			host = addr.String()
			log = log.With(zap.String("target_name", target))
		case pending:
			// A mover waits here while its mount pod starts: not a refusal.
			log.Debug("named target not ready", zap.String("target", target))
			_ = nc.Reject(ssh.ConnectionFailed, RejectTargetNotReady)
			return 0, 0, false
		}
	}
	ap, valid := normalizeTarget(host, d.Port)
	if !valid || !s.opts.AllowList.Allowed(ap.Addr().String(), d.Port) {
		log.Warn("refused channel: target not allowed", zap.String("target", target))
		_ = nc.Reject(ssh.Prohibited, "target not allowed")
		return 0, 0, false
	}
	target = ap.String()
	log = log.With(zap.String("target", target))

	ctx, cancel := context.WithTimeout(context.Background(), s.opts.DialTimeout)
	tc, err := s.opts.DialTarget(ctx, "tcp", target)
	cancel()
	if err != nil {
		// Also while a mount pod's daemon starts, which movers wait out.
		log.Info("target dial failed", zap.Error(err))
		_ = nc.Reject(ssh.ConnectionFailed, "target unreachable")
		return 0, 0, false
	}
	ch, reqs, err := nc.Accept()
	if err != nil {
		_ = tc.Close()
		log.Warn("accept channel failed", zap.Error(err))
		return 0, 0, false
	}
	go ssh.DiscardRequests(reqs)

	start := time.Now()
	c := pipe.Join(ch, tc)
	log.Info("channel closed",
		zap.Int64("bytes_to_target", c.AToB),
		zap.Int64("bytes_to_client", c.BToA),
		zap.Duration("duration", time.Since(start)))
	return c.AToB, c.BToA, true
}
