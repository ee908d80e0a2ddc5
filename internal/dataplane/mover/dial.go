package mover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

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
	// ClientKey is the cluster-pair private key.
	ClientKey ssh.Signer
	// HostKey is the agent's pinned public host key.
	HostKey ssh.PublicKey
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
	ErrAuthRefused      = errors.New("agent refused the cluster-pair key")
)

// DialAgent connects and authenticates to the agent with the host key
// pinned. The returned client is closed when ctx ends.
func DialAgent(ctx context.Context, o AgentOptions) (*ssh.Client, error) {
	if o.ClientKey == nil || o.HostKey == nil || o.Addr == "" {
		return nil, errors.New("dial agent: address, client key and pinned host key are required")
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
			if err := ssh.FixedHostKey(o.HostKey)(hostname, remote, key); err != nil {
				return fmt.Errorf("%w: got %s, pinned %s", ErrHostKeyMismatch,
					ssh.FingerprintSHA256(key), ssh.FingerprintSHA256(o.HostKey))
			}
			pinned.Store(true)
			return nil
		},
	}
	// Ask for the pinned key's algorithm so the agent presents that key.
	if t := o.HostKey.Type(); t != ssh.KeyAlgoRSA {
		cfg.HostKeyAlgorithms = []string{t}
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
