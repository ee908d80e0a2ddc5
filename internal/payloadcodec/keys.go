// Package payloadcodec encrypts every Temporal payload dr-syncer writes with
// AES-256-GCM, so workflow inputs, results, heartbeats, queries, signals and
// memos (namespace names, PVC names, paths, progress) are not readable from
// Temporal's database or by anyone who can read its histories without the
// key. It also serves the codec HTTP endpoint the Temporal Web UI and CLI
// call to show those payloads to operators who hold the key.
package payloadcodec

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// KeyFileFormat is how a key file is laid out; error messages quote it.
const KeyFileFormat = "one key per line as KEY-ID:BASE64-OF-32-RANDOM-BYTES (e.g. `echo \"k1:$(head -c32 /dev/urandom | base64 -w0)\"`); " +
	"the first line encrypts, every line decrypts; blank lines and lines starting with # are ignored"

// Key is one AES-256 key and the ID written next to what it encrypted, so a
// reader knows which key to use after a rotation.
type Key struct {
	ID   string
	aead cipher.AEAD
}

// NewKey makes a key from 32 secret bytes.
func NewKey(id string, secret []byte) (Key, error) {
	if id == "" || strings.ContainsAny(id, ": \t") {
		return Key{}, fmt.Errorf("key ID %q: want a non-empty ID without spaces or colons", id)
	}
	if len(secret) != 32 {
		return Key{}, fmt.Errorf("key %q is %d bytes: AES-256 needs exactly 32", id, len(secret))
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		return Key{}, fmt.Errorf("key %q: %w", id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, fmt.Errorf("key %q: %w", id, err)
	}
	return Key{ID: id, aead: aead}, nil
}

// LoadKeys reads a key file (a mounted Secret); see KeyFileFormat. The
// first key is the one new payloads are encrypted with.
func LoadKeys(path string) ([]Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read payload codec key file %s: %w; mount the key Secret there or unset the key file setting", path, err)
	}
	keys, err := ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("payload codec key file %s: %w", path, err)
	}
	return keys, nil
}

// ParseKeys parses the contents of a key file; see KeyFileFormat.
func ParseKeys(data []byte) ([]Key, error) {
	var keys []Key
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d has no KEY-ID: prefix; want %s", n, KeyFileFormat)
		}
		secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("line %d (key %q) is not base64: %v; want %s", n, id, err, KeyFileFormat)
		}
		key, err := NewKey(strings.TrimSpace(id), secret)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w; want %s", n, err, KeyFileFormat)
		}
		if seen[key.ID] {
			return nil, fmt.Errorf("line %d repeats key ID %q: each key needs its own ID", n, key.ID)
		}
		seen[key.ID] = true
		keys = append(keys, key)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no key found; want %s", KeyFileFormat)
	}
	return keys, nil
}
