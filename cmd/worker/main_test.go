package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHelp(t *testing.T) {
	var help bytes.Buffer
	require.NoError(t, run([]string{"--help"}, &help))
	for _, want := range []string{"Usage: worker", "-temporal-address", "DRSYNCER_TEMPORAL_ADDRESS", "-temporal-namespace",
		"-task-queue", "-kubeconfig", "KUBECONFIG", "-metrics-addr", "-max-concurrent-activities", "-temporal-tls-cert",
		"-temporal-tls", "-payload-codec-key-file", "DRSYNCER_PAYLOAD_CODEC_KEY_FILE", "-codec-server-addr", "DRSYNCER_CODEC_SERVER_ADDR",
		"-codec-server-token-file", "-codec-server-cors-origin", "-batch-pods", "DRSYNCER_BATCH_PODS"} {
		assert.Contains(t, help.String(), want)
	}
}

func TestUnknownFlagFails(t *testing.T) {
	var help bytes.Buffer
	err := run([]string{"--no-such-flag"}, &help)
	require.Error(t, err)
	assert.Contains(t, help.String(), "flag provided but not defined: -no-such-flag")
}

func TestUnreachableTemporalSaysWhatToDo(t *testing.T) {
	var stderr bytes.Buffer
	// A kubeconfig that parses, and a Temporal address where nothing listens.
	err := run([]string{"--kubeconfig", writeKubeconfig(t), "--temporal-address", "127.0.0.1:1", "--metrics-addr", ""}, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "connect to Temporal at 127.0.0.1:1")
	assert.Contains(t, err.Error(), "make run")
}

// A codec key file that is not there stops the worker at start, naming the
// file and the flag, before it reaches Temporal.
func TestMissingCodecKeyFileSaysWhatToDo(t *testing.T) {
	var stderr bytes.Buffer
	err := run([]string{"--kubeconfig", writeKubeconfig(t), "--metrics-addr", "", "--payload-codec-key-file", "/nonexistent/keys"}, &stderr)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/nonexistent/keys")
	assert.Contains(t, err.Error(), "--payload-codec-key-file")
}

func TestPodFlags(t *testing.T) {
	var help bytes.Buffer
	require.NoError(t, run([]string{"--help"}, &help))
	for _, want := range []string{"-data-pod-cpu-request", "DRSYNCER_DATA_POD_MEMORY_LIMIT", "-mount-pod-any-client"} {
		assert.Contains(t, help.String(), want)
	}
	// A bad quantity stops the worker before it connects anywhere, naming the flag.
	err := run([]string{"--data-pod-memory-limit", "lots"}, &help)
	assert.ErrorContains(t, err, `--data-pod-memory-limit "lots"`)
}

// A DRSYNCER_BATCH_PODS the worker cannot read stops it at start, naming
// the variable, rather than silently taking the default.
func TestUnreadableBatchPodsEnvSaysWhatToDo(t *testing.T) {
	t.Setenv("DRSYNCER_BATCH_PODS", "flase")
	var stderr bytes.Buffer
	err := run([]string{"--metrics-addr", ""}, &stderr)
	require.ErrorContains(t, err, `DRSYNCER_BATCH_PODS="flase": want true or false; it sets --batch-pods`)
}
