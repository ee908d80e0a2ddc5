package mountserver

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
	"github.com/dr-syncer/dr-syncer/test/testtree"
)

// A client from an address other than the agent's is turned away before it
// can even try the credentials; the agent's own address gets the data.
// Loopback is 127.0.0.0/8 on Linux, so two client addresses exist without
// any setup.
func TestDaemonAdmitsOnlyTheAgentAddress(t *testing.T) {
	rsync := testtree.RequireRsync(t)
	dir := t.TempDir()
	mod := filepath.Join(dir, "volume")
	require.NoError(t, os.MkdirAll(mod, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mod, "data.txt"), []byte("payload"), 0o644))
	creds, err := keys.NewRsyncCredentials()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := Start(ctx, Options{
		ModulePath: mod, Address: "127.0.0.1", Credentials: creds, RsyncPath: rsync,
		WorkDir: dir, HostsAllow: []string{"127.0.0.2"}, Logger: zaptest.NewLogger(t), DaemonLog: testWriter{t},
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Stop() })
	url := rsyncargs.ModuleURL(creds.User, s.Addr, DefaultModule)
	pw := string(creds.Password.Reveal())

	stranger := filepath.Join(dir, "stranger")
	out, code := runRsync(t, pw, "-a", "--address=127.0.0.3", url, stranger+"/")
	assert.Equal(t, 5, code, out)
	// rsyncd answers as if the module did not exist (it is unlisted).
	assert.Contains(t, out, "@ERROR")
	_, err = os.Stat(filepath.Join(stranger, "data.txt"))
	assert.True(t, os.IsNotExist(err), "a client from a foreign address got the data")

	agent := filepath.Join(dir, "agent")
	out, code = runRsync(t, pw, "-a", "--address=127.0.0.2", url, agent+"/")
	require.Equal(t, 0, code, out)
	got, err := os.ReadFile(filepath.Join(agent, "data.txt"))
	require.NoError(t, err)
	assert.Equal(t, "payload", string(got))
}
