package agent

import (
	"github.com/dr-syncer/dr-syncer/internal/dataplane/filewatch"
	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

// KeySource yields the cluster-pair keys allowed to connect right now.
type KeySource interface {
	AuthorizedKeys() (*keys.AuthorizedSet, error)
}

// StaticKeys is a fixed KeySource.
type StaticKeys struct{ Set *keys.AuthorizedSet }

// AuthorizedKeys implements KeySource.
func (s StaticKeys) AuthorizedKeys() (*keys.AuthorizedSet, error) { return s.Set, nil }

// AuthorizedKeysFile is a KeySource backed by an authorized_keys file in a
// mounted Secret. A rotation rewrites the Secret with old and new keys, then
// with the new key only; each version applies to the next authentication.
type AuthorizedKeysFile struct {
	file *filewatch.File[*keys.AuthorizedSet]
}

// NewAuthorizedKeysFile watches path. onReload (optional) receives the new set.
func NewAuthorizedKeysFile(path string, onReload func(*keys.AuthorizedSet)) *AuthorizedKeysFile {
	return &AuthorizedKeysFile{file: filewatch.New(path, keys.ParseAuthorizedKeys,
		filewatch.Options[*keys.AuthorizedSet]{OnReload: onReload})}
}

// AuthorizedKeys implements KeySource.
func (a *AuthorizedKeysFile) AuthorizedKeys() (*keys.AuthorizedSet, error) { return a.file.Get() }
