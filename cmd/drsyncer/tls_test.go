package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// The CLI's TLS flags reach a Temporal server that requires mTLS; without
// the client certificate the error names the flags that fix it.
func TestCLIOverMTLS(t *testing.T) {
	tp := testenv.StartTLSTemporal(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append([]string{"--temporal-address", tp.Address, "--temporal-namespace", tp.Namespace,
			"--temporal-tls-ca", tp.CA.CertFile}, args...), &out, &out)
		return out.String(), err
	}

	out, err := cli("--temporal-tls-cert", tp.ClientCert.CertFile, "--temporal-tls-key", tp.ClientCert.KeyFile, "setup")
	require.NoError(t, err, out)
	assert.Contains(t, out, "already registered")

	_, err = cli("list")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--temporal-tls-cert")
}
