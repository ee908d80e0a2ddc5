package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/dr-syncer/dr-syncer/test/testenv"
	"github.com/dr-syncer/dr-syncer/test/testpki"
)

// Against a Temporal server whose own frontend requires mTLS (not a proxy
// in front of a plain one), the connection options every dr-syncer binary
// dials with run a workflow; without a client certificate the server
// refuses the client, and with the wrong CA the client refuses the server,
// each with an error that says which setting to fix.
func TestTemporalMTLS(t *testing.T) {
	tp := testenv.StartTLSTemporal(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	c, err := tp.Conn().Dial(nil, nil)
	require.NoError(t, err, "dial with the CA and a client certificate")
	defer c.Close()
	release := runSecretWorker(t, c, "mtls")
	close(release)
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "mtls", TaskQueue: "mtls"}, secretWorkflowName, secret{Marker: "over-tls"})
	require.NoError(t, err)
	require.NoError(t, c.SignalWorkflow(ctx, "mtls", "", secretSignal, secret{Marker: "done"}))
	var out secret
	require.NoError(t, run.Get(ctx, &out), "the workflow runs over mTLS")
	assert.Equal(t, "over-tls+done", out.Marker)

	noCert := tp.Conn()
	noCert.CertFile, noCert.KeyFile = "", ""
	_, err = noCert.Dial(nil, nil)
	require.Error(t, err, "a client without a certificate must be refused under mTLS")
	// The server sends "certificate required" or just resets the
	// connection, whichever wins the race; either way the flag is named.
	assert.Contains(t, err.Error(), "--temporal-tls-cert")

	wrongCA := tp.Conn()
	wrongCA.CAFile = testpki.NewCA(t, "impostor").CertFile
	_, err = wrongCA.Dial(nil, nil)
	require.Error(t, err, "a server certificate from another CA must be refused")
	assert.Contains(t, err.Error(), "certificate signed by unknown authority")
	assert.Contains(t, err.Error(), "--temporal-tls-ca")

	plain := tp.Conn()
	plain.CAFile, plain.CertFile, plain.KeyFile = "", "", ""
	_, err = plain.Dial(nil, nil)
	require.Error(t, err, "plain gRPC must not reach a TLS frontend")
}
