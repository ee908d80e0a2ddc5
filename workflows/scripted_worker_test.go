package workflows_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/test/testenv"
	"github.com/dr-syncer/dr-syncer/workflows"
)

// startScriptedWorker runs every workflow on the dev server, with script's
// activities under their registered names and any activity structs in
// extra, until the test ends.
func startScriptedWorker(t *testing.T, tp *testenv.Temporal, script map[string]any, extra ...any) {
	t.Helper()
	w := worker.New(tp.Client, tp.TaskQueue, worker.Options{})
	workflows.RegisterAll(w)
	for _, a := range extra {
		w.RegisterActivity(a)
	}
	for name, fn := range script {
		w.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
}

// syncAtOnce makes the script's run sync pvcs, concurrent of them at a
// time, with no cluster-wide permit to wait for.
func syncAtOnce(script map[string]any, concurrent int32, pvcs ...string) {
	resolvePlan := script["ResolveReplication"].(func(context.Context, contract.PlanRequest) (contract.ReplicationPlan, error))
	script["ResolveReplication"] = func(ctx context.Context, req contract.PlanRequest) (contract.ReplicationPlan, error) {
		plan, err := resolvePlan(ctx, req)
		plan.Spec.PVCConfig.DataSyncConfig.ConcurrentSyncs = concurrent
		plan.DataPlane.GlobalConcurrencyLimit = 0
		return plan, err
	}
	script["ListPVCs"] = func(context.Context, contract.ListPVCsInput) (contract.PVCList, error) {
		return contract.PVCList{Names: pvcs}, nil
	}
}

// startRun starts a Replication run of dr-syncer-system/shop, by trigger,
// on the dev server.
func startRun(ctx context.Context, t *testing.T, tp *testenv.Temporal, trigger string) client.WorkflowRun {
	t.Helper()
	ref := contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"}
	run, err := tp.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: contract.ReplicationWorkflowID(ref.Namespace, ref.Name, trigger), TaskQueue: tp.TaskQueue},
		contract.ReplicationName, contract.ReplicationInput{Replication: ref, Trigger: trigger})
	require.NoError(t, err)
	return run
}
