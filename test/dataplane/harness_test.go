package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/crypto/ssh"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/agent"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/mountserver"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/mover"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/progress"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/test/testtree"
)

// path is one source volume served through the whole data path: an
// in-process agent, a real rsync daemon (mount server) and, per sync, the
// mover running a real rsync client.
type path struct {
	t         *testing.T
	rsync     string
	src, dst  string
	agentAddr string
	hostKey   ssh.PublicKey
	// ca is the cluster-pair key the agent trusts; each sync gets a
	// certificate from it bound to target (client overrides that).
	ca        ssh.Signer
	client    ssh.Signer
	target    string
	creds     keys.RsyncCredentials
	allowFile string
	authFile  string
	names     *namedAllowList
	agentLogs *observer.ObservedLogs
}

// namedAllowList adds names to the file allow-list, as the API-backed one
// knows mount pods by "<namespace>/<pod>": a name not stored yet is pending,
// one stored as finished is refused.
type namedAllowList struct {
	*agent.FileAllowList
	names    sync.Map // host → netip.Addr
	finished sync.Map // host → struct{}
}

func (l *namedAllowList) LookupTarget(host string) (netip.Addr, bool, bool) {
	if _, done := l.finished.Load(host); done {
		return netip.Addr{}, false, false
	}
	a, ok := l.names.Load(host)
	if !ok {
		return netip.Addr{}, false, true
	}
	return a.(netip.Addr), true, false
}

func signer(t *testing.T, k keys.ClusterPairKey) ssh.Signer {
	t.Helper()
	s, err := keys.ParsePrivateKey(k.PrivateKey)
	require.NoError(t, err)
	return s
}

func newPath(t *testing.T) *path {
	t.Helper()
	return newPathServing(t, nil)
}

// newPathServing is newPath whose mount server serves modules, each a
// directory under src, instead of src itself (a batch's mount pod); tune
// sets the agent's limits.
func newPathServing(t *testing.T, modules []string, tune ...func(*agent.Options)) *path {
	t.Helper()
	p := &path{t: t, rsync: testtree.RequireRsync(t)}
	dir := t.TempDir()
	p.src, p.dst = filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	require.NoError(t, os.MkdirAll(p.src, 0o755))
	require.NoError(t, os.MkdirAll(p.dst, 0o755))
	ctx, cancel := context.WithCancel(context.Background())

	// Mount pod: real rsync daemon on the source volume.
	var err error
	p.creds, err = keys.NewRsyncCredentials()
	require.NoError(t, err)
	served := mountserver.Options{ModulePath: p.src}
	if modules != nil {
		served = mountserver.Options{}
		for _, m := range modules {
			dir := filepath.Join(p.src, m)
			require.NoError(t, os.MkdirAll(dir, 0o755))
			served.Modules = append(served.Modules, mountserver.Module{Name: m, Path: dir})
		}
	}
	srv, err := mountserver.Start(ctx, mountserver.Options{
		ModulePath: served.ModulePath, Modules: served.Modules, Address: "127.0.0.1", Credentials: p.creds, RsyncPath: p.rsync,
		WorkDir: dir, Logger: zaptest.NewLogger(t), DaemonLog: &lineLogger{t: t, prefix: "rsyncd"},
	})
	require.NoError(t, err)
	p.target = srv.Addr

	// Agent: cluster-pair key authorized, mount server allow-listed.
	hostPriv, hostPub, err := keys.GenerateHostKey("agent")
	require.NoError(t, err)
	p.hostKey, err = keys.ParsePublicKey(hostPub)
	require.NoError(t, err)
	pair, err := keys.GenerateClusterPairKey("prod->dr")
	require.NoError(t, err)
	p.ca = signer(t, pair)
	p.authFile = filepath.Join(dir, "authorized_keys")
	require.NoError(t, os.WriteFile(p.authFile, pair.AuthorizedKey, 0o600))
	p.allowFile = filepath.Join(dir, "allow")
	p.allow(p.target)

	core, logs := observer.New(zap.DebugLevel)
	p.agentLogs = logs
	p.names = &namedAllowList{FileAllowList: agent.NewFileAllowList(p.allowFile, nil)}
	agentOpts := agent.Options{
		HostKeys:       []ssh.Signer{signer(t, keys.ClusterPairKey{PrivateKey: hostPriv})},
		AuthorizedKeys: agent.NewAuthorizedKeysFile(p.authFile, nil),
		AllowList:      p.names,
		Logger:         zap.New(core),
	}
	for _, f := range tune {
		f(&agentOpts)
	}
	a, err := agent.New(agentOpts)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p.agentAddr = ln.Addr().String()
	stopped := make(chan struct{})
	go func() { _ = a.Serve(ctx, ln); close(stopped) }()

	t.Cleanup(func() {
		cancel()
		<-stopped
		_ = srv.Wait()
	})
	return p
}

// allow rewrites the agent's allow-list file atomically.
func (p *path) allow(targets ...string) {
	p.t.Helper()
	require.NoError(p.t, os.WriteFile(p.allowFile+".tmp", []byte(strings.Join(targets, "\n")+"\n"), 0o600))
	require.NoError(p.t, os.Rename(p.allowFile+".tmp", p.allowFile))
}

// certFor issues a per-operation certificate for target, as Transfer does.
func (p *path) certFor(target string) ssh.Signer {
	p.t.Helper()
	oc, err := keys.IssueCert(keys.IssueRequest{CA: p.ca, KeyID: "loopback " + target, Target: target})
	require.NoError(p.t, err)
	s, err := keys.CertSigner(oc.PrivateKey, oc.Certificate)
	require.NoError(p.t, err)
	return s
}

func (p *path) options(cfg rsyncargs.Config, out *bytes.Buffer) mover.Options {
	client := p.client
	if client == nil {
		client = p.certFor(p.target)
	}
	return mover.Options{
		Agent:       mover.AgentOptions{Addr: p.agentAddr, ClientKey: client, HostKeys: []ssh.PublicKey{p.hostKey}},
		Target:      p.target,
		Credentials: p.creds,
		Dest:        p.dst,
		Config:      cfg,
		RsyncPath:   p.rsync,
		Reporter:    progress.NewReporter(&syncBuffer{b: out}, progress.ReporterOptions{Interval: 50 * time.Millisecond}),
		Logger:      zaptest.NewLogger(p.t, zaptest.Level(zap.WarnLevel)),
	}
}

// sync runs the mover once and returns its summary and JSON-lines output.
func (p *path) sync(ctx context.Context, cfg rsyncargs.Config) (progress.Summary, []progress.Event) {
	p.t.Helper()
	var out bytes.Buffer
	sum := mover.Run(ctx, p.options(cfg, &out))
	return sum, decodeEvents(p.t, out.Bytes())
}

func (p *path) requireIdentical(opts testtree.Options) {
	p.t.Helper()
	diffs, err := testtree.Compare(p.src, p.dst, opts)
	require.NoError(p.t, err)
	require.Empty(p.t, diffs, "copy differs from source")
}

func decodeEvents(t *testing.T, b []byte) []progress.Event {
	t.Helper()
	var events []progress.Event
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		e, err := progress.DecodeEvent(sc.Bytes())
		require.NoError(t, err, "mover output line %q", sc.Text())
		events = append(events, e)
	}
	return events
}

type syncBuffer struct {
	mu sync.Mutex
	b  *bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

type lineLogger struct {
	t      *testing.T
	prefix string
}

func (l *lineLogger) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		l.t.Logf("%s: %s", l.prefix, line)
	}
	return len(b), nil
}
