package mountserver

import (
	"context"
	"os"
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

func goldenParams() ConfigParams {
	return ConfigParams{
		Modules: []Module{{Name: DefaultModule, Path: "/data"}}, User: "op-1",
		SecretsFile: "/w/rsyncd.secrets", PIDFile: "/w/rsyncd.pid", LockFile: "/w/rsyncd.lock",
		Chroot: true, RunAsRoot: true, MaxConnections: 16, TimeoutSeconds: 600,
		HostsAllow: []string{"10.0.0.7", "10.0.0.8"},
	}
}

// The golden files were rendered before the daemon could serve several
// modules: today's single-volume mount pod keeps its rsyncd.conf byte for
// byte.
func TestRenderConfigSingleModuleGolden(t *testing.T) {
	p := goldenParams()
	for file, params := range map[string]ConfigParams{
		"single-root.rsyncd.conf": p,
		"single-user.rsyncd.conf": {Modules: p.Modules, User: p.User, SecretsFile: p.SecretsFile, PIDFile: p.PIDFile,
			LockFile: p.LockFile, MaxConnections: p.MaxConnections, TimeoutSeconds: p.TimeoutSeconds},
	} {
		want, err := os.ReadFile(filepath.Join("testdata", file))
		require.NoError(t, err)
		got, err := RenderConfig(params)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), file)
	}
}

// Each module of a batch gets exactly the section a single-volume daemon
// gives its one module: same credentials, refused options, read-only, chroot
// and allow-list.
func TestRenderConfigModulesShareSettings(t *testing.T) {
	p := goldenParams()
	a, b := Module{Name: "claim-0", Path: "/data/0"}, Module{Name: "claim-1", Path: "/data/1"}
	render := func(modules ...Module) string {
		q := p
		q.Modules = modules
		conf, err := RenderConfig(q)
		require.NoError(t, err)
		return string(conf)
	}
	onlyA, onlyB := render(a), render(b)
	sectionB := onlyB[strings.Index(onlyB, "\n[claim-1]"):]
	assert.Equal(t, onlyA+sectionB, render(a, b))
}

func TestValidateModules(t *testing.T) {
	assert.NoError(t, ValidateModules([]Module{{"claim-0", "/data/0"}, {"claim-1", "/data/1"}, {"claim-10", "/data/10"}}),
		"/data/1 is a prefix of /data/10 but does not hold it")
	for name, modules := range map[string][]Module{
		"none":                {},
		"bad name":            {{"da ta", "/data"}},
		"name with a bracket": {{"a]", "/data"}},
		"reserved name":       {{"Global", "/data"}},
		"relative path":       {{"a", "data"}},
		"unclean path":        {{"a", "/data/"}},
		"duplicate name":      {{"a", "/data/0"}, {"a", "/data/1"}},
		"name in other case":  {{"a", "/data/0"}, {"A", "/data/1"}},
		"duplicate path":      {{"a", "/data/0"}, {"b", "/data/0"}},
		"nested path":         {{"a", "/data/0/inner"}, {"b", "/data/0"}},
		"nested in the first": {{"a", "/data"}, {"b", "/data/0"}},
		"root holds all":      {{"a", "/"}, {"b", "/data"}},
	} {
		assert.ErrorIs(t, ValidateModules(modules), ErrInvalidParams, name)
	}
}

func TestParseModule(t *testing.T) {
	m, err := ParseModule("claim-0=/data/0")
	require.NoError(t, err)
	assert.Equal(t, Module{Name: "claim-0", Path: "/data/0"}, m)
	m, err = ParseModule("a=/data/x=y")
	require.NoError(t, err)
	assert.Equal(t, "/data/x=y", m.Path, "only the first = splits")
	for _, bad := range []string{"", "a", "=/data", "a=", "a b=/data", "a=data", "a=/data\n[evil]"} {
		_, err := ParseModule(bad)
		assert.ErrorIs(t, err, ErrInvalidParams, "%q", bad)
	}
}

// Today's options (ModulePath, Module) stay one module, named DefaultModule
// when unset, with the path made absolute as before.
func TestServedModules(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	require.NoError(t, os.Mkdir("vol", 0o755))
	got, err := Options{ModulePath: "vol"}.servedModules()
	require.NoError(t, err)
	assert.Equal(t, []Module{{Name: DefaultModule, Path: filepath.Join(dir, "vol")}}, got)

	got, err = Options{ModulePath: "vol", Module: "other"}.servedModules()
	require.NoError(t, err)
	assert.Equal(t, "other", got[0].Name)

	for name, o := range map[string]Options{
		"no path":        {},
		"not a dir":      {ModulePath: filepath.Join(dir, "missing")},
		"both ways":      {ModulePath: "vol", Modules: []Module{{"a", filepath.Join(dir, "vol")}}},
		"name, not path": {Module: "a", Modules: []Module{{"a", filepath.Join(dir, "vol")}}},
		"module not dir": {Modules: []Module{{"a", filepath.Join(dir, "missing")}}},
	} {
		_, err := o.servedModules()
		assert.ErrorIs(t, err, ErrInvalidParams, name)
	}
}

// One daemon serving two volumes: each module hands out its own volume
// only, and a module that was not configured does not exist.
func TestDaemonServesEachModuleItsOwnVolume(t *testing.T) {
	rsync := testtree.RequireRsync(t)
	dir := t.TempDir()
	volumes := map[string]string{"claim-0": filepath.Join(dir, "vol-0"), "claim-1": filepath.Join(dir, "vol-1")}
	var modules []Module
	for name, path := range volumes {
		require.NoError(t, os.MkdirAll(path, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(path, name+".txt"), []byte(name), 0o644))
		modules = append(modules, Module{Name: name, Path: path})
	}
	creds, err := keys.NewRsyncCredentials()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := Start(ctx, Options{
		Modules: modules, Address: "127.0.0.1", Credentials: creds, RsyncPath: rsync,
		WorkDir: dir, Logger: zaptest.NewLogger(t), DaemonLog: testWriter{t},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop() })
	pw := string(creds.Password.Reveal())

	for name := range volumes {
		dst := filepath.Join(dir, "copy-"+name)
		out, code := runRsync(t, pw, "-a", rsyncargs.ModuleURL(creds.User, s.Addr, name), dst+"/")
		require.Equal(t, 0, code, out)
		entries, err := os.ReadDir(dst)
		require.NoError(t, err)
		require.Len(t, entries, 1, name)
		assert.Equal(t, name+".txt", entries[0].Name())

		// Climbing out of the module ends at its own root (rsyncd strips
		// the ".."), never in the other volume.
		up := filepath.Join(dir, "up-"+name)
		out, _ = runRsync(t, pw, "-a", rsyncargs.ModuleURL(creds.User, s.Addr, name)+"../", up+"/")
		_ = filepath.WalkDir(up, func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				assert.Equal(t, name+".txt", d.Name(), "%s: a file from outside the module was served: %s", name, out)
			}
			return nil
		})
	}

	for _, missing := range []string{"claim-2", DefaultModule} {
		out, code := runRsync(t, pw, "-a", rsyncargs.ModuleURL(creds.User, s.Addr, missing), filepath.Join(dir, "missing-"+missing)+"/")
		assert.NotEqual(t, 0, code, out)
		assert.Contains(t, out, "Unknown module", missing)
		_, err := os.Stat(filepath.Join(dir, "missing-"+missing))
		assert.True(t, os.IsNotExist(err), missing)
	}
}
