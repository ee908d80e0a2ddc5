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

var cliNow = time.Date(2026, 12, 5, 10, 15, 0, 0, time.UTC)

func TestParseFailover(t *testing.T) {
	in, op, err := parseFailover(splitArgs("--source-unreachable ops/shop --from-restore-points --replicas Deployment/web=3 "+
		"--replicas StatefulSet/db=0 --ready-timeout 15m --id drill:1 --no-follow"), io.Discard, cliNow)
	require.NoError(t, err)
	assert.Equal(t, contract.FailoverInput{
		Replication: contract.ObjectRef{Namespace: "ops", Name: "shop"}, SourceUnreachable: true, FromRestorePoints: true,
		Replicas: map[string]int32{"Deployment/web": 3, "StatefulSet/db": 0}, ReadyTimeout: 15 * time.Minute,
	}, in)
	assert.Equal(t, starter.SanitizeTrigger("drill:1"), op.id, "sanitized as the controller sanitizes annotations")
	assert.True(t, op.noFollow)

	in, op, err = parseFailover([]string{"ops/shop"}, io.Discard, cliNow)
	require.NoError(t, err)
	assert.Equal(t, contract.FailoverInput{Replication: contract.ObjectRef{Namespace: "ops", Name: "shop"}}, in, "defaults: planned if the source answers")
	assert.Equal(t, "20261205-101500", op.id)
	assert.False(t, op.noFollow)
}

func TestParseFailbackAndDrill(t *testing.T) {
	fb, op, err := parseFailback(splitArgs("ops/shop --ready-timeout 2m --id back-1"), io.Discard, cliNow)
	require.NoError(t, err)
	assert.Equal(t, contract.FailbackInput{Replication: contract.ObjectRef{Namespace: "ops", Name: "shop"}, ReadyTimeout: 2 * time.Minute}, fb)
	assert.Equal(t, "back-1", op.id)

	d, op, err := parseDrill(splitArgs("ops/shop --namespace shop-drill --check-selector app=db --check-container pg "+
		"--check-command pg_isready --check-command -h --check-command localhost --check-timeout 30s --keep"), io.Discard, cliNow)
	require.NoError(t, err)
	assert.Equal(t, contract.DrillInput{Replication: contract.ObjectRef{Namespace: "ops", Name: "shop"}, Namespace: "shop-drill", Keep: true,
		Check: &contract.DrillCheck{Selector: "app=db", Container: "pg", Command: []string{"pg_isready", "-h", "localhost"}, Timeout: 30 * time.Second}}, d)
	assert.Equal(t, "20261205-101500", op.id)

	d, _, err = parseDrill([]string{"ops/shop", "--check-selector", "app=db", "--check-command", "pg_isready -h localhost && echo ok"}, io.Discard, cliNow)
	require.NoError(t, err)
	assert.Equal(t, []string{"sh", "-c", "pg_isready -h localhost && echo ok"}, d.Check.Command, "one value is a command line")

	d, _, err = parseDrill([]string{"ops/shop"}, io.Discard, cliNow)
	require.NoError(t, err)
	assert.Nil(t, d.Check)
	assert.Empty(t, d.Namespace)
}

// Bad requests fail, naming what is wrong, before anything connects to Temporal.
func TestRecoveryCommandsCheckTheirArgumentsFirst(t *testing.T) {
	connect := func() (*starter.Starter, func(), error) {
		t.Fatal("connected despite a bad request")
		return nil, nil, nil
	}
	commands := map[string]func(context.Context, []string, io.Writer, io.Writer, connectFunc, string) error{
		"failover": failover, "failback": failback, "drill": drill,
	}
	for args, want := range map[string]string{
		"failover":                                       "usage: drsyncer failover NAMESPACE/REPLICATION",
		"failover shop":                                  `drsyncer failover: want NAMESPACE/REPLICATION, got "shop"`,
		"failover ops/shop extra":                        "usage: drsyncer failover NAMESPACE/REPLICATION",
		"failover ops/shop --replicas web=3":             "want KIND/NAME=N, e.g. Deployment/web=3",
		"failover ops/shop --replicas Pod/web=3":         `kind "Pod" of Pod/web: want one of Deployment, StatefulSet`,
		"failover ops/shop --replicas Deployment/web=-1": `replicas "-1" of Deployment/web: want a whole number`,
		"failover ops/shop --replicas Deployment/web=x":  `replicas "x" of Deployment/web`,
		"failover ops/shop --replicas Deployment/a=1 --replicas Deployment/a=2":        "Deployment/a is given twice",
		"failover ops/shop --ready-timeout -1m":                                        "failover: --ready-timeout -1m0s is negative",
		"failover ops/shop --ready-timeout soon":                                       `invalid value "soon" for flag -ready-timeout`,
		"failover ops/shop --planned":                                                  "flag provided but not defined: -planned",
		"failback ops":                                                                 `drsyncer failback: want NAMESPACE/REPLICATION, got "ops"`,
		"failback ops/shop --ready-timeout -5s":                                        "failback: --ready-timeout -5s is negative",
		"failback ops/shop --source-unreachable":                                       "flag provided but not defined: -source-unreachable",
		"drill ops/shop --check-command true":                                          "--check-command needs --check-selector",
		"drill ops/shop --check-selector app=db":                                       "need --check-command",
		"drill ops/shop --check-timeout 1m":                                            "need --check-command",
		"drill ops/shop --check-selector app! --check-command true":                    `--check-selector "app!" is not a label selector`,
		"drill ops/shop --check-selector a=b --check-command true --check-timeout -1s": "--check-timeout -1s is negative",
		"drill ops/shop --namespace Shop_Drill":                                        `--namespace "Shop_Drill" is not a namespace name`,
		"drill a/b/c":                                                                  `drsyncer drill: want NAMESPACE/REPLICATION, got "a/b/c"`,
	} {
		args := splitArgs(args)
		err := commands[args[0]](context.Background(), args[1:], io.Discard, io.Discard, connect, "")
		assert.ErrorContains(t, err, want, strings.Join(args, " "))
	}
}

func TestHelpOfRecoveryCommands(t *testing.T) {
	var out, help bytes.Buffer
	require.ErrorIs(t, run(context.Background(), []string{"--help"}, &out, &help), flag.ErrHelp)
	for _, want := range []string{"failover NS/REPLICATION [--source-unreachable] [--from-restore-points]", "[--replicas KIND/NAME=N]...",
		"failback NS/REPLICATION [--ready-timeout D] [--id ID] [--no-follow]", "drill NS/REPLICATION [--namespace NS]", "failover/NS/REPLICATION/ID"} {
		assert.Contains(t, help.String(), want)
	}
	for command, flags := range map[string][]string{
		"failover": {"-source-unreachable", "-from-restore-points", "-replicas KIND/NAME=N", "-ready-timeout duration", "-id string", "-no-follow", "(default 10m0s)"},
		"failback": {"-ready-timeout duration", "-id string", "-no-follow"},
		"drill": {"-namespace string", "-check-selector string", "-check-container string", "-check-command CMD", "-check-timeout duration",
			"-keep", "-ready-timeout duration", "-id string", "-no-follow", "sh -c"},
	} {
		help.Reset()
		require.ErrorIs(t, run(context.Background(), []string{command, "--help"}, &out, &help), flag.ErrHelp, command)
		assert.Contains(t, help.String(), "usage: drsyncer "+command+" NAMESPACE/REPLICATION")
		for _, f := range flags {
			assert.Contains(t, help.String(), f, command)
		}
		assert.Equal(t, len(flags)-map[string]int{"failover": 1, "failback": 0, "drill": 1}[command],
			strings.Count(help.String(), "\n  -"), "%s lists exactly its flags", command)
	}
	assert.Empty(t, out.String())
}

func checkOutput(c *contract.DrillCheck) string {
	if c == nil {
		return ""
	}
	return strings.Join(c.Command, " ") + "\n"
}

// The recovery commands against a dev server whose worker runs stand-ins of
// the three workflows: what the CLI sends, and how it shows the steps and
// the results.
func TestRecoveryCommandsAgainstDevServer(t *testing.T) {
	tp := testenv.StartTemporal(t)
	asOf := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	steps := func(ctx workflow.Context, names ...string) []contract.Step {
		var done []contract.Step
		_ = workflow.SetQueryHandler(ctx, contract.StepsQuery, func() (contract.OperationProgress, error) {
			return contract.OperationProgress{Steps: done}, nil
		})
		for _, n := range names {
			done = append(done, contract.Step{Name: n, State: contract.StepDone, Detail: "did " + n, Started: workflow.Now(ctx), Ended: workflow.Now(ctx)})
		}
		return done
	}
	w := worker.New(tp.Client, tp.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in contract.FailoverInput) (contract.FailoverResult, error) {
		mode := contract.FailoverPlanned
		if in.SourceUnreachable {
			mode = contract.FailoverUnplanned
		}
		return contract.FailoverResult{Mode: mode, Steps: steps(ctx, contract.StepScaleUpDR, contract.StepWaitReady),
			RTO: 42 * time.Second, DataAge: 190 * time.Second, DataAsOf: asOf, Restored: []string{"data"}}, nil
	}, workflow.RegisterOptions{Name: contract.FailoverName})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in contract.FailbackInput) (contract.FailbackResult, error) {
		steps(ctx, contract.StepReplicateBack)
		return contract.FailbackResult{}, temporal.NewNonRetryableApplicationError("ops/shop is not failed over: the source runs the workloads", contract.ErrTypeNotFailedOver, nil)
	}, workflow.RegisterOptions{Name: contract.FailbackName})
	w.RegisterWorkflowWithOptions(func(ctx workflow.Context, in contract.DrillInput) (contract.DrillResult, error) {
		return contract.DrillResult{Namespace: "shop-dr-drill-1", Steps: steps(ctx, contract.StepCheck), PVCs: map[string]string{"data": "data-rp-1"},
			CheckOutput: checkOutput(in.Check), RTO: 12 * time.Second, DataAge: time.Minute, DataAsOf: asOf, TornDown: !in.Keep}, nil
	}, workflow.RegisterOptions{Name: contract.DrillName})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli := cliAgainst(ctx, tp)

	out, err := cli("failover", "ops/shop", "--source-unreachable", "--id", "f1")
	require.NoError(t, err, out)
	for _, want := range []string{
		"started failover/ops/shop/f1 (run ",
		"/namespaces/default/workflows/failover%2Fops%2Fshop%2Ff1/",
		`temporal workflow cancel -w "failover/ops/shop/f1"`,
		"✓ ScaleUpDR 0s  did ScaleUpDR\n✓ WaitReady 0s  did WaitReady\n",
		"✓ Failover failover/ops/shop/f1 completed in ",
		"Unplanned failover: RTO 42s (request to every workload Ready in DR); data age 3m10s (the source as of 2026-12-05 10:00:00 UTC)",
		"restored from their latest restore points: data",
		"syncs stay paused until: drsyncer failback ops/shop",
	} {
		assert.Contains(t, out, want)
	}

	out, err = cli("failover", "ops/shop", "--id", "f1")
	require.NoError(t, err, out)
	assert.Contains(t, out, "already started (this ID was used before), attaching to failover/ops/shop/f1", "the same ID attaches")
	assert.Contains(t, out, "RTO 42s")

	out, err = cli("failback", "ops/shop", "--id", "b1")
	require.Error(t, err, "a failed failback exits non-zero")
	assert.Contains(t, out, "✓ ReplicateBack")
	assert.Contains(t, out, "✗ Failback failback/ops/shop/b1 failed after ")
	var runErr *starter.RunError
	require.ErrorAs(t, err, &runErr)
	assert.Equal(t, contract.ErrTypeNotFailedOver, runErr.Type)
	assert.ErrorContains(t, err, "drsyncer describe failback/ops/shop/b1")

	out, err = cli("drill", "ops/shop", "--id", "d1", "--check-selector", "app=db", "--check-command", "pg_isready", "--keep")
	require.NoError(t, err, out)
	for _, want := range []string{
		"drill: RTO 12s (request to every workload Ready in namespace shop-dr-drill-1); data age 1m0s",
		"  PVC data: data-rp-1",
		"check output:\nsh -c pg_isready\n",
		"scratch namespace shop-dr-drill-1 kept: delete it",
	} {
		assert.Contains(t, out, want)
	}

	out, err = cli("drill", "ops/shop", "--id", "d2", "--no-follow")
	require.NoError(t, err, out)
	assert.Contains(t, out, "started drill/ops/shop/d2")
	assert.NotContains(t, out, "following it")
	assert.NotContains(t, out, "RTO")
}
