package agent

import (
	"errors"
	"time"

	"go.uber.org/zap"
	"golang.org/x/crypto/ssh"

	"github.com/dr-syncer/dr-syncer/internal/dataplane/keys"
)

// errDenied is what a client learns about a refused key: nothing more.
var errDenied = errors.New("public key not authorized")

// errBusy tells an authenticated client to come back later; it is checked
// before the handshake completes so the client sees a failed login, not a
// connection that dies after it.
var errBusy = errors.New("too many connections")

// MaxCertLifetime bounds the validity of certificates the agent accepts.
// The worker issues them for minutes; one valid for longer (or forever) was
// not made by it, and a stolen one must not last.
const MaxCertLifetime = 24 * time.Hour

// Permission extension keys set on authenticated connections. They live in
// Extensions, not CriticalOptions: x/crypto/ssh copies a certificate's
// options into Permissions, and the target is read from there.
const (
	extFingerprint   = "fingerprint"
	extCAFingerprint = "ca-fingerprint"
	extKeyID         = "key-id"
)

// checkKey accepts only user certificates signed by a key of the CA set
// (the cluster-pair keys: current and, during a rotation, previous), valid
// now within keys.ClockSkew, issued for keys.CertPrincipal, carrying a
// well-formed target option and no critical option the agent does not
// enforce. The certificate's target then limits every channel (forward).
func (s *Server) checkKey(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	log := s.log.With(zap.String("remote", meta.RemoteAddr().String()), zap.String("user", meta.User()))
	cert, ok := key.(*ssh.Certificate)
	if !ok {
		log.Warn("refused plain public key: the agent accepts only per-operation certificates; is the worker older than the agent?",
			zap.String("key_fingerprint", ssh.FingerprintSHA256(key)))
		return nil, errDenied
	}
	log = log.With(zap.String("key_id", cert.KeyId), zap.Uint64("serial", cert.Serial),
		zap.String("ca_fingerprint", ssh.FingerprintSHA256(cert.SignatureKey)))
	cas, err := s.opts.AuthorizedKeys.AuthorizedKeys()
	if err != nil {
		log.Error("CA keys unavailable; refusing all certificates", zap.Error(err))
		return nil, errDenied
	}
	if cert.CertType != ssh.UserCert {
		log.Warn("refused certificate: not a user certificate", zap.Uint32("cert_type", cert.CertType))
		return nil, errDenied
	}
	ca, ok := cas.Lookup(cert.SignatureKey)
	if !ok {
		log.Warn("refused certificate: signed by an unknown CA")
		return nil, errDenied
	}
	if cert.ValidBefore < cert.ValidAfter || cert.ValidBefore-cert.ValidAfter > uint64(MaxCertLifetime/time.Second) {
		log.Warn("refused certificate: valid for longer than the agent accepts", zap.Duration("max_lifetime", MaxCertLifetime))
		return nil, errDenied
	}
	now := s.now()
	checker := ssh.CertChecker{
		SupportedCriticalOptions: []string{keys.TargetOption},
		Clock:                    func() time.Time { return skewed(now, cert) },
	}
	if err := checker.CheckCert(meta.User(), cert); err != nil {
		log.Warn("refused certificate", zap.Error(err),
			zap.Time("valid_after", time.Unix(int64(cert.ValidAfter), 0)),
			zap.Time("valid_before", time.Unix(int64(cert.ValidBefore), 0)))
		return nil, errDenied
	}
	if _, err := keys.CertTarget(cert); err != nil {
		log.Warn("refused certificate", zap.Error(err))
		return nil, errDenied
	}
	if s.authenticated.Load() >= int64(s.opts.MaxConnections) {
		log.Warn("refused connection: too many connections", zap.Int("max_connections", s.opts.MaxConnections))
		return nil, errBusy
	}
	return &ssh.Permissions{
		CriticalOptions: cert.CriticalOptions,
		Extensions: map[string]string{
			extFingerprint: ssh.FingerprintSHA256(cert.Key), extCAFingerprint: ca.Fingerprint, extKeyID: cert.KeyId,
		},
	}, nil
}

// skewed is the time a certificate's validity is checked at: now, or its
// start if that is at most keys.ClockSkew ahead (a worker whose clock runs
// ahead of this node's). Expiry is never extended.
func skewed(now time.Time, cert *ssh.Certificate) time.Time {
	after := time.Unix(int64(cert.ValidAfter), 0)
	if after.After(now) && after.Sub(now) <= keys.ClockSkew {
		return after
	}
	return now
}
