// Package temporalconn holds the Temporal connection settings every binary
// takes as flags or environment variables, and dials with them.
package temporalconn

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"os"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/dr-syncer/dr-syncer/internal/cliutil"
)

// DefaultTaskQueue is the task queue the worker polls and the starters use.
const DefaultTaskQueue = "dr-syncer"

// Options say where Temporal is and how to reach it.
type Options struct {
	Address   string
	Namespace string
	TaskQueue string
	// TLS is used when CertFile or CAFile is set.
	CertFile, KeyFile, CAFile, ServerName string
}

// RegisterFlags adds the connection flags to fs, defaulting each from its
// environment variable.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.Address, "temporal-address", cliutil.Env("DRSYNCER_TEMPORAL_ADDRESS", cliutil.Env("TEMPORAL_ADDRESS", "127.0.0.1:7233")),
		"Temporal frontend host:port (env DRSYNCER_TEMPORAL_ADDRESS or TEMPORAL_ADDRESS)")
	fs.StringVar(&o.Namespace, "temporal-namespace", cliutil.Env("DRSYNCER_TEMPORAL_NAMESPACE", cliutil.Env("TEMPORAL_NAMESPACE", "default")),
		"Temporal namespace (env DRSYNCER_TEMPORAL_NAMESPACE or TEMPORAL_NAMESPACE)")
	fs.StringVar(&o.TaskQueue, "task-queue", cliutil.Env("DRSYNCER_TASK_QUEUE", DefaultTaskQueue),
		"Temporal task queue of the dr-syncer worker (env DRSYNCER_TASK_QUEUE)")
	fs.StringVar(&o.CertFile, "temporal-tls-cert", cliutil.Env("DRSYNCER_TEMPORAL_TLS_CERT", ""),
		"client certificate for mTLS to Temporal (env DRSYNCER_TEMPORAL_TLS_CERT)")
	fs.StringVar(&o.KeyFile, "temporal-tls-key", cliutil.Env("DRSYNCER_TEMPORAL_TLS_KEY", ""),
		"client key for mTLS to Temporal (env DRSYNCER_TEMPORAL_TLS_KEY)")
	fs.StringVar(&o.CAFile, "temporal-tls-ca", cliutil.Env("DRSYNCER_TEMPORAL_TLS_CA", ""),
		"CA bundle that signed Temporal's server certificate (env DRSYNCER_TEMPORAL_TLS_CA)")
	fs.StringVar(&o.ServerName, "temporal-tls-server-name", cliutil.Env("DRSYNCER_TEMPORAL_TLS_SERVER_NAME", ""),
		"server name to verify in Temporal's certificate (env DRSYNCER_TEMPORAL_TLS_SERVER_NAME)")
}

// Dial connects to Temporal; it fails fast when the server is unreachable.
func (o Options) Dial(logger log.Logger, metrics client.MetricsHandler) (client.Client, error) {
	opts := client.Options{
		HostPort:       o.Address,
		Namespace:      o.Namespace,
		Logger:         logger,
		MetricsHandler: metrics,
	}
	tlsConfig, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	opts.ConnectionOptions.TLS = tlsConfig
	c, err := client.Dial(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %q): %w; is the server running? `make run` starts a local one",
			o.Address, o.Namespace, err)
	}
	return c, nil
}

func (o Options) tlsConfig() (*tls.Config, error) {
	if o.CertFile == "" && o.CAFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{ServerName: o.ServerName, MinVersion: tls.VersionTLS12}
	if o.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load Temporal client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read Temporal CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("no certificate found in Temporal CA file %s", o.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
