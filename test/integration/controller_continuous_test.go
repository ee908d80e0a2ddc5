package integration

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/test/testenv"
	"github.com/dr-syncer/dr-syncer/workflows"
)

// A Continuous Replication is one long-running workflow; a change in the
// source namespace reaches DR within seconds through the controller's watch.
func TestControllerContinuousReactsToSourceChanges(t *testing.T) {
	env := testenv.Start(t)
	env.StartWorker(t)
	s := ctlStarter(env)
	ctlRunController(t, env, func(r *controller.ReplicationReconciler) {
		r.Watches = &controller.SourceWatches{Signal: s.SignalChange, Log: logr.Discard()}
	})
	ctx := context.Background()
	testenv.EnsureNamespace(t, env.Source.Client, "live")
	create(t, env.Source.Client, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "live", Name: "first"}, Data: map[string]string{"v": "1"}})

	repl := ctlReplication("live", "live", func(r *drv1.Replication) {
		r.Spec.ReplicationMode = drv1.ModeContinuous
		r.Spec.Continuous = &drv1.ContinuousConfig{BackgroundSyncInterval: "1h"}
		r.Spec.ResourceTypes = []string{"configmaps"}
	})
	require.NoError(t, env.DR.Client.Create(ctx, repl))
	inDR := func(name string) func() bool {
		return func() bool {
			var cm corev1.ConfigMap
			return env.DR.Client.Get(ctx, client.ObjectKey{Namespace: "live", Name: name}, &cm) == nil
		}
	}
	require.Eventually(t, inDR("first"), time.Minute, 200*time.Millisecond, "the first continuous sync runs at once")
	got := ctlWaitStatus(t, env, repl, "a completed continuous sync", func(r *drv1.Replication) bool {
		return r.Status.LastRun != nil && r.Status.LastRun.Result == "Completed"
	})
	assert.Contains(t, got.Status.LastRun.WorkflowID, "replication/dr-syncer-system/live/continuous-")
	require.NotNil(t, got.Status.NextSyncTime, "the background interval's next sync")

	// One hour until the next background sync: only the watch can bring this.
	changedAt := time.Now()
	create(t, env.Source.Client, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "live", Name: "second"}, Data: map[string]string{"v": "2"}})
	require.Eventually(t, inDR("second"), 30*time.Second, 200*time.Millisecond, "a source change must reach DR within seconds")
	t.Logf("source change reached DR in %s", time.Since(changedAt).Round(100*time.Millisecond))

	id := workflows.ContinuousReplicationWorkflowID(repl.Namespace, repl.Name)
	d, err := env.Temporal.Client.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, d.GetWorkflowExecutionInfo().GetStatus(), "one long-running workflow")

	// Deleting the Replication stops the workflow and leaves DR alone.
	require.NoError(t, env.DR.Client.Delete(ctx, repl))
	require.Eventually(t, func() bool {
		d, err := env.Temporal.Client.DescribeWorkflowExecution(ctx, id, "")
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
	}, 30*time.Second, 200*time.Millisecond)
	assert.True(t, inDR("second")(), "nothing in DR is deleted with the Replication")
}
