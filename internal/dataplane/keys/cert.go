package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Per-operation certificates. The cluster-pair key never leaves the control
// cluster: it is the CA the agents trust, and each sync gets a fresh key
// whose certificate is short-lived and bound to the one target it forwards
// to. A stolen sync Secret then opens one mount pod for minutes, not every
// volume of the source cluster for as long as the pair exists.
const (
	// TargetOption is the critical option that binds a certificate to one
	// forward target: the exact host:port the mover asks the agent for.
	// Being critical, an SSH server that does not know it must refuse the
	// certificate rather than ignore the restriction.
	TargetOption = "target@dr-syncer.io"
	// CertPrincipal is the only user name certificates are valid for; the
	// mover logs in as it.
	CertPrincipal = "dr-syncer"
	// ProbeTarget is the target of connectivity-check certificates: the
	// check only authenticates, and this target can never be forwarded
	// (port 0 is refused by every allow-list), so a check certificate opens
	// nothing.
	ProbeTarget = "connectivity-probe:0"
	// ClockSkew is how far back a certificate's validity starts, so an agent
	// whose clock is behind the worker's accepts it at once.
	ClockSkew = time.Minute
	// DefaultCertValidity is how long a sync may take to start using its
	// certificate: its pod's scheduling, image pull and the wait for the
	// mount pod (mover.DefaultTargetWait). An established connection stays
	// up after expiry; only new logins need a valid certificate.
	DefaultCertValidity = 15 * time.Minute
	// maxTargetLen bounds the option value: a namespace (63) and a pod name
	// (253) with their separators fit.
	maxTargetLen = 330
)

// ErrBadTarget marks a target option value the strict parser refuses.
var ErrBadTarget = errors.New("bad certificate target")

// OpCert is a per-operation identity: a fresh private key and its
// certificate, the two files of the sync pod's Secret.
type OpCert struct {
	// PrivateKey is the OpenSSH PEM of the per-operation key.
	PrivateKey Secret
	// Certificate is the certificate in authorized_keys format (one line).
	Certificate []byte
	// Target is the forward target the certificate is bound to.
	Target string
	// ValidBefore is when new logins with it stop working.
	ValidBefore time.Time
	// CAFingerprint names the CA that signed it, safe to log.
	CAFingerprint string
}

// IssueRequest says what a certificate is for.
type IssueRequest struct {
	// CA is the cluster-pair private key that signs.
	CA ssh.Signer
	// KeyID names the operation; the agent logs it with every connection.
	KeyID string
	// Target is the one host:port the certificate may forward to, or
	// ProbeTarget.
	Target string
	// Validity is how long from Now new logins are accepted; default
	// DefaultCertValidity.
	Validity time.Duration
	// Now is the issue time; default time.Now().
	Now time.Time
}

// IssueCert generates a fresh ed25519 key and a user certificate for it,
// signed by req.CA and bound to req.Target.
func IssueCert(req IssueRequest) (OpCert, error) {
	if req.CA == nil {
		return OpCert{}, errors.New("issue certificate: no CA key")
	}
	if _, err := ParseTargetOption(req.Target); err != nil {
		return OpCert{}, fmt.Errorf("issue certificate for %q: %w", req.KeyID, err)
	}
	if req.KeyID == "" || strings.ContainsAny(req.KeyID, "\r\n") {
		return OpCert{}, errors.New("issue certificate: key ID must be one non-empty line")
	}
	if req.Validity <= 0 {
		req.Validity = DefaultCertValidity
	}
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return OpCert{}, fmt.Errorf("generate operation key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return OpCert{}, fmt.Errorf("operation public key: %w", err)
	}
	var serial [8]byte
	if _, err := rand.Read(serial[:]); err != nil {
		return OpCert{}, fmt.Errorf("certificate serial: %w", err)
	}
	before := req.Now.Add(req.Validity)
	cert := &ssh.Certificate{
		Key:             sshPub,
		Serial:          binary.BigEndian.Uint64(serial[:]),
		CertType:        ssh.UserCert,
		KeyId:           req.KeyID,
		ValidPrincipals: []string{CertPrincipal},
		ValidAfter:      uint64(req.Now.Add(-ClockSkew).Unix()),
		ValidBefore:     uint64(before.Unix()),
		// No extensions: no pty, no agent or X11 forwarding; the agent
		// refuses those anyway.
		Permissions: ssh.Permissions{CriticalOptions: map[string]string{TargetOption: req.Target}},
	}
	if err := cert.SignCert(rand.Reader, req.CA); err != nil {
		return OpCert{}, fmt.Errorf("sign certificate for %q: %w", req.KeyID, err)
	}
	block, err := ssh.MarshalPrivateKey(priv, req.KeyID)
	if err != nil {
		return OpCert{}, fmt.Errorf("marshal operation key: %w", err)
	}
	return OpCert{
		PrivateKey:    pem.EncodeToMemory(block),
		Certificate:   AuthorizedLine(cert, req.KeyID),
		Target:        req.Target,
		ValidBefore:   time.Unix(int64(cert.ValidBefore), 0),
		CAFingerprint: Fingerprint(req.CA.PublicKey()),
	}, nil
}

// ParseCert parses a certificate line as written by IssueCert.
func ParseCert(line []byte) (*ssh.Certificate, error) {
	pub, err := ParsePublicKey(line)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	cert, ok := pub.(*ssh.Certificate)
	if !ok {
		return nil, fmt.Errorf("parse certificate: a plain %s key, not a certificate", pub.Type())
	}
	return cert, nil
}

// CertSigner combines the per-operation key and its certificate into the
// signer the mover authenticates with.
func CertSigner(privateKey Secret, certLine []byte) (ssh.Signer, error) {
	signer, err := ParsePrivateKey(privateKey)
	if err != nil {
		return nil, err
	}
	cert, err := ParseCert(certLine)
	if err != nil {
		return nil, err
	}
	s, err := ssh.NewCertSigner(cert, signer)
	if err != nil {
		return nil, fmt.Errorf("certificate does not match its key: %w", err)
	}
	return s, nil
}

// CertTarget returns the target a certificate is bound to, checked by the
// strict parser.
func CertTarget(cert *ssh.Certificate) (string, error) {
	v, ok := cert.CriticalOptions[TargetOption]
	if !ok {
		return "", fmt.Errorf("%w: certificate has no %s option", ErrBadTarget, TargetOption)
	}
	return ParseTargetOption(v)
}

// ParseTargetOption checks a TargetOption value and returns it. It accepts
// exactly the forms the mover dials, in canonical spelling, so the agent's
// comparison with the requested host:port is a plain string equality:
//
//   - ip:port or [ipv6]:port, port 1-65535 without leading zeros;
//   - <namespace>/<pod>:port (kube.MountTarget), DNS-1123 names;
//   - ProbeTarget.
func ParseTargetOption(v string) (string, error) {
	if v == ProbeTarget {
		return v, nil
	}
	if len(v) == 0 || len(v) > maxTargetLen {
		return "", fmt.Errorf("%w: length %d, want 1-%d", ErrBadTarget, len(v), maxTargetLen)
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return "", fmt.Errorf("%w: %q is not host:port", ErrBadTarget, v)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != port {
		return "", fmt.Errorf("%w: %q: port must be 1-65535", ErrBadTarget, v)
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if addr.Zone() != "" || addr.Is4In6() {
			return "", fmt.Errorf("%w: %q: no zones or v4-mapped addresses", ErrBadTarget, v)
		}
		host = addr.String()
	} else if !validPodName(host) {
		return "", fmt.Errorf("%w: %q: host must be an IP address or <namespace>/<pod>", ErrBadTarget, v)
	}
	if canonical := net.JoinHostPort(host, port); canonical != v {
		return "", fmt.Errorf("%w: %q: not canonical, want %q", ErrBadTarget, v, canonical)
	}
	return v, nil
}

// validPodName accepts "<namespace>/<pod>": a DNS-1123 label and a DNS-1123
// subdomain.
func validPodName(s string) bool {
	ns, pod, ok := strings.Cut(s, "/")
	if !ok || len(ns) > 63 || len(pod) > 253 || !dnsName(ns, false) || !dnsName(pod, true) {
		return false
	}
	return true
}

func dnsName(s string, dots bool) bool {
	if s == "" {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || (!dots && label != s) {
			return false
		}
		for i, r := range label {
			alnum := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
			if !alnum && (r != '-' || i == 0 || i == len(label)-1) {
				return false
			}
		}
	}
	return true
}

// ParseHostKeys parses the pinned agent host keys: one authorized_keys line
// each, the current key and, while a host-key rotation rolls out, the
// previous one. At least one is required.
func ParseHostKeys(data []byte) ([]ssh.PublicKey, error) {
	set, err := ParseAuthorizedKeys(data)
	if err != nil {
		return nil, fmt.Errorf("pinned host keys: %w", err)
	}
	if set.Len() == 0 {
		return nil, errors.New("pinned host keys: none")
	}
	out := make([]ssh.PublicKey, 0, set.Len())
	for _, k := range set.Keys() {
		out = append(out, k.Key)
	}
	return out, nil
}
