package mover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/sshalgo"
)

// DialFunc opens the TCP connection to the agent. Injected so tests (and a
// future proxy hop) can supply their own; closing the SSH client closes it.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// AgentOptions say how to reach and trust the agent.
type AgentOptions struct {
	// Addr is the agent's host:port (source node IP, port 2222).
	Addr string
	// ClientKey is the per-operation key with its certificate
	// (keys.CertSigner); the agent accepts nothing else.
	ClientKey ssh.Signer
	// HostKeys are the agent's pinned public host keys: the current one and,
	// while a host-key rotation rolls out to the agents, the previous one.
	// The agent must present one of them.
	HostKeys []ssh.PublicKey
	// User is the SSH user name; the agent ignores it beyond logging.
	User string
	// Dial opens the TCP connection; default net.Dialer.
	Dial DialFunc
	// HandshakeTimeout bounds dial + handshake; default 30s.
	HandshakeTimeout time.Duration
	// KeepAlive is the interval of keep-alive requests; default 30s. A
	// keep-alive without an answer closes the connection, so a dead agent
	// fails the transfer instead of hanging it.
	KeepAlive time.Duration
}

// Error kinds of DialAgent, for classification.
var (
	ErrAgentUnreachable = errors.New("agent unreachable")
	ErrHostKeyMismatch  = errors.New("agent host key mismatch")
	ErrAuthRefused      = errors.New("agent refused the operation's certificate")
)

// DialAgent connects and authenticates to the agent with the host key
// pinned. The returned client is closed when ctx ends.
func DialAgent(ctx context.Context, o AgentOptions) (*ssh.Client, error) {
	if o.ClientKey == nil || len(o.HostKeys) == 0 || o.Addr == "" {
		return nil, errors.New("dial agent: address, client key and pinned host keys are required")
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{}).DialContext
	}
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = 30 * time.Second
	}
	if o.KeepAlive <= 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.User == "" {
		o.User = "dr-syncer"
	}
	hctx, cancel := context.WithTimeout(ctx, o.HandshakeTimeout)
	defer cancel()
	conn, err := o.Dial(hctx, "tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: dial %s: %w", ErrAgentUnreachable, o.Addr, err)
	}
	// The handshake has no context of its own; a deadline bounds it and a
	// cancelled context closes the socket.
	if d, ok := hctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	stopEarly := context.AfterFunc(hctx, func() { _ = conn.Close() })

	var pinned atomic.Bool // set from the handshake goroutine
	cfg := &ssh.ClientConfig{
		Config: sshalgo.Config(),
		User:   o.User,
		Auth:   []ssh.AuthMethod{ssh.PublicKeys(o.ClientKey)},
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			if !pinnedKey(o.HostKeys, key) {
				return fmt.Errorf("%w: got %s, pinned %s", ErrHostKeyMismatch,
					ssh.FingerprintSHA256(key), strings.Join(fingerprints(o.HostKeys), " or "))
			}
			pinned.Store(true)
			return nil
		},
		HostKeyAlgorithms: hostKeyAlgorithms(o.HostKeys),
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, o.Addr, cfg)
	stopped := stopEarly()
	if err != nil || !stopped {
		_ = conn.Close()
		if err == nil {
			err = hctx.Err()
		}
		return nil, classifyHandshake(err, pinned.Load(), o.Addr)
	}
	_ = conn.SetDeadline(time.Time{})
	client := ssh.NewClient(c, chans, reqs)
	stop := context.AfterFunc(ctx, func() { _ = client.Close() })
	go func() {
		keepAlive(client, o.KeepAlive)
		stop()
	}()
	return client, nil
}

func pinnedKey(pinned []ssh.PublicKey, key ssh.PublicKey) bool {
	for _, p := range pinned {
		if bytes.Equal(p.Marshal(), key.Marshal()) {
			return true
		}
	}
	return false
}

func fingerprints(pubs []ssh.PublicKey) []string {
	out := make([]string, 0, len(pubs))
	for _, p := range pubs {
		out = append(out, ssh.FingerprintSHA256(p))
	}
	return out
}

// hostKeyAlgorithms asks for the pinned keys' algorithms so the agent
// presents one of those keys; nil (the defaults) if any is RSA, whose
// signature algorithms differ from its key type.
func hostKeyAlgorithms(pinned []ssh.PublicKey) []string {
	var algos []string
	for _, p := range pinned {
		if p.Type() == ssh.KeyAlgoRSA {
			return nil
		}
		if !slices.Contains(algos, p.Type()) {
			algos = append(algos, p.Type())
		}
	}
	return algos
}

func classifyHandshake(err error, pinned bool, addr string) error {
	switch {
	case errors.Is(err, ErrHostKeyMismatch):
		return fmt.Errorf("ssh handshake with %s: %w", addr, err)
	case pinned && strings.Contains(err.Error(), "unable to authenticate"):
		return fmt.Errorf("%w at %s: %w", ErrAuthRefused, addr, err)
	default:
		return fmt.Errorf("%w: ssh handshake with %s: %w", ErrAgentUnreachable, addr, err)
	}
}

// keepAlive runs until the connection ends, closing it if a keep-alive
// request gets no answer in time.
func keepAlive(client *ssh.Client, every time.Duration) {
	done := make(chan struct{})
	go func() { _ = client.Wait(); close(done) }()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			answered := make(chan struct{})
			go func() {
				_, _, _ = client.SendRequest("keepalive@openssh.com", true, nil)
				close(answered)
			}()
			select {
			case <-answered:
			case <-done:
				return
			case <-time.After(every):
				_ = client.Close()
				return
			}
		}
	}
}

// dialAttempts and dialBackoff bound dialAgentPatiently: five tries over
// about three seconds.
const (
	dialAttempts = 5
	dialBackoff  = 100 * time.Millisecond
)

// dialAgentPatiently is DialAgent, tried again after a short, jittered
// pause while the agent is unreachable. The agent refuses handshakes past
// its bound per source address (DefaultMaxPreAuthPerIP, 16 at once), and a
// batch sync pod's movers, which share the pod's address, dial together:
// 20 of them at once had four refused, and their syncs fell back to pods
// of their own. A wrong host key or a refused certificate is not retried.
func dialAgentPatiently(ctx context.Context, o AgentOptions, log *zap.Logger) (*ssh.Client, error) {
	pause := dialBackoff
	for attempt := 1; ; attempt++ {
		client, err := DialAgent(ctx, o)
		if err == nil || !errors.Is(err, ErrAgentUnreachable) || attempt == dialAttempts {
			return client, err
		}
		wait := pause/2 + rand.N(pause)
		log.Info("agent unreachable; dialing again", zap.Int("attempt", attempt), zap.Duration("in", wait), zap.Error(err))
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		pause *= 2
	}
}
