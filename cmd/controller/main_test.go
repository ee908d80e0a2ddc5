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
		"-kubeconfig", "-health-probe-addr", "-leader-elect", "-metrics-addr", "-log-level", "-temporal-ui"} {
		assert.Contains(t, help.String(), want)
	}
}

// --watch-namespaces restricts the cache to the listed namespaces and the
// system namespace, whose objects and Secrets the controller always serves;
// an empty list keeps the cache cluster-wide.
func TestCacheNamespaces(t *testing.T) {
	assert.Nil(t, cacheNamespaces("", "dr-syncer-system"))
	assert.Nil(t, cacheNamespaces(" , ", "dr-syncer-system"))
	got := cacheNamespaces("team-a, team-b,", "dr-syncer-system")
	assert.Len(t, got, 3)
	for _, ns := range []string{"team-a", "team-b", "dr-syncer-system"} {
		assert.Contains(t, got, ns)
	}
}
