package mover

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
)

func TestParseListOnly(t *testing.T) {
	out := "drwxr-xr-x          4,096 2026/11/22 06:38:46 .\n" +
		"lrwxrwxrwx              4 2026/11/22 06:35:08 esc\n" +
		"drwxr-xr-x          4,096 2026/11/22 06:35:21 dir two\n" +
		"drwxr-xr-x          4,096 2026/11/22 06:35:21  leading\n" +
		"-rw-r--r--              1 2026/11/22 06:38:52 nl\\#012name\n" +
		"drwxr-xr-x          4,096 2026/11/22 06:38:46 ünï cödé\n" +
		"drwxrwsr-x  1,234,567,890 2026/11/22 06:38:46 big\n"
	entries, err := ParseListOnly(out)
	require.NoError(t, err)
	assert.Equal(t, []TopEntry{
		{Name: "esc"}, {Name: "dir two", IsDir: true}, {Name: " leading", IsDir: true},
		{Name: "nl\nname"}, {Name: "ünï cödé", IsDir: true}, {Name: "big", IsDir: true},
	}, entries)

	for _, bad := range []string{"garbage\n", "drwxr-xr-x 4,096 2026/11/22\n", "drwxr-xr-x 1 yesterday 06:38:46 x\n"} {
		_, err := ParseListOnly(bad)
		assert.Error(t, err, bad)
	}
}

func TestPlanStreams(t *testing.T) {
	entries := []TopEntry{
		{Name: "file"}, {Name: "d"}, // non-dirs stay with the root stream
		{Name: "c", IsDir: true}, {Name: "a", IsDir: true}, {Name: "b", IsDir: true},
		{Name: "glob*", IsDir: true}, {Name: " space", IsDir: true}, {Name: "nl\n", IsDir: true},
	}
	tests := []struct {
		n    int
		want []StreamPlan
	}{
		{1, []StreamPlan{{Root: true}}},
		{0, []StreamPlan{{Root: true}}},
		{2, []StreamPlan{{Root: true, Dirs: []string{"a", "c"}}, {Dirs: []string{"a", "c"}}}},
		{3, []StreamPlan{{Root: true, Dirs: []string{"a", "b"}}, {Dirs: []string{"a"}}, {Dirs: []string{"b"}}}},
		{8, []StreamPlan{{Root: true, Dirs: []string{"a", "b", "c"}}, {Dirs: []string{"a"}}, {Dirs: []string{"b"}}, {Dirs: []string{"c"}}}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, PlanStreams(entries, tt.n), "n=%d", tt.n)
	}
	assert.Equal(t, []StreamPlan{{Root: true}}, PlanStreams([]TopEntry{{Name: "only-file"}}, 4))
}

func TestSelectSample(t *testing.T) {
	var paths []string
	for i := range 2000 {
		paths = append(paths, "dir/"+string(rune('a'+i%26))+"/"+time.Duration(i).String())
	}
	s10 := SelectSample(paths, 10)
	assert.InDelta(t, 200, len(s10), 60)
	assert.Equal(t, s10, SelectSample(paths, 10), "deterministic")
	reversed := make([]string, len(paths))
	for i, p := range paths {
		reversed[len(paths)-1-i] = p
	}
	assert.Equal(t, s10, SelectSample(reversed, 10), "independent of order")
	assert.Len(t, SelectSample(paths, 100), 2000)
	assert.Len(t, SelectSample([]string{"x"}, 1), 1, "never empty for a non-empty tree")
	assert.Empty(t, SelectSample(nil, 50))
}

func TestParseVerifyLine(t *testing.T) {
	m, ok := parseVerifyLine("verify\t>fc........\tb/three")
	require.True(t, ok)
	assert.Equal(t, mismatch{name: "b/three"}, m, "content alone differs: the source did not change")
	m, ok = parseVerifyLine("verify\t>fcst......\tlive/log")
	require.True(t, ok)
	assert.Equal(t, mismatch{name: "live/log", sourceChanged: true}, m)
	m, ok = parseVerifyLine("verify\t>fc.t......\tsame-size")
	require.True(t, ok)
	assert.True(t, m.sourceChanged, "an mtime change alone marks a changed source")
	m, ok = parseVerifyLine("verify\t>f+++++++++\tnl\\#012x")
	require.True(t, ok)
	assert.Equal(t, "nl\nx", m.name)
	_, ok = parseVerifyLine("verify\t.f...p.....\tonly/perms")
	assert.False(t, ok)
	_, ok = parseVerifyLine("verify\tcd+++++++++\tdir/")
	assert.False(t, ok)
	_, ok = parseVerifyLine(">fc........ no-prefix")
	assert.False(t, ok)
}

// The second comparison decides: matching now is repaired, still differing
// with the source changed is live, still differing under an unchanged
// source is damage.
func TestJudgeMismatches(t *testing.T) {
	v := &progress.Verification{}
	judgeMismatches(v, []string{"changed-once", "live", "damaged"},
		[]mismatch{{name: "live", sourceChanged: true}, {name: "damaged"}})
	assert.Equal(t, []string{"changed-once"}, v.Repaired)
	assert.Equal(t, 1, v.RepairedCount)
	assert.Equal(t, []string{"live"}, v.SkippedLive)
	assert.Equal(t, 1, v.SkippedLiveCount)
	assert.Equal(t, []string{"damaged"}, v.Mismatched)
	assert.Equal(t, 1, v.MismatchCount)

	v = &progress.Verification{}
	judgeMismatches(v, []string{"a", "b"}, nil)
	assert.Equal(t, 2, v.RepairedCount)
	assert.Zero(t, v.MismatchCount)
	assert.Zero(t, v.SkippedLiveCount)
}

// testAgent is an SSH server that accepts any client key and refuses every
// channel: enough to dial.
type testAgent struct {
	addr   string
	pinned ssh.PublicKey
	client ssh.Signer
}

func startTestAgent(t *testing.T) testAgent {
	t.Helper()
	hostPriv, hostPub, err := keys.GenerateHostKey("h")
	require.NoError(t, err)
	hostSigner, err := keys.ParsePrivateKey(hostPriv)
	require.NoError(t, err)
	pinned, err := keys.ParsePublicKey(hostPub)
	require.NoError(t, err)
	clientKey, err := keys.GenerateClusterPairKey("c")
	require.NoError(t, err)
	clientSigner, err := keys.ParsePrivateKey(clientKey.PrivateKey)
	require.NoError(t, err)

	serve := func(c net.Conn) {
		cfg := &ssh.ServerConfig{PublicKeyCallback: func(ssh.ConnMetadata, ssh.PublicKey) (*ssh.Permissions, error) { return nil, nil }}
		cfg.AddHostKey(hostSigner)
		_, chans, reqs, err := ssh.NewServerConn(c, cfg)
		if err != nil {
			return
		}
		go ssh.DiscardRequests(reqs)
		for nc := range chans {
			_ = nc.Reject(ssh.Prohibited, "test")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return testAgent{addr: ln.Addr().String(), pinned: pinned, client: clientSigner}
}

// TestDialAgentUsesInjectedDial proves the dial hook carries the whole SSH
// connection and that the host key is pinned.
func TestDialAgentUsesInjectedDial(t *testing.T) {
	a := startTestAgent(t)
	pinned, clientSigner := a.pinned, a.client
	var dialed string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialed = addr // the agent's name never reaches DNS: the hook decides
		return (&net.Dialer{}).DialContext(ctx, network, a.addr)
	}
	client, err := DialAgent(context.Background(), AgentOptions{
		Addr: "agent.invalid:2222", ClientKey: clientSigner, HostKeys: []ssh.PublicKey{pinned}, Dial: dial,
	})
	require.NoError(t, err)
	assert.Equal(t, "agent.invalid:2222", dialed)
	require.NoError(t, client.Close())

	// During a host-key rotation either pinned key is accepted.
	_, previousPub, err := keys.GenerateHostKey("previous")
	require.NoError(t, err)
	previous, err := keys.ParsePublicKey(previousPub)
	require.NoError(t, err)
	client, err = DialAgent(context.Background(), AgentOptions{Addr: "x:1", ClientKey: clientSigner, HostKeys: []ssh.PublicKey{previous, pinned}, Dial: dial})
	require.NoError(t, err)
	require.NoError(t, client.Close())

	_, otherPub, err := keys.GenerateHostKey("other")
	require.NoError(t, err)
	other, err := keys.ParsePublicKey(otherPub)
	require.NoError(t, err)
	_, err = DialAgent(context.Background(), AgentOptions{Addr: "x:1", ClientKey: clientSigner, HostKeys: []ssh.PublicKey{other}, Dial: dial})
	require.ErrorIs(t, err, ErrHostKeyMismatch)

	failing := func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("no route") }
	_, err = DialAgent(context.Background(), AgentOptions{Addr: "x:1", ClientKey: clientSigner, HostKeys: []ssh.PublicKey{pinned}, Dial: failing})
	require.ErrorIs(t, err, ErrAgentUnreachable)
}
