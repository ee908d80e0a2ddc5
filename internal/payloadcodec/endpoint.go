package payloadcodec

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/dr-syncer/dr-syncer/internal/cliutil"
)

// Endpoint is where and how the worker serves the codec HTTP endpoint.
type Endpoint struct {
	// Addr to listen on; empty serves nothing.
	Addr          string
	AllowedOrigin string
	TokenFile     string
	// ExternalAuth says a proxy in front authenticates callers, so a
	// non-loopback address without a token is allowed.
	ExternalAuth bool
	// CertFile and KeyFile serve HTTPS: a Web UI served over https can
	// only call an https endpoint.
	CertFile, KeyFile string
}

// RegisterFlags adds the endpoint's flags to fs, each defaulting from its
// environment variable.
func (e *Endpoint) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.Addr, "codec-server-addr", cliutil.Env("DRSYNCER_CODEC_SERVER_ADDR", ""),
		"serve the payload codec's /encode and /decode for the Temporal Web UI and CLI on this address, e.g. 127.0.0.1:8089; empty serves nothing; "+
			"needs --payload-codec-key-file (env DRSYNCER_CODEC_SERVER_ADDR)")
	fs.StringVar(&e.AllowedOrigin, "codec-server-cors-origin", cliutil.Env("DRSYNCER_CODEC_SERVER_CORS_ORIGIN", ""),
		"the Temporal Web UI's origin, e.g. https://temporal.example.com, allowed to call the codec endpoint from a browser (env DRSYNCER_CODEC_SERVER_CORS_ORIGIN)")
	fs.StringVar(&e.TokenFile, "codec-server-token-file", cliutil.Env("DRSYNCER_CODEC_SERVER_TOKEN_FILE", ""),
		"file holding a token callers must send as 'Authorization: Bearer TOKEN' (env DRSYNCER_CODEC_SERVER_TOKEN_FILE)")
	fs.BoolVar(&e.ExternalAuth, "codec-server-external-auth", cliutil.Env("DRSYNCER_CODEC_SERVER_EXTERNAL_AUTH", "") == "true",
		"a proxy in front of the codec endpoint authenticates callers: allow a non-loopback address without a token (env DRSYNCER_CODEC_SERVER_EXTERNAL_AUTH=true)")
	fs.StringVar(&e.CertFile, "codec-server-tls-cert", cliutil.Env("DRSYNCER_CODEC_SERVER_TLS_CERT", ""),
		"serve the codec endpoint over HTTPS with this certificate (env DRSYNCER_CODEC_SERVER_TLS_CERT)")
	fs.StringVar(&e.KeyFile, "codec-server-tls-key", cliutil.Env("DRSYNCER_CODEC_SERVER_TLS_KEY", ""),
		"key of --codec-server-tls-cert (env DRSYNCER_CODEC_SERVER_TLS_KEY)")
}

// Serve serves codec's endpoint until ctx ends; with no address it only
// waits. Settings are checked before anything listens.
func (e Endpoint) Serve(ctx context.Context, codec *Codec) error {
	if e.Addr == "" {
		<-ctx.Done()
		return nil
	}
	if codec == nil {
		return fmt.Errorf("--codec-server-addr %s is set but no payload codec is: set --payload-codec-key-file too", e.Addr)
	}
	if (e.CertFile == "") != (e.KeyFile == "") {
		return fmt.Errorf("the codec endpoint's HTTPS needs both --codec-server-tls-cert and --codec-server-tls-key; only one is set")
	}
	opts := ServerOptions{AllowedOrigin: e.AllowedOrigin}
	if e.TokenFile != "" {
		token, err := LoadToken(e.TokenFile)
		if err != nil {
			return err
		}
		opts.Token = token
	}
	if err := CheckExposure(e.Addr, opts, e.ExternalAuth); err != nil {
		return err
	}
	lis, err := net.Listen("tcp", e.Addr)
	if err != nil {
		return fmt.Errorf("listen for the codec endpoint on %s: %w", e.Addr, err)
	}
	srv := &http.Server{Handler: codec.Handler(opts), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if e.CertFile != "" {
		err = srv.ServeTLS(lis, e.CertFile, e.KeyFile)
	} else {
		err = srv.Serve(lis)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve the codec endpoint on %s: %w", e.Addr, err)
	}
	return nil
}

// LoadToken reads the codec endpoint's bearer token from a file (a mounted
// Secret), trimming the trailing newline editors and `kubectl create secret
// --from-file` leave.
func LoadToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read codec server token file %s: %w; mount the token Secret there or unset the token file setting", path, err)
	}
	token := strings.TrimSpace(string(data))
	if token == "" {
		return "", fmt.Errorf("codec server token file %s is empty; put a long random token in it", path)
	}
	return token, nil
}

// CheckExposure refuses to serve the endpoint on a non-loopback address
// without a token unless the operator says another layer authenticates
// callers: whoever reaches it can decrypt every workflow's payloads.
// Loopback is reachable through `kubectl port-forward` only.
func CheckExposure(addr string, opts ServerOptions, externalAuth bool) error {
	if opts.Token != "" || externalAuth {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("codec server address %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("codec server address %q is not loopback and no token file is set: anyone who reaches it could decrypt every payload; "+
		"set a token file, listen on 127.0.0.1 and use kubectl port-forward, or, if a proxy in front authenticates callers, set the external-auth flag", addr)
}
