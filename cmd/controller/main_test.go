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
	for _, want := range []string{"Usage: controller", "-temporal-address", "-temporal-namespace", "-task-queue",
		"-kubeconfig", "-health-probe-addr", "-leader-elect", "-metrics-addr", "-log-level"} {
		assert.Contains(t, help.String(), want)
	}
}
