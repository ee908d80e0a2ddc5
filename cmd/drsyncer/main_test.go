package main

import (
	"bytes"
	"context"
	"flag"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

func TestCLIAgainstDevServer(t *testing.T) {
	tp := testenv.StartTemporal(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli := cliAgainst(ctx, tp)

	out, err := cli("list")
	require.NoError(t, err)
	assert.Contains(t, out, "no dr-syncer workflows")

	out, err = cli("setup")
	require.NoError(t, err)
	assert.Contains(t, out, "already registered")

	// No worker polls, so the run stays Running: what a user sees while a sync is under way.
	run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "run/cli", TaskQueue: tp.TaskQueue},
		contract.ReplicationName, contract.ReplicationInput{Replication: contract.ObjectRef{Namespace: "ns", Name: "r"}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		out, err = cli("list")
		return err == nil && bytes.Contains([]byte(out), []byte("run/cli"))
	}, 20*time.Second, 200*time.Millisecond, "list never showed the run: %s %v", out, err)
	assert.Contains(t, out, "WORKFLOW ID")
	assert.Contains(t, out, "Replication")
	assert.Contains(t, out, "Running")
	assert.Contains(t, out, run.GetRunID())

	out, err = cli("list", "--query", `ExecutionStatus = "Completed"`)
	require.NoError(t, err)
	assert.Contains(t, out, "no dr-syncer workflows")

	out, err = cli("describe", "run/cli")
	require.NoError(t, err)
	assert.Contains(t, out, "Status:")
	assert.Contains(t, out, "Running")
	assert.Contains(t, out, run.GetRunID())

	_, err = cli("describe", "health/nope")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "health/nope")

	_, err = cli("frobnicate")
	require.ErrorContains(t, err, `unknown command "frobnicate"`)
}

func TestHelpListsCommandsAndFlags(t *testing.T) {
	var out, help bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &out, &help)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, want := range []string{"list", "describe WORKFLOW-ID", "setup", "-temporal-address", "DRSYNCER_TEMPORAL_ADDRESS", "-task-queue", "temporal workflow cancel"} {
		assert.Contains(t, help.String(), want)
	}
	assert.Empty(t, out.String())
}

// cliAgainst runs the CLI against the dev server tp and returns what it
// printed, output and errors together.
func cliAgainst(ctx context.Context, tp *testenv.Temporal) func(args ...string) (string, error) {
	flags := []string{"--temporal-address", tp.Address, "--temporal-namespace", tp.Namespace, "--task-queue", tp.TaskQueue}
	return func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, append(append([]string{}, flags...), args...), &out, &out)
		return out.String(), err
	}
}
