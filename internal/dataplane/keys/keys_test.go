package keys

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/crypto/ssh"
)

func TestGenerateClusterPairKeyRoundTrip(t *testing.T) {
	k, err := GenerateClusterPairKey("dr-syncer prod->dr")
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(k.PrivateKey.Reveal(), []byte("-----BEGIN OPENSSH PRIVATE KEY-----")))
	assert.True(t, bytes.HasPrefix(k.AuthorizedKey, []byte("ssh-ed25519 ")))
	assert.True(t, bytes.HasSuffix(k.AuthorizedKey, []byte(" dr-syncer prod->dr\n")))
	assert.True(t, strings.HasPrefix(k.Fingerprint, "SHA256:"))

	signer, err := ParsePrivateKey(k.PrivateKey)
	require.NoError(t, err)
	pub, err := ParsePublicKey(k.AuthorizedKey)
	require.NoError(t, err)
	assert.Equal(t, pub.Marshal(), signer.PublicKey().Marshal())
	assert.Equal(t, k.Fingerprint, Fingerprint(pub))

	_, err = GenerateClusterPairKey("two\nlines")
	require.Error(t, err)
}

func TestSecretsNeverPrinted(t *testing.T) {
	k, err := GenerateClusterPairKey("c")
	require.NoError(t, err)
	creds, err := NewRsyncCredentials()
	require.NoError(t, err)
	pw := string(creds.Password.Reveal())
	priv := string(k.PrivateKey.Reveal())

	outputs := []string{
		fmt.Sprintf("%v %s %+v %#v %q %x", k, k, k, k, k.PrivateKey, k.PrivateKey),
		fmt.Sprintf("%v %+v %#v", creds, creds, creds),
	}
	j, err := json.Marshal(struct {
		K ClusterPairKey
		C RsyncCredentials
	}{k, creds})
	require.NoError(t, err)
	outputs = append(outputs, string(j))

	core, logs := observer.New(zap.DebugLevel)
	zap.New(core).Info("x", zap.Any("key", k), zap.Any("creds", creds), zap.Stringer("pw", creds.Password))
	for _, e := range logs.All() {
		for _, f := range e.Context {
			outputs = append(outputs, fmt.Sprintf("%v %v %v", f.String, f.Interface, f.Integer))
		}
	}
	for _, out := range outputs {
		assert.NotContains(t, out, pw)
		assert.NotContains(t, out, "OPENSSH PRIVATE KEY")
		assert.NotContains(t, out, priv[40:80])
	}
}

func TestAuthorizedSetRotation(t *testing.T) {
	oldKey, err := GenerateClusterPairKey("old")
	require.NoError(t, err)
	newKey, err := GenerateClusterPairKey("new")
	require.NoError(t, err)
	oldPub, _ := ParsePublicKey(oldKey.AuthorizedKey)
	newPub, _ := ParsePublicKey(newKey.AuthorizedKey)

	set, err := ParseAuthorizedKeys(append([]byte("# managed by dr-syncer\n\n"), oldKey.AuthorizedKey...))
	require.NoError(t, err)
	require.Equal(t, 1, set.Len())

	overlap := set.With(newPub, "new")
	assert.Equal(t, 2, overlap.Len())
	assert.Equal(t, 1, set.Len(), "With must not mutate")
	for _, pub := range []ssh.PublicKey{oldPub, newPub} {
		_, ok := overlap.Lookup(pub)
		assert.True(t, ok)
	}

	reparsed, err := ParseAuthorizedKeys(overlap.Marshal())
	require.NoError(t, err)
	assert.Equal(t, 2, reparsed.Len())

	done := reparsed.Without(oldKey.Fingerprint)
	_, ok := done.Lookup(oldPub)
	assert.False(t, ok)
	k, ok := done.Lookup(newPub)
	assert.True(t, ok)
	assert.Equal(t, "new", k.Comment)
	assert.Equal(t, newKey.Fingerprint, k.Fingerprint)
}

func TestParseAuthorizedKeysRejects(t *testing.T) {
	k, err := GenerateClusterPairKey("c")
	require.NoError(t, err)
	_, err = ParseAuthorizedKeys(append([]byte(`from="10.0.0.1" `), k.AuthorizedKey...))
	require.ErrorIs(t, err, ErrBadAuthorizedKeys)
	_, err = ParseAuthorizedKeys([]byte("ssh-ed25519 notbase64!!\n"))
	require.ErrorIs(t, err, ErrBadAuthorizedKeys)
	ecdsa := "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEmKSENjQEezOmxkZMy7opKgwFB9nkt5YRrYMjNuG5N87uRgg6CLrbo5wAdT/y6v0mKV0U2w0WZ2YB/++Tpockg= x\n"
	_, err = ParseAuthorizedKeys([]byte(ecdsa))
	require.ErrorIs(t, err, ErrBadAuthorizedKeys)
	empty, err := ParseAuthorizedKeys(nil)
	require.NoError(t, err)
	assert.Equal(t, 0, empty.Len())
}

func TestRsyncCredentials(t *testing.T) {
	c, err := NewRsyncCredentials()
	require.NoError(t, err)
	require.NoError(t, c.Validate())
	assert.True(t, strings.HasPrefix(c.User, "op-"))
	assert.GreaterOrEqual(t, len(c.Password), 43)
	assert.Equal(t, c.User+":"+string(c.Password.Reveal())+"\n", string(c.SecretsFileLine().Reveal()))

	other, err := NewRsyncCredentials()
	require.NoError(t, err)
	assert.NotEqual(t, c.User, other.User)

	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, RsyncUserFile), []byte(c.User+"\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, RsyncPasswordFile), c.Password.Reveal(), 0o600))
	loaded, err := LoadRsyncCredentials(filepath.Join(dir, RsyncUserFile), filepath.Join(dir, RsyncPasswordFile))
	require.NoError(t, err)
	assert.Equal(t, c, loaded)

	for _, bad := range []RsyncCredentials{
		{User: "", Password: Secret("x")},
		{User: "a:b", Password: Secret("x")},
		{User: "a@b", Password: Secret("x")},
		{User: "ok", Password: nil},
		{User: "ok", Password: Secret("two\nlines")},
	} {
		assert.ErrorIs(t, bad.Validate(), ErrBadCredentials)
	}
}
