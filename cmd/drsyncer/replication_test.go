package main

import (
	"bytes"
	"context"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

func TestParseReplication(t *testing.T) {
	ref, err := parseReplication("start", []string{"ops/shop"})
	require.NoError(t, err)
	assert.Equal(t, contract.ObjectRef{Namespace: "ops", Name: "shop"}, ref)
	for _, bad := range [][]string{nil, {"shop"}, {"/shop"}, {"ops/"}, {"a/b/c"}, {"ops/shop", "extra"}} {
		_, err := parseReplication("start", bad)
		assert.Error(t, err, "%q", bad)
	}
}

func TestHelpListsReplicationCommands(t *testing.T) {
	var out, help bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &out, &help)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, want := range []string{"start NS/REPLICATION", "status NS/REPLICATION", "cancel NS/REPLICATION",
		"retry NS/REPLICATION", "history NS/REPLICATION", "temporal workflow list --query", "temporal workflow reset", "-temporal-ui"} {
		assert.Contains(t, help.String(), want)
	}
}

// The replication commands against a dev server with no worker: a started
// run stays Running, as it does while a sync is under way.
func TestReplicationCommandsAgainstDevServer(t *testing.T) {
	tp := testenv.StartTemporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli := cliAgainst(ctx, tp)

	out, err := cli("history", "ops/shop")
	require.NoError(t, err)
	assert.Contains(t, out, "no runs of ops/shop")

	out, err = cli("start", "ops/shop")
	require.NoError(t, err)
	assert.Regexp(t, `started replication/ops/shop/manual-\S+ \(run \S+\)`, out)
	assert.Contains(t, out, "http://localhost:8233/namespaces/default/workflows/replication%2Fops%2Fshop%2Fmanual-")

	require.Eventually(t, func() bool {
		out, err = cli("status", "ops/shop")
		return err == nil
	}, 20*time.Second, 200*time.Millisecond, "status: %v", err)
	assert.Regexp(t, `Status:\s+Running`, out)
	assert.Contains(t, out, "replication/ops/shop/manual-")

	out, err = cli("retry", "ops/shop")
	require.NoError(t, err)
	assert.Contains(t, out, "still running")

	out, err = cli("cancel", "ops/shop")
	require.NoError(t, err)
	assert.Contains(t, out, "cancel requested: replication/ops/shop/manual-")

	out, err = cli("history", "ops/shop")
	require.NoError(t, err)
	assert.Contains(t, out, "TRIGGER")
	assert.Contains(t, out, "RESULT")
	assert.Contains(t, out, "DURATION")
	assert.Regexp(t, `manual-\S+\s+Running`, out)

	_, err = cli("status", "ops/none")
	require.ErrorContains(t, err, "no runs yet")
	_, err = cli("start", "shop")
	require.ErrorContains(t, err, "NAMESPACE/REPLICATION")
}
