package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	querypb "go.temporal.io/api/query/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/dr-syncer/dr-syncer/internal/payloadcodec"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// With the payload codec on, a run whose input, heartbeats, query result,
// signal, memo and result carry a marker leaves no plaintext of it in
// anything a client without the key can read from Temporal: the history,
// a describe call (pending heartbeats) or a query. The starter built by
// starter.Connect, as the controller and CLI are, still reads heartbeats
// and results, and the codec endpoint decrypts for the token holder only.
func TestPayloadCodecLeavesNoPlaintextInTemporal(t *testing.T) {
	tp := testenv.StartTemporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	marker := "drsyncer-marker-" + randomHex(t)

	conn := tp.Conn()
	conn.CodecKeyFile = writeCodecKeys(t)
	s, err := starter.Connect(conn, nil, nil)
	require.NoError(t, err)
	defer s.Client.Close()
	release := runSecretWorker(t, s.Client, "codec")

	run, err := s.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "codec", TaskQueue: "codec", Memo: map[string]any{"note": marker},
	}, secretWorkflowName, secret{Marker: marker})
	require.NoError(t, err)

	// While the activity runs: the starter decodes its heartbeat with the
	// client's converter; a raw describe and a raw query show no marker.
	var beat secret
	require.Eventually(t, func() bool {
		st, err := s.WorkflowState(ctx, "codec", "", nil)
		return err == nil && st.Heartbeat(&beat)
	}, 30*time.Second, 200*time.Millisecond, "the starter never decoded a heartbeat")
	assert.Equal(t, marker, beat.Marker)
	detail, err := s.Describe(ctx, "codec", "")
	require.NoError(t, err)
	require.Len(t, detail.PendingActivities, 1)
	assert.Contains(t, detail.PendingActivities[0].Progress, marker, "`drsyncer describe` shows the decoded heartbeat")
	// The check that fails if a decoder bypasses the client's converter:
	// the SDK's default converter cannot read an encrypted heartbeat.
	bypass, err := (&starter.Starter{Client: s.Client}).WorkflowState(ctx, "codec", "", nil)
	require.NoError(t, err)
	assert.False(t, bypass.Heartbeat(&secret{}), "the default converter decoded an encrypted heartbeat: the codec is not on")

	described, err := tp.Client.DescribeWorkflowExecution(ctx, "codec", "")
	require.NoError(t, err)
	require.NotEmpty(t, described.GetPendingActivities()[0].GetHeartbeatDetails().GetPayloads())
	assertNoMarker(t, marker, "describe response", described)
	queried, err := tp.Client.WorkflowService().QueryWorkflow(ctx, &workflowservice.QueryWorkflowRequest{
		Namespace: tp.Namespace, Execution: &commonpb.WorkflowExecution{WorkflowId: "codec"},
		Query: &querypb.WorkflowQuery{QueryType: secretQuery},
	})
	require.NoError(t, err)
	assertNoMarker(t, marker, "raw query result", queried)
	value, err := s.Client.QueryWorkflow(ctx, "codec", "", secretQuery)
	require.NoError(t, err)
	var answer secret
	require.NoError(t, value.Get(&answer))
	assert.Equal(t, marker, answer.Marker, "a client with the codec decodes the query result")

	close(release)
	require.NoError(t, s.Client.SignalWorkflow(ctx, "codec", "", secretSignal, secret{Marker: marker}))
	require.NoError(t, run.Get(ctx, nil))
	var result secret
	st, err := s.WorkflowState(ctx, "codec", "", &result)
	require.NoError(t, err)
	assert.True(t, st.Completed())
	assert.Equal(t, marker+"+"+marker, result.Marker, "the starter decodes a closed run's result")

	// The whole history, read by a client without the key.
	var input *commonpb.Payload
	encrypted := 0
	iter := tp.Client.GetWorkflowHistory(ctx, "codec", "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for iter.HasNext() {
		event, err := iter.Next()
		require.NoError(t, err)
		assertNoMarker(t, marker, "history event "+event.GetEventType().String(), event)
		if started := event.GetWorkflowExecutionStartedEventAttributes(); started != nil {
			input = started.GetInput().GetPayloads()[0]
		}
		encrypted += bytes.Count(mustMarshal(t, event), []byte(payloadcodec.EncodingEncrypted))
	}
	// Input, memo, activity input, signal and result at least.
	assert.GreaterOrEqual(t, encrypted, 5, "too few encrypted payloads in the history: was anything scanned?")
	require.NotNil(t, input)
	codecEndpointDecodes(t, ctx, tp, conn.CodecKeyFile, input, marker)
}

// codecEndpointDecodes serves the worker's codec endpoint, as
// --codec-server-addr does, and decodes the run's input through it.
func codecEndpointDecodes(t *testing.T, ctx context.Context, tp *testenv.Temporal, keyFile string, encrypted *commonpb.Payload, marker string) {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("operator-token\n"), 0o600))
	codec, err := payloadcodec.New(mustLoadKeys(t, keyFile))
	require.NoError(t, err)
	addr := freeAddr(t)
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- payloadcodec.Endpoint{Addr: addr, TokenFile: tokenFile, AllowedOrigin: "http://localhost:8233"}.Serve(sctx, codec)
	}()
	defer func() { stop(); require.NoError(t, <-served) }()

	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{encrypted}})
	require.NoError(t, err)
	post := func(token string) (int, []byte) {
		var resp *http.Response
		require.Eventually(t, func() bool {
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/decode", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Namespace", "default")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err = http.DefaultClient.Do(req)
			return err == nil
		}, 10*time.Second, 50*time.Millisecond, "codec endpoint not listening: %v", err)
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, out
	}

	code, out := post("operator-token")
	require.Equal(t, http.StatusOK, code, "%s", out)
	var decoded commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(out, &decoded))
	assert.Contains(t, string(decoded.GetPayloads()[0].GetData()), marker, "the endpoint decrypts for the token holder")

	code, out = post("")
	assert.Equal(t, http.StatusUnauthorized, code)
	assert.NotContains(t, string(out), marker)

	// The temporal CLI speaks the Web UI's codec protocol: with the
	// endpoint and the token, an operator reads the history in clear. Its
	// JSON output shows payload data as base64.
	inClear := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, `{"Marker":%q}`, marker))
	show := func(args ...string) string {
		cmd := exec.CommandContext(ctx, testenv.Binary(t, "temporal"), append([]string{"workflow", "show", "-w", "codec",
			"--address", tp.Address, "--namespace", tp.Namespace, "--codec-endpoint", "http://" + addr, "-o", "json"}, args...)...)
		out, _ := cmd.CombinedOutput()
		return string(out)
	}
	assert.Contains(t, show("--codec-auth", "Bearer operator-token"), inClear, "the CLI decodes the history through the endpoint")
	// Without the token the endpoint answers 401: the CLI fails or shows
	// the payloads still encrypted; either way, nothing in clear.
	noToken := show()
	assert.NotContains(t, noToken, inClear)
	assert.NotContains(t, noToken, marker)
}

// assertNoMarker fails when marker appears in msg's wire bytes, raw or as
// base64 (protojson would show payload data so).
func assertNoMarker(t *testing.T, marker, what string, msg proto.Message) {
	t.Helper()
	raw := mustMarshal(t, msg)
	assert.False(t, bytes.Contains(raw, []byte(marker)), "%s holds the plaintext marker", what)
	js, err := protojson.Marshal(msg)
	require.NoError(t, err)
	assert.False(t, bytes.Contains(js, []byte(marker)), "%s holds the plaintext marker (JSON)", what)
}

func mustMarshal(t *testing.T, msg proto.Message) []byte {
	t.Helper()
	raw, err := proto.Marshal(msg)
	require.NoError(t, err)
	return raw
}

func writeCodecKeys(t *testing.T) string {
	t.Helper()
	secret := make([]byte, 32)
	_, err := rand.Read(secret)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "keys")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, "test-key:%s\n", base64.StdEncoding.EncodeToString(secret)), 0o600))
	return path
}

func mustLoadKeys(t *testing.T, path string) []payloadcodec.Key {
	t.Helper()
	keys, err := payloadcodec.LoadKeys(path)
	require.NoError(t, err)
	return keys
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}
