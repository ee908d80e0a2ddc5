package keys

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// RsyncCredentials authenticate the agent→mount-pod hop for one operation.
// They are generated per sync, delivered to both pods by a Secret, and die
// with the operation.
type RsyncCredentials struct {
	User     string `json:"user"`
	Password Secret `json:"password"`
}

// ErrBadCredentials marks unusable rsync credentials.
var ErrBadCredentials = errors.New("bad rsync credentials")

// NewRsyncCredentials generates a random user name and a 256-bit password.
func NewRsyncCredentials() (RsyncCredentials, error) {
	var u [6]byte
	var p [32]byte
	if _, err := rand.Read(u[:]); err != nil {
		return RsyncCredentials{}, fmt.Errorf("generate rsync user: %w", err)
	}
	if _, err := rand.Read(p[:]); err != nil {
		return RsyncCredentials{}, fmt.Errorf("generate rsync password: %w", err)
	}
	return RsyncCredentials{
		User:     "op-" + hex.EncodeToString(u[:]),
		Password: Secret(base64.RawURLEncoding.EncodeToString(p[:])),
	}, nil
}

// Validate checks that the credentials fit rsyncd's "user:password" secrets
// file format and its module URL syntax.
func (c RsyncCredentials) Validate() error {
	if c.User == "" || strings.ContainsAny(c.User, ":@/ \t\r\n#,") {
		return fmt.Errorf("%w: user must be non-empty without ':', '@', '/', ',', '#' or spaces", ErrBadCredentials)
	}
	if len(c.Password) == 0 || bytes.ContainsAny(c.Password, "\r\n\x00") {
		return fmt.Errorf("%w: password must be one non-empty line", ErrBadCredentials)
	}
	return nil
}

// SecretsFileLine is the rsyncd "secrets file" line for c.
func (c RsyncCredentials) SecretsFileLine() Secret {
	return Secret(c.User + ":" + string(c.Password.Reveal()) + "\n")
}

// Secret volume file names for rsync credentials.
const (
	RsyncUserFile     = "rsync-user"
	RsyncPasswordFile = "rsync-password"
)

// LoadRsyncCredentials reads credentials from two files (a mounted Secret):
// the user name and the password, each optionally newline-terminated.
func LoadRsyncCredentials(userFile, passwordFile string) (RsyncCredentials, error) {
	user, err := os.ReadFile(userFile)
	if err != nil {
		return RsyncCredentials{}, fmt.Errorf("read rsync user: %w", err)
	}
	pw, err := os.ReadFile(passwordFile)
	if err != nil {
		return RsyncCredentials{}, fmt.Errorf("read rsync password: %w", err)
	}
	c := RsyncCredentials{
		User:     strings.TrimRight(string(user), "\r\n"),
		Password: Secret(bytes.TrimRight(pw, "\r\n")),
	}
	if err := c.Validate(); err != nil {
		return RsyncCredentials{}, fmt.Errorf("load rsync credentials: %w", err)
	}
	return c, nil
}
