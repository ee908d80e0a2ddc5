package sshcheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/agent"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

type testKey struct {
	signer ssh.Signer
	pair   keys.ClusterPairKey
}

func newKey(t *testing.T) testKey {
	t.Helper()
	k, err := keys.GenerateClusterPairKey("test")
	require.NoError(t, err)
	s, err := keys.ParsePrivateKey(k.PrivateKey)
	require.NoError(t, err)
	return testKey{signer: s, pair: k}
}

// startAgent runs the real agent on 127.0.0.1:0, accepting client.
func startAgent(t *testing.T, host, client testKey) string {
	t.Helper()
	set, err := keys.ParseAuthorizedKeys(client.pair.AuthorizedKey)
	require.NoError(t, err)
	allow, err := agent.NewStaticAllowList()
	require.NoError(t, err)
	srv, err := agent.New(agent.Options{
		HostKeys: []ssh.Signer{host.signer}, AuthorizedKeys: agent.StaticKeys{Set: set},
		AllowList: allow, Logger: zap.NewNop(), ShutdownGrace: time.Second,
	})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// probeCert is what RunConnectivityCheck issues: a certificate from the
// cluster-pair key ca, bound to keys.ProbeTarget.
func probeCert(t *testing.T, ca testKey) keys.OpCert {
	t.Helper()
	oc, err := keys.IssueCert(keys.IssueRequest{CA: ca.signer, KeyID: "connectivity-check test", Target: keys.ProbeTarget})
	require.NoError(t, err)
	return oc
}

func probeSigner(t *testing.T, ca testKey) ssh.Signer {
	t.Helper()
	oc := probeCert(t, ca)
	s, err := keys.CertSigner(oc.PrivateKey, oc.Certificate)
	require.NoError(t, err)
	return s
}

// closedPort is an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

func TestCheck(t *testing.T) {
	host, client, stranger := newKey(t), newKey(t), newKey(t)
	addr := startAgent(t, host, client)
	closed := closedPort(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		o      Options
		addr   string
		kind   string
		errHas string
	}{
		{"a certificate of the cluster key connects", Options{ClientKey: probeSigner(t, client), HostKeys: []ssh.PublicKey{host.signer.PublicKey()}}, addr, "", ""},
		{"either pinned host key connects", Options{ClientKey: probeSigner(t, client), HostKeys: []ssh.PublicKey{stranger.signer.PublicKey(), host.signer.PublicKey()}}, addr, "", ""},
		{"a certificate of another key fails authentication", Options{ClientKey: probeSigner(t, stranger), HostKeys: []ssh.PublicKey{host.signer.PublicKey()}}, addr,
			KindAuth, "authentication failed (the agent does not accept certificates of this cluster key"},
		{"the plain cluster key fails authentication", Options{ClientKey: client.signer, HostKeys: []ssh.PublicKey{host.signer.PublicKey()}}, addr,
			KindAuth, "authentication failed"},
		{"another host key is a mismatch", Options{ClientKey: probeSigner(t, client), HostKeys: []ssh.PublicKey{stranger.signer.PublicKey()}}, addr,
			KindHostKey, "host key mismatch"},
		{"a closed port is unreachable", Options{ClientKey: probeSigner(t, client), HostKeys: []ssh.PublicKey{host.signer.PublicKey()}}, closed,
			KindUnreachable, "unreachable: dial tcp " + closed + ": connect: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Timeout = 5 * time.Second
			r := Check(ctx, tc.o, tc.addr)
			assert.Equal(t, tc.addr, r.Addr)
			assert.Equal(t, tc.kind == "", r.OK, r.Error)
			assert.Equal(t, tc.kind, r.Kind)
			assert.Contains(t, r.Error, tc.errHas)
		})
	}
}

// A dial that times out reads as "unreachable: dial tcp …: i/o timeout".
func TestCheckTimeoutReadsWell(t *testing.T) {
	host, client := newKey(t), newKey(t)
	r := Check(context.Background(), Options{
		// 192.0.2.0/24 is TEST-NET-1: never routed, so the dial hangs
		// until the timeout (or fails at once where there is no route).
		ClientKey: probeSigner(t, client), HostKeys: []ssh.PublicKey{host.signer.PublicKey()}, Timeout: 50 * time.Millisecond,
	}, "192.0.2.1:2222")
	assert.False(t, r.OK)
	assert.Equal(t, KindUnreachable, r.Kind)
	assert.True(t, strings.HasPrefix(r.Error, "unreachable: dial tcp 192.0.2.1:2222: "), r.Error)
}

func TestMainWritesLinesAndSummary(t *testing.T) {
	host, client := newKey(t), newKey(t)
	good := startAgent(t, host, client)
	bad := closedPort(t)
	dir := t.TempDir()
	keyFile, certFile, hostFile, termLog := filepath.Join(dir, "id"), filepath.Join(dir, "id-cert.pub"), filepath.Join(dir, "host.pub"), filepath.Join(dir, "termination-log")
	oc := probeCert(t, client)
	require.NoError(t, os.WriteFile(keyFile, oc.PrivateKey.Reveal(), 0o600))
	require.NoError(t, os.WriteFile(certFile, oc.Certificate, 0o600))
	require.NoError(t, os.WriteFile(hostFile, keys.AuthorizedLine(host.signer.PublicKey(), "host"), 0o600))
	args := func(addrs ...string) []string {
		return append([]string{"--client-key", keyFile, "--client-cert", certFile, "--host-key", hostFile, "--timeout", "5s", "--termination-log", termLog}, addrs...)
	}

	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args(good, bad), &stdout, &stderr)
	assert.Equal(t, ExitNotConnected, code, stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	require.Len(t, lines, 2)
	var first, second Result
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &first))
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &second))
	assert.Equal(t, Result{Addr: good, OK: true}, first)
	assert.Equal(t, KindUnreachable, second.Kind)
	var s Summary
	b, err := os.ReadFile(termLog)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &s))
	assert.False(t, s.Connected)
	assert.Equal(t, 2, s.Checked)
	require.Len(t, s.Failed, 1)
	assert.Equal(t, bad, s.Failed[0].Addr)

	stdout.Reset()
	assert.Equal(t, ExitConnected, Main(context.Background(), args(good), &stdout, &stderr))
	b, err = os.ReadFile(termLog)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &s))
	assert.True(t, s.Connected)

	assert.Equal(t, ExitUsage, Main(context.Background(), args(), &stdout, &stderr), "no agents is a usage error")
}

func TestSummaryFitsTerminationMessage(t *testing.T) {
	agents := func(n int, fails func(i int) bool) ([]string, []Result) {
		var addrs []string
		var results []Result
		for i := range n {
			addr := fmt.Sprintf("10.0.%d.%d:2222", i/250, i%250)
			addrs = append(addrs, addr)
			r := Result{Addr: addr, OK: !fails(i)}
			if !r.OK {
				r.Kind, r.Error = KindUnreachable, "unreachable: "+strings.Repeat("x", 300)
			}
			results = append(results, r)
		}
		return addrs, results
	}
	roundTrip := func(s Summary) Summary {
		b, err := s.Marshal()
		require.NoError(t, err)
		assert.LessOrEqual(t, len(b), MaxSummaryBytes)
		var back Summary
		require.NoError(t, json.Unmarshal(b, &back))
		return back
	}

	t.Run("all of many agents pass", func(t *testing.T) {
		addrs, results := agents(1000, func(int) bool { return false })
		back := roundTrip(Summarize(results))
		assert.True(t, back.Connected)
		assert.Equal(t, results, back.Results(addrs), "every agent reads back as passed")
	})
	t.Run("many failures", func(t *testing.T) {
		addrs, results := agents(300, func(i int) bool { return i%3 == 0 })
		back := roundTrip(Summarize(results))
		assert.False(t, back.Connected)
		assert.Equal(t, 100, len(back.Failed)+back.Omitted, "every failure is listed or counted")
		require.NotEmpty(t, back.Failed)
		got := back.Results(addrs)
		require.Len(t, got, len(addrs))
		assert.Equal(t, KindUnreachable, got[0].Kind, "the first failure is kept in full")
		for _, r := range got {
			assert.False(t, r.OK, "with failures omitted no unlisted agent may read as passed: %s", r)
		}
	})
	t.Run("a few failures", func(t *testing.T) {
		small := Summarize([]Result{{Addr: "a:1", OK: true}, {Addr: "b:1", Error: "unreachable: x", Kind: KindUnreachable}})
		back := roundTrip(small)
		assert.Equal(t, []Result{{Addr: "a:1", OK: true}, {Addr: "b:1", Error: "unreachable: x", Kind: KindUnreachable}},
			back.Results([]string{"a:1", "b:1"}))
		other := back.Results([]string{"a:1", "b:1", "c:1"})
		assert.False(t, other[0].OK, "a pod that checked other agents proves nothing about these")
		assert.Contains(t, other[2].Error, "checked 2 agents, not these 3")
	})
	assert.False(t, Summarize(nil).Connected, "no agents proves nothing")
}
