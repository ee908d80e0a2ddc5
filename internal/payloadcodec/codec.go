package payloadcodec

import (
	"crypto/rand"
	"fmt"
	"sort"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload. The encoding is the name Temporal's own
// encryption samples use, so the Web UI and CLI recognise the payload as
// encrypted rather than as JSON.
const (
	MetadataEncoding   = "encoding"
	EncodingEncrypted  = "binary/encrypted"
	MetadataKeyID      = "encryption-key-id"
	MetadataCipherName = "encryption-cipher"
	cipherName         = "AES-256-GCM"
)

// Codec is a converter.PayloadCodec that encrypts with its first key and
// decrypts with whichever key a payload names.
type Codec struct {
	keys []Key
	byID map[string]Key
}

var _ converter.PayloadCodec = (*Codec)(nil)

// New is a codec over keys; keys[0] encrypts.
func New(keys []Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("payload codec needs at least one key")
	}
	c := &Codec{keys: keys, byID: map[string]Key{}}
	for _, k := range keys {
		c.byID[k.ID] = k
	}
	return c, nil
}

// DataConverter wraps the SDK's default converter with the codec: the
// converter every dr-syncer client must be built with once a key is set.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// Encode encrypts each payload whole (metadata and data), so not even the
// encoding of the plaintext shows. The key ID is also the GCM additional
// data: a payload relabelled with another key's ID fails to decrypt.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	key := c.keys[0]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encrypt payload: %w", err)
		}
		nonce := make([]byte, key.aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encrypt payload: nonce: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				MetadataEncoding:   []byte(EncodingEncrypted),
				MetadataKeyID:      []byte(key.ID),
				MetadataCipherName: []byte(cipherName),
			},
			Data: key.aead.Seal(nonce, nonce, plain, []byte(key.ID)),
		}
	}
	return out, nil
}

// Decode decrypts payloads this codec encrypted. Payloads that are not
// encrypted pass through unchanged: runs started before the codec was
// turned on, and search attributes, which Temporal never encodes, must
// still read.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		key, ok := c.byID[id]
		if !ok {
			return nil, fmt.Errorf("decrypt payload: it was encrypted with key %q, which is not loaded (loaded: %s); "+
				"add that key back to the key file, after the current one", id, c.keyIDs())
		}
		n := key.aead.NonceSize()
		if len(p.GetData()) < n {
			return nil, fmt.Errorf("decrypt payload with key %q: %d bytes is too short to be one", id, len(p.GetData()))
		}
		plain, err := key.aead.Open(nil, p.GetData()[:n], p.GetData()[n:], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("decrypt payload with key %q: %w; the key file's key %q is not the one that encrypted it", id, err, id)
		}
		var decoded commonpb.Payload
		if err := proto.Unmarshal(plain, &decoded); err != nil {
			return nil, fmt.Errorf("decrypt payload with key %q: %w", id, err)
		}
		out[i] = &decoded
	}
	return out, nil
}

func (c *Codec) keyIDs() string {
	ids := make([]string, 0, len(c.keys))
	for _, k := range c.keys {
		ids = append(ids, k.ID)
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}
