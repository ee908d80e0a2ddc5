package payloadcodec

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

func newKey(t *testing.T, id string) (Key, string) {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(id, secret)
	if err != nil {
		t.Fatal(err)
	}
	return k, fmt.Sprintf("%s:%s", id, base64.StdEncoding.EncodeToString(secret))
}

func mustCodec(t *testing.T, keys ...Key) *Codec {
	t.Helper()
	c, err := New(keys)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type pvcInput struct{ Namespace, Path string }

// What a user cares about: the marker is gone from the bytes Temporal
// stores, and the same converter gets the value back.
func TestEncryptedPayloadHidesPlaintextAndRoundTrips(t *testing.T) {
	k1, _ := newKey(t, "k1")
	dc := mustCodec(t, k1).DataConverter()
	in := pvcInput{Namespace: "tenant-secret-marker", Path: "/data/payroll"}
	p, err := dc.ToPayload(in)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(p.GetData(), []byte("secret-marker")) || bytes.Contains(p.GetData(), []byte("payroll")) {
		t.Fatalf("encrypted payload still holds the plaintext: %q", p.GetData())
	}
	if got := string(p.GetMetadata()[MetadataKeyID]); got != "k1" {
		t.Fatalf("key ID in metadata = %q, want k1", got)
	}
	if _, ok := p.GetMetadata()["encoding"]; !ok || string(p.GetMetadata()["encoding"]) != EncodingEncrypted {
		t.Fatalf("encoding = %q, want %q (the JSON encoding must not show)", p.GetMetadata()["encoding"], EncodingEncrypted)
	}
	var out pvcInput
	if err := dc.FromPayload(p, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("round trip = %+v, want %+v", out, in)
	}
}

// Rotation: new payloads use the first key; payloads of the old key still
// read while it stays in the file, and name it once it is removed.
func TestRotationEncryptsWithFirstKeyAndDecryptsWithAny(t *testing.T) {
	old, _ := newKey(t, "2025-01")
	cur, _ := newKey(t, "2026-06")
	before, err := mustCodec(t, old).Encode([]*commonpb.Payload{{Data: []byte("run started before rotation")}})
	if err != nil {
		t.Fatal(err)
	}
	rotated := mustCodec(t, cur, old)
	after, err := rotated.Encode([]*commonpb.Payload{{Data: []byte("new")}})
	if err != nil {
		t.Fatal(err)
	}
	if id := string(after[0].GetMetadata()[MetadataKeyID]); id != "2026-06" {
		t.Fatalf("new payload encrypted with %q, want the first key 2026-06", id)
	}
	got, err := rotated.Decode(before)
	if err != nil || string(got[0].GetData()) != "run started before rotation" {
		t.Fatalf("old payload after rotation: %v %q", err, got)
	}
	_, err = mustCodec(t, cur).Decode(before)
	if err == nil || !strings.Contains(err.Error(), `"2025-01"`) || !strings.Contains(err.Error(), "add that key back") {
		t.Fatalf("decode with the old key removed: %v, want an error naming key 2025-01 and what to do", err)
	}
}

func TestWrongOrTamperedPayloadIsRefused(t *testing.T) {
	k1, _ := newKey(t, "k1")
	other, _ := newKey(t, "k1") // same ID, different secret: a mixed-up Secret
	enc, err := mustCodec(t, k1).Encode([]*commonpb.Payload{{Data: []byte("x")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mustCodec(t, other).Decode(enc); err == nil {
		t.Fatal("a different key with the same ID decrypted the payload")
	}
	enc[0].Data[len(enc[0].Data)-1] ^= 1
	if _, err := mustCodec(t, k1).Decode(enc); err == nil {
		t.Fatal("a tampered payload decrypted")
	}
}

// Runs started before the codec was turned on, and search attributes, are
// plain JSON; they must keep reading.
func TestPlainPayloadsPassThrough(t *testing.T) {
	k1, _ := newKey(t, "k1")
	plain, err := converter.GetDefaultDataConverter().ToPayload("hello")
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := mustCodec(t, k1).DataConverter().FromPayload(plain, &s); err != nil || s != "hello" {
		t.Fatalf("plain payload through the codec: %q, %v", s, err)
	}
}

func TestLoadKeys(t *testing.T) {
	_, line1 := newKey(t, "a")
	_, line2 := newKey(t, "b")
	dir := t.TempDir()
	write := func(content string) string {
		p := filepath.Join(dir, "keys")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keys, err := LoadKeys(write("# rotated 2026-06\n" + line2 + "\n\n" + line1 + "\n"))
	if err != nil || len(keys) != 2 || keys[0].ID != "b" {
		t.Fatalf("LoadKeys = %v, %v; want b then a", keys, err)
	}
	short := "k:" + base64.StdEncoding.EncodeToString([]byte("too short"))
	for name, tc := range map[string]struct{ content, want string }{
		"empty":        {"# nothing\n", "no key found"},
		"no id":        {base64.StdEncoding.EncodeToString(make([]byte, 32)), "no KEY-ID"},
		"not base64":   {"k:***", "not base64"},
		"short key":    {short, "needs exactly 32"},
		"duplicate id": {line1 + "\n" + line1, `repeats key ID "a"`},
	} {
		t.Run(name, func(t *testing.T) {
			path := write(tc.content)
			_, err := LoadKeys(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("LoadKeys(%q) = %v, want an error naming %s and saying %q", tc.content, err, path, tc.want)
			}
		})
	}
	missing := filepath.Join(dir, "absent")
	if _, err := LoadKeys(missing); err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "mount the key Secret") {
		t.Fatalf("LoadKeys(missing) = %v, want the path and what to do", err)
	}
}
