package mountserver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/test/testtree"
)

func TestRenderConfig(t *testing.T) {
	p := ConfigParams{
		Modules: []Module{{Name: "data", Path: "/data"}}, User: "op-1",
		SecretsFile: "/w/s", PIDFile: "/w/p", LockFile: "/w/l",
		Chroot: true, RunAsRoot: true, MaxConnections: 4, TimeoutSeconds: 60,
		HostsAllow: []string{"10.0.0.7"},
	}
	conf, err := RenderConfig(p)
	require.NoError(t, err)
	s := string(conf)
	for _, want := range []string{
		"[data]\n", "path = /data\n", "read only = yes\n", "use chroot = yes\n", "munge symlinks = yes\n",
		"numeric ids = yes\n", "uid = 0\n", "auth users = op-1:ro\n", "secrets file = /w/s\n", "strict modes = yes\n",
		"refuse options = copy-links copy-unsafe-links", "hosts allow = 10.0.0.7\nhosts deny = *\n", "list = no\n",
	} {
		assert.Contains(t, s, want)
	}
	for _, never := range []string{"exec", "name converter", "charset", "write only = yes"} {
		assert.NotContains(t, s, never)
	}

	p.Chroot, p.RunAsRoot, p.HostsAllow = false, false, nil
	conf, err = RenderConfig(p)
	require.NoError(t, err)
	assert.Contains(t, string(conf), "use chroot = no\n")
	assert.NotContains(t, string(conf), "uid =")
	assert.NotContains(t, string(conf), "hosts allow")

	for _, bad := range []func(*ConfigParams){
		func(p *ConfigParams) { p.Modules = nil },
		func(p *ConfigParams) { p.Modules = []Module{{Name: "data", Path: "relative"}} },
		func(p *ConfigParams) { p.Modules = []Module{{Name: "data", Path: "/data\n[evil]"}} },
		func(p *ConfigParams) { p.Modules = []Module{{Name: "data", Path: "/data/./inner"}} },
		func(p *ConfigParams) { p.Modules = []Module{{Name: "data", Path: "/data/../etc"}} },
		func(p *ConfigParams) { p.Modules = []Module{{Name: "da ta", Path: "/data"}} },
		func(p *ConfigParams) {
			p.Modules = []Module{{Name: "data", Path: "/data"}, {Name: "data", Path: "/other"}}
		},
		func(p *ConfigParams) { p.User = "a:b" },
		func(p *ConfigParams) { p.User = "a\npre-xfer exec = /bin/sh" },
		func(p *ConfigParams) { p.HostsAllow = []string{"* "} },
	} {
		q := p
		bad(&q)
		_, err := RenderConfig(q)
		assert.ErrorIs(t, err, ErrInvalidParams, "%+v", q)
	}
}

// startDaemon serves a tree with a symlink to a directory outside it.
func startDaemon(t *testing.T) (*Server, keys.RsyncCredentials, string) {
	t.Helper()
	rsync := testtree.RequireRsync(t)
	dir := t.TempDir()
	mod := filepath.Join(dir, "volume")
	outside := filepath.Join(dir, "outside")
	require.NoError(t, os.MkdirAll(mod, 0o755))
	require.NoError(t, os.MkdirAll(outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "host-secret"), []byte("not yours"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "inside.txt"), []byte("yours"), 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(mod, "escape")))
	require.NoError(t, os.Symlink("../outside/host-secret", filepath.Join(mod, "escape-file")))

	creds, err := keys.NewRsyncCredentials()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := Start(ctx, Options{
		ModulePath: mod, Address: "127.0.0.1", Credentials: creds, RsyncPath: rsync,
		WorkDir: dir, Logger: zaptest.NewLogger(t), DaemonLog: testWriter{t},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop() })
	return s, creds, dir
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("rsyncd: %s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func runRsync(t *testing.T, password string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("rsync", args...)
	cmd.Env = []string{"RSYNC_PASSWORD=" + password, "LC_ALL=C"}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return string(out), code
}

func TestDaemonServesModuleOnly(t *testing.T) {
	s, creds, dir := startDaemon(t)
	url := rsyncargs.ModuleURL(creds.User, s.Addr, DefaultModule)
	pw := string(creds.Password.Reveal())

	// Symlinks arrive as symlinks, with their original targets.
	dst := filepath.Join(dir, "copy")
	out, code := runRsync(t, pw, "-a", url, dst+"/")
	require.Equal(t, 0, code, out)
	target, err := os.Readlink(filepath.Join(dst, "escape"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "outside"), target)
	_, err = os.Stat(filepath.Join(dst, "host-secret"))
	assert.True(t, os.IsNotExist(err))

	// Asking for a path through the symlink does not leave the volume.
	out, code = runRsync(t, pw, "-a", url+"escape/host-secret", filepath.Join(dir, "stolen"))
	assert.NotEqual(t, 0, code, out)
	_, err = os.Stat(filepath.Join(dir, "stolen"))
	assert.True(t, os.IsNotExist(err), "file outside the module was served")

	// Options that make the sender follow symlinks are refused.
	for _, opt := range []string{"--copy-links", "--copy-unsafe-links", "--copy-dirlinks"} {
		out, code = runRsync(t, pw, "-a", opt, url, filepath.Join(dir, "follow"+opt)+"/")
		assert.NotEqual(t, 0, code, "%s: %s", opt, out)
		_, err = os.Stat(filepath.Join(dir, "follow"+opt, "escape", "host-secret"))
		assert.True(t, os.IsNotExist(err), "%s followed a symlink out of the volume", opt)
	}

	// Read-only: uploads fail.
	src := filepath.Join(dir, "upload")
	require.NoError(t, os.WriteFile(src, []byte("x"), 0o644))
	out, code = runRsync(t, pw, src, url)
	assert.NotEqual(t, 0, code, out)

	// Wrong password: refused at the greeting (exit 5).
	out, code = runRsync(t, "wrong", "-a", url, filepath.Join(dir, "nope")+"/")
	assert.Equal(t, 5, code, out)
	assert.Contains(t, out, "auth failed")
}

func TestStartFailsWithoutRsync(t *testing.T) {
	creds, err := keys.NewRsyncCredentials()
	require.NoError(t, err)
	_, err = Start(context.Background(), Options{
		ModulePath: t.TempDir(), Address: "127.0.0.1", Credentials: creds,
		RsyncPath: "/nonexistent/rsync", Logger: zaptest.NewLogger(t),
	})
	require.ErrorIs(t, err, ErrRsyncNotFound)
}
