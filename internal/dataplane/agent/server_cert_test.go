package agent

import (
	"context"
	"crypto/rand"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/sshalgo"
)

// countingList allows two targets and counts name lookups, to show that a
// refusal by certificate happens before the allow-list is asked.
type countingList struct {
	StaticAllowList
	lookups atomic.Int64
}

func (l *countingList) LookupTarget(string) (netip.Addr, bool, bool) {
	l.lookups.Add(1)
	return netip.Addr{}, false, false
}

func TestSecurityCertificateForTargetACannotOpenTargetB(t *testing.T) {
	a, b := echoServer(t), echoServer(t)
	static, err := NewStaticAllowList(a, b)
	require.NoError(t, err)
	list := &countingList{StaticAllowList: static}
	var dials atomic.Int64
	ca := newKey(t, "ca")
	h := startAgent(t, harnessOptions{authorized: []testKey{ca}, mutate: func(o *Options) {
		o.AllowList = list
		o.DialTarget = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	}})
	c, err := h.dial(t, ca, a)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, roundTrip(t, c, a))
	require.Equal(t, int64(1), dials.Load())

	for _, other := range []string{b, "ns/mount-b:8873"} {
		_, err = c.Dial("tcp", other)
		require.Error(t, err, other)
		assert.Contains(t, err.Error(), RejectNotCertified)
	}
	assert.Equal(t, int64(1), dials.Load(), "no dial for a target the certificate does not name")
	assert.Zero(t, list.lookups.Load(), "no name lookup for a target the certificate does not name")
	e := h.waitLog(t, "refused channel: "+RejectNotCertified)
	assert.Equal(t, b, e.ContextMap()["target"])
	assert.Equal(t, a, e.ContextMap()["cert_target"])
}

func TestSecurityCertificatesRefused(t *testing.T) {
	target := echoServer(t)
	ca, stranger := newKey(t, "ca"), newKey(t, "stranger")
	h := startAgent(t, harnessOptions{authorized: []testKey{ca}, allowed: []string{target}})
	now := time.Now()

	for name, tc := range map[string]struct {
		signer ssh.Signer
		log    string
	}{
		"expired certificate":     {certFor(t, ca, target, now.Add(-time.Hour), 10*time.Minute), "refused certificate"},
		"not yet valid":           {certFor(t, ca, target, now.Add(time.Hour), 10*time.Minute), "refused certificate"},
		"unknown CA":              {certFor(t, stranger, target, now, 10*time.Minute), "refused certificate: signed by an unknown CA"},
		"plain cluster-pair key":  {ca.signer, "refused plain public key: the agent accepts only per-operation certificates; is the worker older than the agent?"},
		"unknown critical option": {handMade(t, ca, func(c *ssh.Certificate) { c.CriticalOptions["force-command"] = "/bin/sh" }), "refused certificate"},
		"no target option":        {handMade(t, ca, func(c *ssh.Certificate) { delete(c.CriticalOptions, keys.TargetOption) }), "refused certificate"},
		"malformed target":        {handMade(t, ca, func(c *ssh.Certificate) { c.CriticalOptions[keys.TargetOption] = target + ",0.0.0.0:1" }), "refused certificate"},
		"host certificate":        {handMade(t, ca, func(c *ssh.Certificate) { c.CertType = ssh.HostCert }), "refused certificate: not a user certificate"},
		"valid forever":           {handMade(t, ca, func(c *ssh.Certificate) { c.ValidBefore = ssh.CertTimeInfinity }), "refused certificate: valid for longer than the agent accepts"},
		"other principal":         {handMade(t, ca, func(c *ssh.Certificate) { c.ValidPrincipals = []string{"root"} }), "refused certificate"},
	} {
		before := len(h.logs.FilterMessage(tc.log).All())
		_, err := dialWith(h.addr, tc.signer, ssh.FixedHostKey(h.hostKey.signer.PublicKey()), sshalgo.Config())
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "unable to authenticate", name)
		require.Eventually(t, func() bool { return len(h.logs.FilterMessage(tc.log).All()) > before }, 5*time.Second, 10*time.Millisecond, name)
	}
	// Within the allowed skew a worker clock ahead of the agent's is fine.
	c, err := dialWith(h.addr, certFor(t, ca, target, now.Add(keys.ClockSkew+30*time.Second), 10*time.Minute),
		ssh.FixedHostKey(h.hostKey.signer.PublicKey()), sshalgo.Config())
	require.NoError(t, err)
	require.NoError(t, roundTrip(t, c, target))
	c.Close()
}

// handMade signs a certificate like keys.IssueCert would, after edit.
func handMade(t *testing.T, ca testKey, edit func(*ssh.Certificate)) ssh.Signer {
	t.Helper()
	op := newKey(t, "op")
	now := time.Now()
	cert := &ssh.Certificate{
		Key: op.signer.PublicKey(), CertType: ssh.UserCert, KeyId: "hand-made",
		ValidPrincipals: []string{keys.CertPrincipal},
		ValidAfter:      uint64(now.Add(-time.Minute).Unix()), ValidBefore: uint64(now.Add(time.Hour).Unix()),
		Permissions: ssh.Permissions{CriticalOptions: map[string]string{keys.TargetOption: "10.0.0.1:8873"}},
	}
	edit(cert)
	require.NoError(t, cert.SignCert(rand.Reader, ca.signer))
	s, err := ssh.NewCertSigner(cert, op.signer)
	require.NoError(t, err)
	return s
}

// An established connection keeps working when its certificate expires and
// its CA is rotated out: in-flight syncs run to their end; only new logins
// need a valid certificate from a trusted CA.
func TestSecurityCARotationKeepsOpenConnections(t *testing.T) {
	target := echoServer(t)
	oldCA, newCA := newKey(t, "old"), newKey(t, "new")
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	h := startAgent(t, harnessOptions{authorized: []testKey{oldCA}, allowed: []string{target}, mutate: func(o *Options) {
		o.Now = func() time.Time { return time.Unix(0, clock.Load()) }
	}})
	inFlight, err := h.dial(t, oldCA, target)
	require.NoError(t, err)
	defer inFlight.Close()
	require.NoError(t, roundTrip(t, inFlight, target))

	// Overlap: certificates of both CAs are accepted.
	writeAuthorized(t, h.authFile, oldCA, newCA)
	for _, ca := range []testKey{oldCA, newCA} {
		c, err := h.dial(t, ca, target)
		require.NoError(t, err, ca.pair.Fingerprint)
		require.NoError(t, roundTrip(t, c, target))
		c.Close()
	}

	// The old CA is removed and the in-flight certificate has expired.
	writeAuthorized(t, h.authFile, newCA)
	clock.Add(int64(time.Hour))
	_, err = h.dial(t, oldCA, target)
	require.Error(t, err, "a certificate of a removed CA must be refused")
	require.NoError(t, roundTrip(t, inFlight, target), "the open connection still opens channels")
	c, err := dialWith(h.addr, certFor(t, newCA, target, time.Unix(0, clock.Load()), time.Minute),
		ssh.FixedHostKey(h.hostKey.signer.PublicKey()), sshalgo.Config())
	require.NoError(t, err)
	c.Close()
}
