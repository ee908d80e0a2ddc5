package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

func TestParseInterleavedTakesFlagsAfterArguments(t *testing.T) {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	pvc := fs.String("pvc", "", "")
	create := fs.Bool("create-namespace", false, "")
	positional, err := parseInterleaved(fs, []string{"--create-namespace", "ops/shop", "--pvc", "data", "extra"})
	require.NoError(t, err)
	assert.Equal(t, []string{"ops/shop", "extra"}, positional)
	assert.Equal(t, "data", *pvc)
	assert.True(t, *create)
}

// Bad requests fail before anything connects to Temporal.
func TestRestoreChecksItsArgumentsFirst(t *testing.T) {
	connect := func() (*starter.Starter, func(), error) {
		t.Fatal("connected despite a bad request")
		return nil, nil, nil
	}
	for args, want := range map[string][]string{
		"shop --pvc data --point latest":                    {"NAMESPACE/REPLICATION"},
		"ops/shop --point latest":                           {"--pvc is required"},
		"ops/shop --pvc data":                               {"--point is required", "drsyncer restore-points list ops/shop --pvc data"},
		"ops/shop --pvc data --point latest --name Data_1":  {`new PVC name "Data_1"`},
		"ops/shop --pvc data --point latest --to-namespace": {"flag needs an argument"},
	} {
		err := restore(context.Background(), splitArgs(args), io.Discard, io.Discard, connect, "")
		for _, w := range want {
			assert.ErrorContains(t, err, w, args)
		}
	}
	for _, args := range []string{"", "show ops/shop", "list"} {
		assert.Error(t, restorePoints(context.Background(), splitArgs(args), io.Discard, io.Discard, connect), args)
	}
}

func splitArgs(s string) []string { return strings.Fields(s) }

func TestHelpListsRestoreCommands(t *testing.T) {
	var out, help bytes.Buffer
	err := run(context.Background(), []string{"--help"}, &out, &help)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, want := range []string{"restore-points list NS/REPLICATION [--pvc NAME]", "restore NS/REPLICATION --pvc NAME --point NAME|latest",
		"[--to-namespace NS] [--name NEWPVC] [--create-namespace]", "restore/NS/REPLICATION/PVC/TIME"} {
		assert.Contains(t, help.String(), want)
	}
	help.Reset()
	err = run(context.Background(), []string{"restore", "--help"}, &out, &help)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, want := range []string{"-to-namespace", "-create-namespace", "-name", `"latest"`} {
		assert.Contains(t, help.String(), want)
	}
}

// The restore commands against a dev server whose worker runs stand-ins of
// the two workflows: what the CLI sends, and how it shows what comes back.
func TestRestoreCommandsAgainstDevServer(t *testing.T) {
	tp := testenv.StartTemporal(t)
	copiedAt := time.Date(2026, 12, 5, 21, 0, 0, 0, time.UTC)
	point := contract.RestorePoint{Name: "data-rp-20261205-210000", PVC: "data", CopiedAt: copiedAt, Size: "1Gi", Run: "run-1"}
	w := worker.New(tp.Client, tp.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in contract.RestorePointsInput) (contract.RestorePointsResult, error) {
		res := contract.RestorePointsResult{Replication: in.Replication.String(), DestinationCluster: "dr", DestinationNamespace: "shop-dr"}
		if in.PVC != "none" {
			res.Points = []contract.RestorePoint{point}
		}
		return res, nil
	}, workflow.RegisterOptions{Name: contract.RestorePointsName})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in contract.RestoreInput) (contract.RestoreResult, error) {
		if in.Point != point.Name && in.Point != contract.LatestRestorePoint {
			return contract.RestoreResult{}, temporal.NewNonRetryableApplicationError(
				"restore point \""+in.Point+"\" of DR PVC dr/shop-dr/data not found", contract.ErrTypeRestorePointNotFound, nil)
		}
		target := contract.PVCRef{Cluster: contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}, Namespace: in.ToNamespace, Name: in.Name}
		return contract.RestoreResult{RestoredPVC: contract.RestoredPVC{PVC: target, StorageClass: "fast", Size: "1Gi", Bound: !in.CreateNamespace},
			Point: point, FromNamespace: "shop-dr"}, nil
	}, workflow.RegisterOptions{Name: contract.RestoreName})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli := cliAgainst(ctx, tp)

	out, err := cli("restore-points", "list", "ops/shop", "--pvc", "data")
	require.NoError(t, err)
	assert.Contains(t, out, "restore points of ops/shop in cluster dr, namespace shop-dr, newest first")
	assert.Regexp(t, `PVC\s+RESTORE POINT\s+COPIED AT \(UTC\)\s+SIZE\s+RUN`, out)
	assert.Regexp(t, `data\s+data-rp-20261205-210000\s+2026-12-05 21:00:00\s+1Gi\s+run-1`, out)
	assert.Contains(t, out, "drsyncer restore ops/shop --pvc PVC --point NAME|latest")

	out, err = cli("restore-points", "list", "ops/shop", "--pvc", "none")
	require.NoError(t, err)
	assert.Contains(t, out, "no restore points of ops/shop (PVC none) in cluster dr, namespace shop-dr")

	out, err = cli("restore", "ops/shop", "--pvc", "data", "--point", "latest", "--to-namespace", "shop-test", "--name", "data", "--create-namespace")
	require.NoError(t, err)
	assert.Regexp(t, `started restore/ops/shop/data/\S+ \(run \S+\)`, out)
	for _, want := range []string{
		"restored PVC data in namespace shop-test of cluster dr",
		"from restore point data-rp-20261205-210000 of DR PVC shop-dr/data, holding the source as of 2026-12-05 21:00:00 UTC",
		"storage class fast, size 1Gi, binds when a pod first uses it",
		"claimName: data in a pod of namespace shop-test",
		"the DR PVC data and its restore points are untouched",
	} {
		assert.Contains(t, out, want)
	}

	out, err = cli("restore", "ops/shop", "--pvc", "data", "--point", "data-rp-1")
	require.Error(t, err)
	assert.Contains(t, out, "started restore/ops/shop/data/")
	var runErr *starter.RunError
	require.ErrorAs(t, err, &runErr)
	assert.Equal(t, contract.ErrTypeRestorePointNotFound, runErr.Type)
	assert.ErrorContains(t, err, `(RestorePointNotFound): restore point "data-rp-1" of DR PVC dr/shop-dr/data not found`)
	assert.ErrorContains(t, err, "drsyncer describe restore/ops/shop/data/")
}
