package keys

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/ssh"
)

// AuthorizedKey is one key of an AuthorizedSet.
type AuthorizedKey struct {
	Key         ssh.PublicKey
	Comment     string
	Fingerprint string
}

// AuthorizedSet is an immutable set of public keys allowed to connect. A
// rotation adds the new key (both are valid during the overlap), moves the DR
// side to it, then removes the old one.
type AuthorizedSet struct {
	keys []AuthorizedKey
	// byWire indexes keys by their wire encoding for constant-time-ish lookup.
	byWire map[string]int
}

// ErrBadAuthorizedKeys marks an authorized_keys file that is not accepted.
var ErrBadAuthorizedKeys = errors.New("bad authorized keys")

// ParseAuthorizedKeys parses authorized_keys content. Only ssh-ed25519 keys
// without options are accepted: the file is written by this system, and an
// option such as from= or command= that the agent silently ignored would be
// a false promise.
func ParseAuthorizedKeys(data []byte) (*AuthorizedSet, error) {
	s := &AuthorizedSet{byWire: map[string]int{}}
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		pub, comment, options, rest, err := ssh.ParseAuthorizedKey(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrBadAuthorizedKeys, n+1, err)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, fmt.Errorf("%w: line %d: trailing data", ErrBadAuthorizedKeys, n+1)
		}
		if len(options) > 0 {
			return nil, fmt.Errorf("%w: line %d: options are not supported", ErrBadAuthorizedKeys, n+1)
		}
		if pub.Type() != ssh.KeyAlgoED25519 {
			return nil, fmt.Errorf("%w: line %d: key type %s, want %s", ErrBadAuthorizedKeys, n+1, pub.Type(), ssh.KeyAlgoED25519)
		}
		s = s.With(pub, comment)
	}
	return s, nil
}

// With returns a copy of s that also authorizes pub (a no-op if present).
func (s *AuthorizedSet) With(pub ssh.PublicKey, comment string) *AuthorizedSet {
	if _, ok := s.Lookup(pub); ok {
		return s
	}
	out := s.clone()
	out.byWire[string(pub.Marshal())] = len(out.keys)
	out.keys = append(out.keys, AuthorizedKey{Key: pub, Comment: comment, Fingerprint: Fingerprint(pub)})
	return out
}

// Without returns a copy of s without the key with this fingerprint.
func (s *AuthorizedSet) Without(fingerprint string) *AuthorizedSet {
	out := &AuthorizedSet{byWire: map[string]int{}}
	for _, k := range s.Keys() {
		if k.Fingerprint != fingerprint {
			out = out.With(k.Key, k.Comment)
		}
	}
	return out
}

func (s *AuthorizedSet) clone() *AuthorizedSet {
	out := &AuthorizedSet{byWire: map[string]int{}}
	if s == nil {
		return out
	}
	out.keys = slices.Clone(s.keys)
	for k, v := range s.byWire {
		out.byWire[k] = v
	}
	return out
}

// Lookup reports whether pub is authorized.
func (s *AuthorizedSet) Lookup(pub ssh.PublicKey) (AuthorizedKey, bool) {
	if s == nil || pub == nil {
		return AuthorizedKey{}, false
	}
	i, ok := s.byWire[string(pub.Marshal())]
	if !ok {
		return AuthorizedKey{}, false
	}
	return s.keys[i], true
}

// Keys lists the authorized keys in file order.
func (s *AuthorizedSet) Keys() []AuthorizedKey {
	if s == nil {
		return nil
	}
	return slices.Clone(s.keys)
}

// Len is the number of authorized keys.
func (s *AuthorizedSet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// Marshal renders s as authorized_keys content.
func (s *AuthorizedSet) Marshal() []byte {
	var b bytes.Buffer
	for _, k := range s.Keys() {
		b.Write(AuthorizedLine(k.Key, k.Comment))
	}
	return b.Bytes()
}
