package keys

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

func testCA(t *testing.T) ssh.Signer {
	t.Helper()
	k, err := GenerateClusterPairKey("ca")
	require.NoError(t, err)
	s, err := ParsePrivateKey(k.PrivateKey)
	require.NoError(t, err)
	return s
}

func TestIssueCertBindsOneTargetForMinutes(t *testing.T) {
	ca := testCA(t)
	now := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	oc, err := IssueCert(IssueRequest{CA: ca, KeyID: "pvcsync app/data run-1", Target: "app/dr-syncer-mount-1:8873", Validity: 10 * time.Minute, Now: now})
	require.NoError(t, err)
	assert.NotContains(t, string(oc.Certificate), "PRIVATE KEY")
	assert.True(t, now.Add(10*time.Minute).Equal(oc.ValidBefore), oc.ValidBefore)
	assert.Equal(t, Fingerprint(ca.PublicKey()), oc.CAFingerprint)

	cert, err := ParseCert(oc.Certificate)
	require.NoError(t, err)
	assert.Equal(t, uint32(ssh.UserCert), cert.CertType)
	assert.Equal(t, "pvcsync app/data run-1", cert.KeyId)
	assert.Equal(t, []string{CertPrincipal}, cert.ValidPrincipals)
	assert.Equal(t, map[string]string{TargetOption: "app/dr-syncer-mount-1:8873"}, cert.CriticalOptions)
	assert.Empty(t, cert.Extensions, "no pty, agent or X11 forwarding")
	assert.Equal(t, uint64(now.Add(-ClockSkew).Unix()), cert.ValidAfter)
	assert.Equal(t, ca.PublicKey().Marshal(), cert.SignatureKey.Marshal())
	target, err := CertTarget(cert)
	require.NoError(t, err)
	assert.Equal(t, "app/dr-syncer-mount-1:8873", target)

	// The key is fresh, not the CA, and signs as the certificate.
	signer, err := CertSigner(oc.PrivateKey, oc.Certificate)
	require.NoError(t, err)
	assert.NotEqual(t, ca.PublicKey().Marshal(), cert.Key.Marshal())
	assert.Equal(t, cert.Marshal(), signer.PublicKey().Marshal())
	checker := ssh.CertChecker{SupportedCriticalOptions: []string{TargetOption}, Clock: func() time.Time { return now }}
	require.NoError(t, checker.CheckCert(CertPrincipal, cert))
	checker.Clock = func() time.Time { return now.Add(11 * time.Minute) }
	require.Error(t, checker.CheckCert(CertPrincipal, cert), "expired")

	other, err := IssueCert(IssueRequest{CA: ca, KeyID: "x", Target: ProbeTarget})
	require.NoError(t, err)
	_, err = CertSigner(oc.PrivateKey, other.Certificate)
	require.Error(t, err, "a certificate of another key")
}

func TestIssueCertRefusesBadRequests(t *testing.T) {
	ca := testCA(t)
	for name, req := range map[string]IssueRequest{
		"no CA":         {KeyID: "x", Target: "10.0.0.1:8873"},
		"no target":     {CA: ca, KeyID: "x"},
		"bad target":    {CA: ca, KeyID: "x", Target: "10.0.0.1:8873,10.0.0.2:8873"},
		"no key ID":     {CA: ca, Target: "10.0.0.1:8873"},
		"two-line name": {CA: ca, KeyID: "a\nb", Target: "10.0.0.1:8873"},
	} {
		_, err := IssueCert(req)
		assert.Error(t, err, name)
	}
	plain, err := GenerateClusterPairKey("plain")
	require.NoError(t, err)
	_, err = ParseCert(plain.AuthorizedKey)
	require.ErrorContains(t, err, "not a certificate")
}

// targetSeeds are the seed corpus of FuzzParseTargetOption: valid is
// whether the strict parser accepts the value.
var targetSeeds = []struct {
	v     string
	valid bool
}{
	{"10.1.2.3:8873", true},
	{"[fd00::1]:8873", true},
	{"app/dr-syncer-mount-abc:8873", true},
	{"my-ns/pod.with.dots:1", true},
	{ProbeTarget, true},
	{"10.1.2.3:65535", true},
	{"", false},
	{"10.1.2.3", false},
	{"10.1.2.3:0", false},
	{"10.1.2.3:65536", false},
	{"10.1.2.3:08873", false},
	{"10.1.2.3:+8873", false},
	{"10.1.2.3:8873 ", false},
	{" 10.1.2.3:8873", false},
	{"[::ffff:10.1.2.3]:8873", false},
	{"[fe80::1%eth0]:8873", false},
	{"[FD00::1]:8873", false},
	{"fd00::1:8873", false},
	{"[10.1.2.3]:8873", false},
	{"localhost:8873", false},
	{"mount.example.com:8873", false},
	{"App/pod:8873", false},
	{"ns/pod/x:8873", false},
	{"/pod:8873", false},
	{"ns/:8873", false},
	{"ns/-pod:8873", false},
	{"ns/pod-:8873", false},
	{"ns./pod:8873", false},
	{"ns/pod..x:8873", false},
	{"ns/pod\n:8873", false},
	{"ns/pod:8873\x00", false},
	{"10.1.2.3:8873,10.1.2.4:8873", false},
	{"connectivity-probe:1", false},
	{"ns/" + strings.Repeat("a", 330) + ":1", false},
}

func TestParseTargetOptionSeeds(t *testing.T) {
	for _, s := range targetSeeds {
		got, err := ParseTargetOption(s.v)
		if s.valid {
			assert.NoError(t, err, "%q", s.v)
			assert.Equal(t, s.v, got)
		} else {
			assert.ErrorIs(t, err, ErrBadTarget, "%q", s.v)
		}
	}
}

// FuzzParseTargetOption holds the parser to its contract: an accepted value
// is returned unchanged, is at most maxTargetLen bytes of printable ASCII,
// splits into a host and a port 1-65535 (or is ProbeTarget), and is what a
// certificate then carries and reports back.
func FuzzParseTargetOption(f *testing.F) {
	for _, s := range targetSeeds {
		f.Add(s.v)
	}
	ca, err := GenerateClusterPairKey("fuzz-ca")
	if err != nil {
		f.Fatal(err)
	}
	signer, err := ParsePrivateKey(ca.PrivateKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := ParseTargetOption(v)
		if err != nil {
			if got != "" {
				t.Fatalf("refused %q but returned %q", v, got)
			}
			return
		}
		if got != v || len(v) > maxTargetLen {
			t.Fatalf("accepted %q as %q", v, got)
		}
		for _, r := range v {
			if r <= ' ' || r > '~' {
				t.Fatalf("accepted %q with byte %q", v, r)
			}
		}
		if v == ProbeTarget {
			return
		}
		if _, port, err := splitPort(v); err != nil || port == 0 {
			t.Fatalf("accepted %q without a port 1-65535", v)
		}
		oc, err := IssueCert(IssueRequest{CA: signer, KeyID: "fuzz", Target: v})
		if err != nil {
			t.Fatalf("issue for accepted %q: %v", v, err)
		}
		cert, err := ParseCert(oc.Certificate)
		if err != nil {
			t.Fatal(err)
		}
		if back, err := CertTarget(cert); err != nil || back != v {
			t.Fatalf("certificate for %q reports %q, %v", v, back, err)
		}
	})
}

func splitPort(v string) (string, uint16, error) {
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return "", 0, ErrBadTarget
	}
	var port uint16
	for _, r := range v[i+1:] {
		if r < '0' || r > '9' {
			return "", 0, ErrBadTarget
		}
		port = port*10 + uint16(r-'0')
	}
	return v[:i], port, nil
}
