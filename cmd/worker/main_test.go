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
		"-task-queue", "-kubeconfig", "KUBECONFIG", "-metrics-addr", "-max-concurrent-activities", "-temporal-tls-cert"} {
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
