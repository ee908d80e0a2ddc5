package payloadcodec

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"
)

// maxRequestBytes bounds one encode or decode request: payloads are at most
// a few MiB (Temporal's own blob limit), and an endpoint that decrypts must
// not buffer whatever a caller streams at it.
const maxRequestBytes = 8 << 20

// ServerOptions secure the codec HTTP endpoint.
type ServerOptions struct {
	// AllowedOrigin is the Temporal Web UI's origin (scheme://host[:port]),
	// the one browser origin allowed to call the endpoint; empty allows none.
	AllowedOrigin string
	// Token, when set, must come as "Authorization: Bearer TOKEN". Anyone
	// who can call the endpoint without it can decrypt every payload.
	Token string
}

// Handler serves POST .../encode and .../decode the way the Temporal Web UI
// and `temporal --codec-endpoint` call them, answering CORS preflights for
// the allowed origin and refusing callers without the token.
func (c *Codec) Handler(opts ServerOptions) http.Handler {
	codec := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if opts.AllowedOrigin != "" && r.Header.Get("Origin") == opts.AllowedOrigin {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", opts.AllowedOrigin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Add("Vary", "Origin")
		}
		// A preflight carries no credentials by design; it reveals nothing.
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusOK)
			return
		}
		if opts.Token != "" && !bearerMatches(r.Header.Get("Authorization"), opts.Token) {
			http.Error(w, "codec endpoint: missing or wrong bearer token", http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
		codec.ServeHTTP(w, r)
	})
}

func bearerMatches(header, token string) bool {
	got, ok := strings.CutPrefix(header, "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}
