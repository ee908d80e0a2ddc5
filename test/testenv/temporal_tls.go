package testenv

import (
	"strconv"
	"testing"

	"github.com/dr-syncer/dr-syncer/internal/temporalconn"
	"github.com/dr-syncer/dr-syncer/test/testpki"
)

// TLSTemporal is a Temporal server whose own frontend terminates TLS (the
// tlsdevserver tool from tools/temporal; the dev server has no TLS flags).
type TLSTemporal struct {
	*Temporal
	// CA signed the server's certificate and, under mTLS, the clients'.
	CA *testpki.CA
	// ClientCert is a client certificate CA signed; Conn presents it.
	ClientCert testpki.Pair
}

// StartTLSTemporal starts a TLS Temporal server on a free 127.0.0.1 port
// with dr-syncer's search attributes; with mtls it refuses clients without
// a certificate its CA signed. Conn() reaches it with the CA and the
// client certificate, as the binaries would be configured.
func StartTLSTemporal(t testing.TB, mtls bool) *TLSTemporal {
	t.Helper()
	ca := testpki.NewCA(t, "temporal")
	server := ca.Server(t, "frontend")
	tp := &TLSTemporal{CA: ca, ClientCert: ca.Client(t, "dr-syncer")}
	tp.Temporal = &Temporal{Namespace: "default", TaskQueue: temporalconn.DefaultTaskQueue}
	tp.conn = temporalconn.Options{Namespace: tp.Namespace, TaskQueue: tp.TaskQueue,
		CAFile: ca.CertFile, CertFile: tp.ClientCert.CertFile, KeyFile: tp.ClientCert.KeyFile}
	startServer(t, tp.Temporal, Binary(t, "tlsdevserver"), t.TempDir(), func(port int) []string {
		args := []string{"--port", strconv.Itoa(port), "--cert", server.CertFile, "--key", server.KeyFile,
			"--server-ca", ca.CertFile, "--server-name", "localhost"}
		if mtls {
			// The server's own system worker dials its frontend as a client too.
			args = append(args, "--client-ca", ca.CertFile, "--worker-cert", server.CertFile, "--worker-key", server.KeyFile)
		}
		return args
	})
	return tp
}
