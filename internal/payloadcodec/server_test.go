package payloadcodec

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

const uiOrigin = "https://temporal.example.com"

func decodeRequest(t *testing.T, h http.Handler, token, origin string, payloads ...*commonpb.Payload) *httptest.ResponseRecorder {
	t.Helper()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/api/decode", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHandlerDecodesOnlyForTheTokenHolder(t *testing.T) {
	k1, _ := newKey(t, "k1")
	c := mustCodec(t, k1)
	enc, err := c.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"marker-42"`)}})
	if err != nil {
		t.Fatal(err)
	}
	h := c.Handler(ServerOptions{AllowedOrigin: uiOrigin, Token: "s3cret"})

	rec := decodeRequest(t, h, "s3cret", uiOrigin, enc...)
	var got commonpb.Payloads
	if err := protojson.Unmarshal(rec.Body.Bytes(), &got); rec.Code != http.StatusOK || err != nil ||
		len(got.GetPayloads()) != 1 || string(got.GetPayloads()[0].GetData()) != `"marker-42"` {
		t.Fatalf("decode with the token: %d %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Access-Control-Allow-Origin"); got != uiOrigin {
		t.Fatalf("CORS origin = %q, want %q", got, uiOrigin)
	}
	for name, token := range map[string]string{"no token": "", "wrong token": "guess"} {
		rec := decodeRequest(t, h, token, uiOrigin, enc...)
		if rec.Code != http.StatusUnauthorized || strings.Contains(rec.Body.String(), "marker") {
			t.Fatalf("%s: %d %s, want 401 and no plaintext", name, rec.Code, rec.Body)
		}
	}
	if rec := decodeRequest(t, h, "s3cret", "https://evil.example", enc...); rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("another origin was allowed by CORS")
	}
}

func TestHandlerAnswersPreflightWithoutToken(t *testing.T) {
	k1, _ := newKey(t, "k1")
	h := mustCodec(t, k1).Handler(ServerOptions{AllowedOrigin: uiOrigin, Token: "s3cret"})
	req := httptest.NewRequest(http.MethodOptions, "/decode", nil)
	req.Header.Set("Origin", uiOrigin)
	req.Header.Set("Access-Control-Request-Headers", "authorization,content-type,x-namespace")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", rec.Code, rec.Header())
	}
}

func TestCheckExposure(t *testing.T) {
	for _, tc := range []struct {
		addr     string
		token    string
		external bool
		ok       bool
	}{
		{"127.0.0.1:8089", "", false, true},
		{"localhost:8089", "", false, true},
		{"[::1]:8089", "", false, true},
		{":8089", "", false, false},
		{"0.0.0.0:8089", "", false, false},
		{":8089", "t", false, true},
		{":8089", "", true, true},
	} {
		err := CheckExposure(tc.addr, ServerOptions{Token: tc.token}, tc.external)
		if (err == nil) != tc.ok {
			t.Errorf("CheckExposure(%q, token %q, external %v) = %v, want ok %v", tc.addr, tc.token, tc.external, err, tc.ok)
		}
	}
}

// A codec endpoint without a codec, or with half an HTTPS pair, stops the
// worker at start instead of serving something that cannot decode.
func TestEndpointRefusesIncompleteSettings(t *testing.T) {
	k1, _ := newKey(t, "k1")
	for name, tc := range map[string]struct {
		e     Endpoint
		codec *Codec
		want  string
	}{
		"no codec":       {Endpoint{Addr: "127.0.0.1:0"}, nil, "--payload-codec-key-file"},
		"cert, no key":   {Endpoint{Addr: "127.0.0.1:0", CertFile: "tls.crt"}, mustCodec(t, k1), "only one is set"},
		"open, no token": {Endpoint{Addr: "0.0.0.0:0"}, mustCodec(t, k1), "could decrypt every payload"},
		"missing token":  {Endpoint{Addr: "127.0.0.1:0", TokenFile: "/nonexistent/token"}, mustCodec(t, k1), "/nonexistent/token"},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.e.Serve(t.Context(), tc.codec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Serve = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
