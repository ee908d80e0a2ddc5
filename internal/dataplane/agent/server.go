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

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/pipe"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/sshalgo"
)

// Defaults for Options.
const (
	DefaultIdleTimeout      = 10 * time.Minute
	DefaultHandshakeTimeout = 15 * time.Second
	DefaultMaxConnections   = 32
	// DefaultMaxPreAuth bounds connections still in their handshake. A
	// real sync holds one only for milliseconds, so twice MaxConnections
	// absorbs a burst of syncs starting at once.
	DefaultMaxPreAuth = 64
	// DefaultMaxPreAuthPerIP bounds them per source address; a DR cluster
	// behind one NAT address still gets half of DefaultMaxConnections.
	DefaultMaxPreAuthPerIP = 16
	// DefaultMaxChannels bounds the channels open at once on one
	// connection: the mover runs at most rsyncargs.MaxParallelStreams (16)
	// rsync streams, each one channel, plus short-lived ones (target wait,
	// listing, verification), and a batch's claims that share a connection
	// stay within 32 in all; 64 leaves headroom.
	DefaultMaxChannels   = 64
	DefaultShutdownGrace = 30 * time.Second
	DefaultDialTimeout   = 10 * time.Second
)

// DialFunc opens a connection to a forwarding target.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Options configures a Server.
type Options struct {
	// HostKeys identify the agent; movers pin the public half. Required.
	HostKeys []ssh.Signer
	// AuthorizedKeys lists the cluster-pair keys, the CAs whose per-operation
	// certificates are accepted (current and, during a rotation, previous).
	// Plain keys are refused. Required.
	AuthorizedKeys KeySource
	// AllowList says which targets channels may reach. Required.
	AllowList AllowList
	// Logger receives one line per connection, channel and refusal. Required.
	Logger *zap.Logger
	// DialTarget opens connections to targets; default net.Dialer.
	DialTarget DialFunc
	// IdleTimeout closes a connection whose channels carried no data either
	// way for this long; SSH keep-alives do not count. It must exceed
	// rsync's --timeout, whose keep-alives (channel data) keep a slow but
	// healthy transfer from looking idle.
	IdleTimeout time.Duration
	// HandshakeTimeout bounds the SSH handshake including authentication.
	HandshakeTimeout time.Duration
	// MaxConnections caps concurrent authenticated SSH connections; a login
	// beyond it is refused. Each sync uses one connection however many
	// streams it runs; a batch's claims share one per 8 of them.
	MaxConnections int
	// MaxPreAuth and MaxPreAuthPerIP cap connections that have not
	// authenticated yet, in all and per source IP; extra ones are closed at
	// once. Defaults DefaultMaxPreAuth, DefaultMaxPreAuthPerIP.
	MaxPreAuth, MaxPreAuthPerIP int
	// MaxChannels caps the channels open at once on one connection; extra
	// ones are rejected. Default DefaultMaxChannels.
	MaxChannels int
	// Now is the clock certificates are checked with; default time.Now.
	Now func() time.Time
	// ShutdownGrace is how long in-flight connections may run after the
	// serve context ends before they are closed.
	ShutdownGrace time.Duration
	// DialTimeout bounds dialing a target.
	DialTimeout time.Duration
}

// Server is the agent's SSH server.
type Server struct {
	opts    Options
	config  *ssh.ServerConfig
	log     *zap.Logger
	nextID  atomic.Uint64
	preAuth *preAuthLimiter
	// authenticated counts connections past their handshake.
	authenticated atomic.Int64
	counters      counters
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
	setDefaultInt(&opts.MaxConnections, DefaultMaxConnections)
	setDefaultInt(&opts.MaxPreAuth, DefaultMaxPreAuth)
	setDefaultInt(&opts.MaxPreAuthPerIP, DefaultMaxPreAuthPerIP)
	setDefaultInt(&opts.MaxChannels, DefaultMaxChannels)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger, preAuth: newPreAuthLimiter(opts.MaxPreAuth, opts.MaxPreAuthPerIP)}
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

func setDefaultInt(n *int, def int) {
	if *n <= 0 {
		*n = def
	}
}

func (s *Server) now() time.Time { return s.opts.Now() }

// Serve accepts connections on ln until ctx ends, then stops accepting and
// gives in-flight connections ShutdownGrace to finish before closing them.
// It returns nil after a shutdown, or an error if ln was closed by someone else.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		live = map[net.Conn]struct{}{}
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
		release, why := s.preAuth.acquire(conn.RemoteAddr())
		if release == nil {
			// Debug, not Warn: a flood would otherwise flood the log too.
			s.log.Debug("refused connection: "+why, zap.String("remote", conn.RemoteAddr().String()),
				zap.Int("max_pre_auth", s.opts.MaxPreAuth), zap.Int("max_pre_auth_per_ip", s.opts.MaxPreAuthPerIP))
			s.counters.refused.Add(1)
			_ = conn.Close()
			continue
		}
		mu.Lock()
		live[conn] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				mu.Lock()
				delete(live, conn)
				mu.Unlock()
			}()
			s.handleConn(conn, release)
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

// handleConn runs one connection; releasePreAuth gives back its
// pre-authentication slot once the handshake is over either way.
func (s *Server) handleConn(raw net.Conn, releasePreAuth func()) {
	start := time.Now()
	id := s.nextID.Add(1)
	conn := &countingConn{Conn: raw}
	log := s.log.With(zap.Uint64("conn", id), zap.String("remote", raw.RemoteAddr().String()))

	_ = raw.SetDeadline(start.Add(s.opts.HandshakeTimeout))
	sconn, chans, reqs, err := ssh.NewServerConn(conn, s.config)
	releasePreAuth()
	if err != nil {
		if conn.bytesRead.Load() == 0 {
			// TCP readiness probes and port scans: not worth a warning.
			log.Debug("connection closed before the SSH handshake", zap.Error(err))
		} else {
			log.Warn("ssh handshake failed", zap.Error(err))
			s.counters.refused.Add(1)
		}
		_ = raw.Close()
		return
	}
	_ = raw.SetDeadline(time.Time{})
	// checkKey refused logins beyond MaxConnections; two that passed it at
	// once may still overshoot by one, which this closes.
	if s.authenticated.Add(1) > int64(s.opts.MaxConnections) {
		s.authenticated.Add(-1)
		log.Warn("refused connection: too many connections", zap.Int("max_connections", s.opts.MaxConnections))
		s.counters.refused.Add(1)
		_ = sconn.Close()
		return
	}
	defer s.authenticated.Add(-1)
	s.counters.accepted.Add(1)
	bound := sconn.Permissions.CriticalOptions[keys.TargetOption]
	log = log.With(zap.String("key_fingerprint", sconn.Permissions.Extensions[extFingerprint]),
		zap.String("ca_fingerprint", sconn.Permissions.Extensions[extCAFingerprint]),
		zap.String("key_id", sconn.Permissions.Extensions[extKeyID]),
		zap.String("cert_target", bound),
		zap.String("user", sconn.User()))
	log.Info("connection opened", zap.String("client_version", string(sconn.ClientVersion())))

	act := newActivity()
	idleStop := make(chan struct{})
	idleDone := make(chan bool, 1)
	go func() { idleDone <- s.watchIdle(act, sconn, idleStop) }()
	go s.refuseGlobalRequests(log, reqs)

	var (
		wg              sync.WaitGroup
		toTarget, toCli atomic.Int64
		channels        atomic.Int64
		open            = make(chan struct{}, s.opts.MaxChannels)
	)
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			log.Warn("refused channel", zap.String("channel_type", nc.ChannelType()))
			_ = nc.Reject(ssh.Prohibited, "only direct-tcpip to allowed targets")
			continue
		}
		select {
		case open <- struct{}{}:
		default:
			log.Warn("refused channel: too many channels", zap.Int("max_channels", s.opts.MaxChannels))
			_ = nc.Reject(ssh.ResourceShortage, "too many channels")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-open }()
			s.counters.channels.Add(1)
			defer s.counters.channels.Add(-1)
			up, down, ok := s.forward(log, nc, bound, act)
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

// RejectNotCertified is the answer to a channel whose target is not the one
// the connection's certificate is bound to.
const RejectNotCertified = "target not allowed by certificate"

// forward serves one direct-tcpip channel. bound is the connection
// certificate's target: a request for anything else is refused before any
// name lookup or dial, so a certificate opens one mount pod only.
func (s *Server) forward(log *zap.Logger, nc ssh.NewChannel, bound string, act *activity) (up, down int64, ok bool) {
	var d directTCPIP
	if err := ssh.Unmarshal(nc.ExtraData(), &d); err != nil {
		log.Warn("refused channel: malformed direct-tcpip request", zap.Error(err))
		_ = nc.Reject(ssh.ConnectionFailed, "malformed request")
		return 0, 0, false
	}
	target := net.JoinHostPort(d.Host, strconv.FormatUint(uint64(d.Port), 10))
	if bound == "" || target != bound {
		log.Warn("refused channel: "+RejectNotCertified, zap.String("target", target))
		_ = nc.Reject(ssh.Prohibited, RejectNotCertified)
		return 0, 0, false
	}
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
	c := pipe.Join(activityChannel{Channel: ch, act: act}, tc)
	log.Info("channel closed",
		zap.Int64("bytes_to_target", c.AToB),
		zap.Int64("bytes_to_client", c.BToA),
		zap.Duration("duration", time.Since(start)))
	return c.AToB, c.BToA, true
}
