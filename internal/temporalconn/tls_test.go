package temporalconn

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dr-syncer/dr-syncer/test/testpki"
)

func TestTLSIsOffUnlessAskedFor(t *testing.T) {
	cfg, err := Options{}.tlsConfig()
	if err != nil || cfg != nil {
		t.Fatalf("no TLS settings: %v, %v; want plain gRPC", cfg, err)
	}
	cfg, err = Options{TLS: true}.tlsConfig()
	if err != nil || cfg == nil || cfg.RootCAs != nil {
		t.Fatalf("--temporal-tls alone: %+v, %v; want TLS with the system roots", cfg, err)
	}
}

// Every bad file stops the binary at start with the file's name, the flag
// and what to do, not with a handshake error at the first call.
func TestBadTLSFilesAreNamed(t *testing.T) {
	ca := testpki.NewCA(t, "temporal")
	client := ca.Client(t, "worker")
	dir := t.TempDir()
	missing := filepath.Join(dir, "absent.pem")
	for name, tc := range map[string]struct {
		opts Options
		want []string
	}{
		"missing CA":         {Options{CAFile: missing}, []string{missing, "--temporal-tls-ca", "mount the CA"}},
		"CA is a key":        {Options{CAFile: client.KeyFile}, []string{client.KeyFile, "no PEM certificate"}},
		"missing cert":       {Options{CertFile: missing, KeyFile: client.KeyFile}, []string{missing, "--temporal-tls-cert"}},
		"cert without key":   {Options{CertFile: client.CertFile}, []string{"--temporal-tls-key", "only one is set"}},
		"key of another one": {Options{CertFile: client.CertFile, KeyFile: ca.Client(t, "other").KeyFile}, []string{client.CertFile, "one pair"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tc.opts.tlsConfig()
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Fatalf("tlsConfig() = %v, want an error containing %q", err, w)
				}
			}
		})
	}
	if _, err := (Options{CodecKeyFile: missing}).DataConverter(); err == nil ||
		!strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "--payload-codec-key-file") {
		t.Fatalf("missing codec key file: %v, want the path and the flag", err)
	}
}

// A rotated client certificate (cert-manager rewriting the Secret) is
// presented on the next handshake without a restart.
func TestClientCertificateIsReloadedWhenRotated(t *testing.T) {
	ca := testpki.NewCA(t, "temporal")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	install := func(p testpki.Pair, mod time.Time) {
		for src, dst := range map[string]string{p.CertFile: certFile, p.KeyFile: keyFile} {
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(dst, mod, mod); err != nil {
				t.Fatal(err)
			}
		}
	}
	install(ca.Client(t, "worker-old"), time.Now().Add(-time.Hour))
	cfg, err := Options{CAFile: ca.CertFile, CertFile: certFile, KeyFile: keyFile}.tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	presented := func() string {
		t.Helper()
		cert, err := cfg.GetClientCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.Subject.CommonName
	}
	if cn := presented(); cn != "worker-old" {
		t.Fatalf("presented %q, want worker-old", cn)
	}
	install(ca.Client(t, "worker-new"), time.Now())
	if cn := presented(); cn != "worker-new" {
		t.Fatalf("after rotation presented %q, want worker-new", cn)
	}
	// Half-written: the key no longer matches; the last good pair stays.
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Minute)
	if err := os.Chtimes(keyFile, future, future); err != nil {
		t.Fatal(err)
	}
	if cn := presented(); cn != "worker-new" {
		t.Fatalf("mid-rotation presented %q, want the last good pair worker-new", cn)
	}
}
