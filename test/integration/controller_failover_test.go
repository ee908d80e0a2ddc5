package integration

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/starter"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// ctlFailoverPausesSyncs runs while no worker runs: the failover the
// annotation starts stays open, and the test plays its activities' part by
// merge-patching status.failover, as they do.
func ctlFailoverPausesSyncs(t *testing.T, env *testenv.Env) {
	ctx := context.Background()
	s := ctlStarter(env)
	repl := ctlReplication("moving", "moving", func(r *drv1.Replication) {
		r.Spec.ReplicationMode, r.Spec.Schedule = drv1.ModeScheduled, "0 4 1 1 *"
	})
	require.NoError(t, env.DR.Client.Create(ctx, repl))
	ctlWaitStatus(t, env, repl, "a next sync time", func(r *drv1.Replication) bool { return r.Status.NextSyncTime != nil })

	ctlAnnotate(t, env, repl, drv1.AnnotationFailover, "f 1")
	got := ctlWaitStatus(t, env, repl, "the failover request handled", func(r *drv1.Replication) bool {
		return r.Status.RequestsHandled[drv1.AnnotationFailover] == "f 1"
	})
	wid := contract.FailoverWorkflowID(repl.Namespace, repl.Name, starter.SanitizeTrigger("f 1"))
	run, err := s.WorkflowState(ctx, wid, "", nil)
	require.NoError(t, err, "the annotation started %s", wid)
	assert.True(t, run.Running())
	t.Cleanup(func() { _ = env.Temporal.Client.TerminateWorkflow(context.Background(), wid, "", "test over") })
	ctlWaitEvents(t, env, repl, controller.EventFailoverStarted)

	patch := client.MergeFrom(got.DeepCopy())
	got.Status.Failover = &drv1.FailoverStatus{ActiveSide: contract.SideDestination, State: contract.StateFailedOver, WorkflowID: wid, Mode: contract.FailoverPlanned}
	require.NoError(t, env.DR.Client.Status().Patch(ctx, got, patch))
	got = ctlWaitStatus(t, env, repl, "FailedOver", func(r *drv1.Replication) bool { return r.Status.Phase == drv1.PhaseFailedOver })
	c := ctlSynced(got)
	assert.Equal(t, metav1.ConditionFalse, c.Status)
	assert.Equal(t, controller.ReasonFailedOver, c.Reason)
	assert.Equal(t, "failed over to dr/moving by "+wid+": syncs are paused until failback (drsyncer failback dr-syncer-system/moving, or annotate dr-syncer.io/failback)", c.Message)
	assert.Nil(t, got.Status.NextSyncTime)
	assert.Equal(t, contract.SideDestination, got.Status.Failover.ActiveSide, "the controller keeps status.failover")
	sched, err := s.DescribeSchedule(ctx, ctlRef(repl))
	require.NoError(t, err)
	assert.True(t, sched.Paused, "syncs pause while failed over")

	// A second failover is refused by the controller; a failback by the
	// starter, since the failover is still open.
	ctlAnnotate(t, env, repl, drv1.AnnotationFailover, "f2")
	require.Eventually(t, func() bool {
		open, err := s.OpenOperations(ctx, ctlRef(repl))
		return err == nil && len(open) == 1
	}, 20*time.Second, 200*time.Millisecond, "visibility never listed the failover")
	ctlAnnotate(t, env, repl, drv1.AnnotationFailback, "b1")
	got = ctlWaitStatus(t, env, repl, "both requests handled", func(r *drv1.Replication) bool {
		return r.Status.RequestsHandled[drv1.AnnotationFailover] == "f2" && r.Status.RequestsHandled[drv1.AnnotationFailback] == "b1"
	})
	ctlWaitEvents(t, env, repl, controller.EventFailoverRefused, controller.EventFailbackRefused)
	assert.Equal(t, drv1.PhaseFailedOver, got.Status.Phase)

	patch = client.MergeFrom(got.DeepCopy())
	got.Status.Failover.State, got.Status.Failover.ActiveSide = contract.StateFailedBack, contract.SideSource
	require.NoError(t, env.DR.Client.Status().Patch(ctx, got, patch))
	got = ctlWaitStatus(t, env, repl, "resumed", func(r *drv1.Replication) bool { return r.Status.NextSyncTime != nil })
	assert.Equal(t, drv1.PhasePending, got.Status.Phase)
	assert.Equal(t, controller.ReasonPending, ctlSynced(got).Reason)
	sched, err = s.DescribeSchedule(ctx, ctlRef(repl))
	require.NoError(t, err)
	assert.False(t, sched.Paused, "syncs resume after failback")
}

// ctlAnnotate sets an annotation, as `kubectl annotate` does.
func ctlAnnotate(t *testing.T, env *testenv.Env, r *drv1.Replication, key, value string) {
	t.Helper()
	got := ctlGet(t, env, r)
	patch := client.MergeFrom(got.DeepCopy())
	if got.Annotations == nil {
		got.Annotations = map[string]string{}
	}
	got.Annotations[key] = value
	require.NoError(t, env.DR.Client.Patch(context.Background(), got, patch))
}
