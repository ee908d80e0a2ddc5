// Package temporalconn holds the Temporal connection settings every binary
// (worker, controller, drsyncer) takes as flags or environment variables,
// and dials with them: address, namespace, TLS or mTLS, and the optional
// payload codec. Every Temporal client dr-syncer makes comes from here, so
// all of them speak the same TLS and encrypt and decrypt payloads alike.
package temporalconn

import (
	"flag"
	"fmt"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"google.golang.org/grpc"

	"github.com/dr-syncer/dr-syncer/internal/cliutil"
	"github.com/dr-syncer/dr-syncer/internal/payloadcodec"
)

// DefaultTaskQueue is the task queue the worker polls and the starters use.
const DefaultTaskQueue = "dr-syncer"

// Options say where Temporal is and how to reach it.
type Options struct {
	Address   string
	Namespace string
	TaskQueue string
	// TLS turns on TLS with the system's root CAs; setting CAFile or
	// CertFile turns it on as well.
	TLS bool
	// CertFile and KeyFile are the client certificate for mTLS. They are
	// re-read when they change, so a rotated Secret needs no restart.
	CertFile, KeyFile string
	// CAFile replaces the system roots with the CA that signed Temporal's
	// server certificate.
	CAFile string
	// ServerName is the name verified in the server certificate when it
	// differs from Address's host.
	ServerName string
	// CodecKeyFile turns on the AES-256-GCM payload codec with the keys in
	// this file (payloadcodec.KeyFileFormat).
	CodecKeyFile string
	// DialOptions are added to the gRPC connection (starter.Connect counts
	// the calls with one); code sets them, never a flag.
	DialOptions []grpc.DialOption
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
	fs.BoolVar(&o.TLS, "temporal-tls", cliutil.Env("DRSYNCER_TEMPORAL_TLS", "") == "true",
		"connect to Temporal over TLS, verifying its certificate against the system roots; implied by --temporal-tls-ca or --temporal-tls-cert (env DRSYNCER_TEMPORAL_TLS=true)")
	fs.StringVar(&o.CertFile, "temporal-tls-cert", cliutil.Env("DRSYNCER_TEMPORAL_TLS_CERT", ""),
		"client certificate (PEM) for mTLS to Temporal, re-read when it changes (env DRSYNCER_TEMPORAL_TLS_CERT)")
	fs.StringVar(&o.KeyFile, "temporal-tls-key", cliutil.Env("DRSYNCER_TEMPORAL_TLS_KEY", ""),
		"key (PEM) of --temporal-tls-cert (env DRSYNCER_TEMPORAL_TLS_KEY)")
	fs.StringVar(&o.CAFile, "temporal-tls-ca", cliutil.Env("DRSYNCER_TEMPORAL_TLS_CA", ""),
		"CA bundle (PEM) that signed Temporal's server certificate, instead of the system roots (env DRSYNCER_TEMPORAL_TLS_CA)")
	fs.StringVar(&o.ServerName, "temporal-tls-server-name", cliutil.Env("DRSYNCER_TEMPORAL_TLS_SERVER_NAME", ""),
		"name to verify in Temporal's certificate when it differs from the address's host (env DRSYNCER_TEMPORAL_TLS_SERVER_NAME)")
	fs.StringVar(&o.CodecKeyFile, "payload-codec-key-file", cliutil.Env("DRSYNCER_PAYLOAD_CODEC_KEY_FILE", ""),
		"encrypt every Temporal payload (inputs, results, heartbeats, queries, signals, memos) with AES-256-GCM using the keys in this file, "+
			"one KEY-ID:BASE64 per line, the first encrypting; every worker, controller and CLI must use the same file (env DRSYNCER_PAYLOAD_CODEC_KEY_FILE)")
}

// Connect dials Temporal and returns the client with the data converter it
// was built with; whoever decodes payloads the client did not (a describe
// call's heartbeats) must use that converter, or encrypted payloads would
// not read. It fails fast when the server is unreachable.
func (o Options) Connect(logger log.Logger, metrics client.MetricsHandler) (client.Client, converter.DataConverter, error) {
	dc, err := o.DataConverter()
	if err != nil {
		return nil, nil, err
	}
	tlsConfig, err := o.tlsConfig()
	if err != nil {
		return nil, nil, err
	}
	opts := client.Options{
		HostPort:       o.Address,
		Namespace:      o.Namespace,
		Logger:         logger,
		MetricsHandler: metrics,
		DataConverter:  dc,
	}
	opts.ConnectionOptions.TLS = tlsConfig
	opts.ConnectionOptions.DialOptions = o.DialOptions
	c, err := client.Dial(opts)
	if err != nil {
		return nil, nil, o.dialError(err)
	}
	return c, dc, nil
}

// Dial is Connect for callers that decode nothing outside the client.
func (o Options) Dial(logger log.Logger, metrics client.MetricsHandler) (client.Client, error) {
	c, _, err := o.Connect(logger, metrics)
	return c, err
}

// DataConverter is the converter every client of these options uses: the
// SDK's default, wrapped in the payload codec when a key file is set.
func (o Options) DataConverter() (converter.DataConverter, error) {
	if o.CodecKeyFile == "" {
		return converter.GetDefaultDataConverter(), nil
	}
	codec, err := o.Codec()
	if err != nil {
		return nil, err
	}
	return codec.DataConverter(), nil
}

// Codec is the payload codec of CodecKeyFile (the worker serves it over
// HTTP for the Web UI).
func (o Options) Codec() (*payloadcodec.Codec, error) {
	keys, err := payloadcodec.LoadKeys(o.CodecKeyFile)
	if err != nil {
		return nil, fmt.Errorf("--payload-codec-key-file (env DRSYNCER_PAYLOAD_CODEC_KEY_FILE): %w", err)
	}
	return payloadcodec.New(keys)
}

// dialError says what to check: a TLS failure is about certificates, not
// about whether the server runs.
func (o Options) dialError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "certificate required") || strings.Contains(msg, "bad certificate"):
		return fmt.Errorf("connect to Temporal at %s: the server refused this client's certificate (%w); it requires mTLS: "+
			"set --temporal-tls-cert and --temporal-tls-key (env DRSYNCER_TEMPORAL_TLS_CERT, DRSYNCER_TEMPORAL_TLS_KEY) to a certificate its client CA signed", o.Address, err)
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:"):
		return fmt.Errorf("connect to Temporal at %s over TLS: %w; check that --temporal-tls-ca (env DRSYNCER_TEMPORAL_TLS_CA) holds the CA that signed the server's certificate "+
			"and --temporal-tls-server-name names it", o.Address, err)
	case o.TLS || o.CAFile != "" || o.CertFile != "":
		hint := ""
		// A server that requires mTLS may just reset the connection of a
		// client without a certificate instead of sending its alert.
		if o.CertFile == "" {
			hint = "; if it requires client certificates (mTLS), set --temporal-tls-cert and --temporal-tls-key (env DRSYNCER_TEMPORAL_TLS_CERT, DRSYNCER_TEMPORAL_TLS_KEY)"
		}
		return fmt.Errorf("connect to Temporal at %s (namespace %q) over TLS: %w; is the server running, and does it speak TLS on that port?%s",
			o.Address, o.Namespace, err, hint)
	}
	return fmt.Errorf("connect to Temporal at %s (namespace %q): %w; is the server running? `make run` starts a local one",
		o.Address, o.Namespace, err)
}
