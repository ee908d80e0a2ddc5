package agent

import (
	"context"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/crypto/ssh"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/sshalgo"
)

type testKey struct {
	signer ssh.Signer
	pair   keys.ClusterPairKey
}

func newKey(t *testing.T, comment string) testKey {
	t.Helper()
	k, err := keys.GenerateClusterPairKey(comment)
	require.NoError(t, err)
	s, err := keys.ParsePrivateKey(k.PrivateKey)
	require.NoError(t, err)
	return testKey{signer: s, pair: k}
}

// echoServer is a stand-in for a mount pod: it echoes bytes back.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); c.Close() }()
		}
	}()
	return ln.Addr().String()
}

type harness struct {
	addr     string
	hostKey  testKey
	authFile string
	logs     *observer.ObservedLogs
	cancel   context.CancelFunc
	served   chan error
	srv      *Server
}

type harnessOptions struct {
	authorized []testKey
	allowed    []string
	mutate     func(*Options)
}

func startAgent(t *testing.T, ho harnessOptions) *harness {
	t.Helper()
	h := &harness{hostKey: newKey(t, "host"), served: make(chan error, 1)}
	dir := t.TempDir()
	h.authFile = filepath.Join(dir, "authorized_keys")
	writeAuthorized(t, h.authFile, ho.authorized...)
	allowFile := filepath.Join(dir, "allow")
	require.NoError(t, os.WriteFile(allowFile, []byte("# targets\n"+strings.Join(ho.allowed, "\n")+"\n"), 0o600))

	core, logs := observer.New(zap.DebugLevel)
	h.logs = logs
	opts := Options{
		HostKeys:       []ssh.Signer{h.hostKey.signer},
		AuthorizedKeys: NewAuthorizedKeysFile(h.authFile, nil),
		AllowList:      NewFileAllowList(allowFile, nil),
		Logger:         zap.New(core),
		ShutdownGrace:  2 * time.Second,
	}
	if ho.mutate != nil {
		ho.mutate(&opts)
	}
	srv, err := New(opts)
	require.NoError(t, err)
	h.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.served <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.served:
		case <-time.After(5 * time.Second):
			t.Error("agent did not stop")
		}
	})
	return h
}

// writeAuthorized replaces the file atomically, as the kubelet does.
func writeAuthorized(t *testing.T, path string, ks ...testKey) {
	t.Helper()
	var b []byte
	for _, k := range ks {
		b = append(b, k.pair.AuthorizedKey...)
	}
	require.NoError(t, os.WriteFile(path+".tmp", b, 0o600))
	require.NoError(t, os.Rename(path+".tmp", path))
}

// dial logs in with a fresh certificate from the CA ca, bound to target.
func (h *harness) dial(t *testing.T, ca testKey, target string) (*ssh.Client, error) {
	t.Helper()
	return dialWith(h.addr, certFor(t, ca, target, time.Now(), 10*time.Minute), ssh.FixedHostKey(h.hostKey.signer.PublicKey()), sshalgo.Config())
}

// certFor issues a per-operation certificate signed by ca.
func certFor(t *testing.T, ca testKey, target string, now time.Time, validity time.Duration) ssh.Signer {
	t.Helper()
	oc, err := keys.IssueCert(keys.IssueRequest{CA: ca.signer, KeyID: "test " + target, Target: target, Now: now, Validity: validity})
	require.NoError(t, err)
	s, err := keys.CertSigner(oc.PrivateKey, oc.Certificate)
	require.NoError(t, err)
	return s
}

func dialWith(addr string, signer ssh.Signer, hostKey ssh.HostKeyCallback, cfg ssh.Config) (*ssh.Client, error) {
	return ssh.Dial("tcp", addr, &ssh.ClientConfig{
		Config:          cfg,
		User:            "dr-syncer",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKey,
		Timeout:         5 * time.Second,
	})
}

func roundTrip(t *testing.T, c *ssh.Client, target string) error {
	t.Helper()
	conn, err := c.Dial("tcp", target)
	if err != nil {
		return err
	}
	defer conn.Close()
	msg := []byte("hello through the bastion")
	_, err = conn.Write(msg)
	require.NoError(t, err)
	buf := make([]byte, len(msg))
	_, err = io.ReadFull(conn, buf)
	require.NoError(t, err)
	assert.Equal(t, msg, buf)
	return nil
}

func (h *harness) waitLog(t *testing.T, msg string) observer.LoggedEntry {
	t.Helper()
	var found observer.LoggedEntry
	require.Eventually(t, func() bool {
		for _, e := range h.logs.FilterMessage(msg).All() {
			found = e
			return true
		}
		return false
	}, 5*time.Second, 10*time.Millisecond, "no log %q", msg)
	return found
}

func TestForwardsToAllowedTargetAndLogs(t *testing.T) {
	target := echoServer(t)
	client := newKey(t, "client")
	h := startAgent(t, harnessOptions{authorized: []testKey{client}, allowed: []string{target}})

	c, err := h.dial(t, client, target)
	require.NoError(t, err)
	require.NoError(t, roundTrip(t, c, target))
	require.NoError(t, c.Close())

	e := h.waitLog(t, "connection closed")
	fields := e.ContextMap()
	assert.Equal(t, client.pair.Fingerprint, fields["ca_fingerprint"])
	assert.Equal(t, "test "+target, fields["key_id"])
	assert.Equal(t, target, fields["cert_target"])
	assert.Equal(t, int64(25), fields["bytes_to_target"])
	assert.Equal(t, int64(25), fields["bytes_to_client"])
	assert.Contains(t, fields, "duration")
	ch := h.waitLog(t, "channel closed").ContextMap()
	assert.Equal(t, target, ch["target"])
}

func TestSecurityWrongKeyRefused(t *testing.T) {
	target := echoServer(t)
	good, stranger := newKey(t, "good"), newKey(t, "stranger")
	h := startAgent(t, harnessOptions{authorized: []testKey{good}, allowed: []string{target}})

	_, err := h.dial(t, stranger, target)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unable to authenticate")
	e := h.waitLog(t, "refused certificate: signed by an unknown CA")
	assert.Equal(t, stranger.pair.Fingerprint, e.ContextMap()["ca_fingerprint"])
	for _, entry := range h.logs.All() {
		assert.NotContains(t, entry.Message+" "+strings.Join(mapValues(entry.ContextMap()), " "), "PRIVATE KEY")
	}
}

func TestSecurityRevokedKeyAfterRotation(t *testing.T) {
	target := echoServer(t)
	oldKey, newKeyPair := newKey(t, "old"), newKey(t, "new")
	h := startAgent(t, harnessOptions{authorized: []testKey{oldKey}, allowed: []string{target}})

	c, err := h.dial(t, oldKey, target)
	require.NoError(t, err)
	c.Close()
	_, err = h.dial(t, newKeyPair, target)
	require.Error(t, err, "new key not yet distributed")

	// Overlap: both keys valid.
	writeAuthorized(t, h.authFile, oldKey, newKeyPair)
	for _, k := range []testKey{oldKey, newKeyPair} {
		c, err := h.dial(t, k, target)
		require.NoError(t, err, k.pair.Fingerprint)
		require.NoError(t, roundTrip(t, c, target))
		c.Close()
	}

	// Old key removed: refused from the next connection on.
	writeAuthorized(t, h.authFile, newKeyPair)
	_, err = h.dial(t, oldKey, target)
	require.Error(t, err, "revoked key must be refused")
	c, err = h.dial(t, newKeyPair, target)
	require.NoError(t, err)
	c.Close()
}

func TestSecurityTargetNotOnAllowList(t *testing.T) {
	allowed, other := echoServer(t), echoServer(t)
	client := newKey(t, "client")
	h := startAgent(t, harnessOptions{authorized: []testKey{client}, allowed: []string{allowed}})

	// Each certificate names its target, so the allow-list is what refuses.
	_, port, _ := net.SplitHostPort(allowed)
	for _, target := range []string{other, "127.0.0.2:" + port} {
		c, err := h.dial(t, client, target)
		require.NoError(t, err)
		_, err = c.Dial("tcp", target)
		require.Error(t, err, target)
		assert.Contains(t, err.Error(), "prohibited", target)
		assert.NotContains(t, err.Error(), RejectNotCertified, target)
		c.Close()
	}
	c, err := h.dial(t, client, allowed)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, roundTrip(t, c, allowed))
	h.waitLog(t, "refused channel: target not allowed")
}

// namedList allows one target and knows it as "ns/mount"; a name only
// resolves to an address the list allows.
type namedList struct {
	StaticAllowList
	names map[string]netip.Addr
}

func (l namedList) LookupTarget(host string) (netip.Addr, bool, bool) {
	a, ok := l.names[host]
	return a, ok, !ok && host == "ns/starting"
}

func TestNamedTargetResolvesOnlyThroughTheAllowList(t *testing.T) {
	allowed, other := echoServer(t), echoServer(t)
	allowedAP, otherAP := netip.MustParseAddrPort(allowed), netip.MustParseAddrPort(other)
	static, err := NewStaticAllowList(allowed)
	require.NoError(t, err)
	list := namedList{StaticAllowList: static, names: map[string]netip.Addr{
		"ns/mount": allowedAP.Addr(),
		// a name that resolves to a port the list does not allow
		"ns/elsewhere": otherAP.Addr(),
	}}
	client := newKey(t, "client")
	h := startAgent(t, harnessOptions{authorized: []testKey{client}, mutate: func(o *Options) { o.AllowList = list }})
	port := strconv.Itoa(int(allowedAP.Port()))
	c, err := h.dial(t, client, "ns/mount:"+port)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, roundTrip(t, c, "ns/mount:"+port))
	ch := h.waitLog(t, "channel closed").ContextMap()
	assert.Equal(t, allowed, ch["target"])
	assert.Equal(t, "ns/mount:"+port, ch["target_name"])

	for _, target := range []string{"ns/unknown:" + port, "ns/elsewhere:" + strconv.Itoa(int(otherAP.Port()))} {
		c, err := h.dial(t, client, target)
		require.NoError(t, err)
		_, err = c.Dial("tcp", target)
		require.Error(t, err, target)
		assert.Contains(t, err.Error(), "prohibited", target)
		c.Close()
	}
	// A pod that may still come up is not refused, and not logged as a refusal.
	refusals := len(h.logs.FilterMessage("refused channel: target not allowed").All())
	c, err = h.dial(t, client, "ns/starting:"+port)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Dial("tcp", "ns/starting:"+port)
	require.Error(t, err)
	assert.Contains(t, err.Error(), RejectTargetNotReady)
	assert.NotContains(t, err.Error(), "prohibited")
	assert.Len(t, h.logs.FilterMessage("refused channel: target not allowed").All(), refusals)
}

func TestSecurityShellExecAndForwardingRefused(t *testing.T) {
	client := newKey(t, "client")
	h := startAgent(t, harnessOptions{authorized: []testKey{client}})
	c, err := h.dial(t, client, keys.ProbeTarget)
	require.NoError(t, err)
	defer c.Close()

	_, err = c.NewSession() // shell, exec, subsystem and agent forwarding all need a session
	require.Error(t, err)
	assert.Contains(t, err.Error(), "prohibited")
	e := h.waitLog(t, "refused channel")
	assert.Equal(t, "session", e.ContextMap()["channel_type"])

	_, err = c.Listen("tcp", "127.0.0.1:0") // remote forwarding (tcpip-forward)
	require.Error(t, err)
	e = h.waitLog(t, "refused global request")
	assert.Equal(t, "tcpip-forward", e.ContextMap()["request_type"])

	_, _, err = c.OpenChannel("auth-agent@openssh.com", nil)
	require.Error(t, err)
}

func TestSecurityWrongHostKeyFailsClient(t *testing.T) {
	client := newKey(t, "client")
	h := startAgent(t, harnessOptions{authorized: []testKey{client}})
	impostor := newKey(t, "impostor")
	_, err := dialWith(h.addr, certFor(t, client, keys.ProbeTarget, time.Now(), time.Minute), ssh.FixedHostKey(impostor.signer.PublicKey()), sshalgo.Config())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "host key mismatch")
}

func TestOnlyAESGCMOffered(t *testing.T) {
	client := newKey(t, "client")
	h := startAgent(t, harnessOptions{authorized: []testKey{client}})
	cfg := sshalgo.Config()
	cfg.Ciphers = []string{ssh.CipherChaCha20Poly1305, ssh.CipherAES128CTR}
	_, err := dialWith(h.addr, certFor(t, client, keys.ProbeTarget, time.Now(), time.Minute), ssh.FixedHostKey(h.hostKey.signer.PublicKey()), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no common algorithm")
}

func mapValues(m map[string]any) []string {
	var out []string
	for _, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestProbeConnectionsAreNotWarnings(t *testing.T) {
	client := newKey(t, "client")
	h := startAgent(t, harnessOptions{authorized: []testKey{client}})
	c, err := net.Dial("tcp", h.addr)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	h.waitLog(t, "connection closed before the SSH handshake")
	assert.Empty(t, h.logs.FilterMessage("ssh handshake failed").All())

	_, err = h.dial(t, newKey(t, "stranger"), keys.ProbeTarget)
	require.Error(t, err)
	h.waitLog(t, "ssh handshake failed")
}
