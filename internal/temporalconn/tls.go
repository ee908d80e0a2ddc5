package temporalconn

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// tlsConfig is nil (plain gRPC) unless TLS is asked for. Every file is read
// now, so a missing or wrong file stops the binary at start with its name.
func (o Options) tlsConfig() (*tls.Config, error) {
	if !o.TLS && o.CAFile == "" && o.CertFile == "" && o.KeyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: o.ServerName, MinVersion: tls.VersionTLS12}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, fmt.Errorf("Temporal mTLS needs both --temporal-tls-cert and --temporal-tls-key (env DRSYNCER_TEMPORAL_TLS_CERT, DRSYNCER_TEMPORAL_TLS_KEY); only one is set")
	}
	if o.CertFile != "" {
		pair := &clientCert{certFile: o.CertFile, keyFile: o.KeyFile}
		if _, err := pair.load(); err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = pair.get
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read Temporal CA file %s (--temporal-tls-ca, env DRSYNCER_TEMPORAL_TLS_CA): %w; mount the CA there or unset it to use the system roots", o.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("Temporal CA file %s (--temporal-tls-ca) holds no PEM certificate; it must be the CA certificate (BEGIN CERTIFICATE), not a key", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// clientCert is the mTLS client certificate, re-read on a handshake after
// either file changed: cert-manager or a rotated Secret replaces them in
// place, and long-running workers must not need a restart to pick them up.
type clientCert struct {
	certFile, keyFile string

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime time.Time
}

func (c *clientCert) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed() {
		cert, err := c.load()
		// Half-written during a rotation: keep the old pair until both files match.
		if err != nil && c.cert != nil {
			return c.cert, nil
		}
		return cert, err
	}
	return c.cert, nil
}

// changed reports whether a file is newer than the loaded pair.
func (c *clientCert) changed() bool {
	return c.cert == nil || newest(c.certFile, c.keyFile).After(c.modTime)
}

// load reads the pair; callers hold mu, except the first load at start.
func (c *clientCert) load() (*tls.Certificate, error) {
	mod := newest(c.certFile, c.keyFile)
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return nil, fmt.Errorf("load Temporal client certificate %s and key %s (--temporal-tls-cert, --temporal-tls-key): %w; "+
			"both must be readable PEM files of one pair (a kubernetes.io/tls Secret's tls.crt and tls.key)", c.certFile, c.keyFile, err)
	}
	c.cert, c.modTime = &cert, mod
	return c.cert, nil
}

func newest(paths ...string) time.Time {
	var t time.Time
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.ModTime().After(t) {
			t = st.ModTime()
		}
	}
	return t
}
