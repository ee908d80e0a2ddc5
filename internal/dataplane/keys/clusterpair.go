// Package keys holds the two layers of credentials of the data path:
// ed25519 cluster-pair SSH keys, which stay in the control cluster and sign
// per-operation certificates (cert.go) that DR movers log in to source agents
// with; the authorized-key sets of cluster-pair keys the agent trusts as CAs
// (several keys at once, so a rotation can overlap); and per-operation rsync
// credentials (agent → mount pod).
//
// Secret material is wrapped in Secret so it cannot end up in a log line or a
// JSON document by accident; Reveal is the only way out.
package keys

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// Secret is key material or a password. Its String, GoString and JSON forms
// are redacted.
type Secret []byte

const redacted = "[redacted]"

// Reveal returns the secret bytes; call it only to write a Secret volume or
// feed a library that needs the material.
func (s Secret) Reveal() []byte { return s }

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// MarshalJSON keeps secrets out of JSON documents (workflow inputs, logs).
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText keeps secrets out of text encodings (zap, yaml).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// ClusterPairKey is a generated DR→agent key.
type ClusterPairKey struct {
	// PrivateKey is the OpenSSH-format PEM private key for the DR side's Secret.
	PrivateKey Secret
	// AuthorizedKey is the public key as one authorized_keys line (with
	// trailing newline) for the source side's Secret.
	AuthorizedKey []byte
	// Fingerprint is the SHA256 fingerprint, safe to log.
	Fingerprint string
}

// GenerateClusterPairKey creates a new ed25519 key. comment names the pair
// (e.g. "dr-syncer prod->dr 2025-01-01") and ends up in authorized_keys.
func GenerateClusterPairKey(comment string) (ClusterPairKey, error) {
	if strings.ContainsAny(comment, "\r\n") {
		return ClusterPairKey{}, errors.New("generate cluster-pair key: comment must be one line")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return ClusterPairKey{}, fmt.Errorf("generate cluster-pair key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return ClusterPairKey{}, fmt.Errorf("marshal cluster-pair private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return ClusterPairKey{}, fmt.Errorf("marshal cluster-pair public key: %w", err)
	}
	return ClusterPairKey{
		PrivateKey:    pem.EncodeToMemory(block),
		AuthorizedKey: AuthorizedLine(sshPub, comment),
		Fingerprint:   ssh.FingerprintSHA256(sshPub),
	}, nil
}

// GenerateHostKey creates an ed25519 SSH host key for an agent, returned as
// an OpenSSH PEM private key plus its public authorized_keys line (which the
// mover pins).
func GenerateHostKey(comment string) (private Secret, public []byte, err error) {
	k, err := GenerateClusterPairKey(comment)
	if err != nil {
		return nil, nil, fmt.Errorf("generate host key: %w", err)
	}
	return k.PrivateKey, k.AuthorizedKey, nil
}

// AuthorizedLine renders pub as an authorized_keys line with a trailing newline.
func AuthorizedLine(pub ssh.PublicKey, comment string) []byte {
	line := bytes.TrimSuffix(ssh.MarshalAuthorizedKey(pub), []byte("\n"))
	if comment != "" {
		line = append(append(line, ' '), comment...)
	}
	return append(line, '\n')
}

// ParsePrivateKey parses an OpenSSH or PEM private key into a signer. The
// error never quotes the key.
func ParsePrivateKey(pemBytes Secret) (ssh.Signer, error) {
	signer, err := ssh.ParsePrivateKey(pemBytes.Reveal())
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return signer, nil
}

// ParsePublicKey parses one authorized_keys-format line (the pinned host key
// or one cluster-pair key).
func ParsePublicKey(line []byte) (ssh.PublicKey, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey(line)
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	return pub, nil
}

// Fingerprint is the OpenSSH SHA256 fingerprint ("SHA256:…") of pub.
func Fingerprint(pub ssh.PublicKey) string { return ssh.FingerprintSHA256(pub) }
