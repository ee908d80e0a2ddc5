package integration

import (
	"context"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/controller"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// A Continuous Replication is one long-running workflow; a change in the
// source namespace reaches DR within seconds through the controller's watch.
func TestControllerContinuousReactsToSourceChanges(t *testing.T) {
	c := startContinuous(t, "live")
	ctx := context.Background()
	got := ctlGet(t, c.env, c.repl)
	assert.Contains(t, got.Status.LastRun.WorkflowID, "replication/dr-syncer-system/live/continuous-")
	require.NotNil(t, got.Status.NextSyncTime, "the background interval's next sync")
	// Watching is Running, between syncs too; the sync's result is in Synced.
	assert.Equal(t, drv1.PhaseRunning, got.Status.Phase)
	assert.Equal(t, metav1.ConditionTrue, ctlSynced(got).Status)
	first := got.Status.LastRun.WorkflowID

	// One hour until the next background sync: only the watch can bring this.
	changedAt := time.Now()
	create(t, c.env.Source.Client, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "live", Name: "second"}, Data: map[string]string{"v": "2"}})
	require.Eventually(t, c.inDR("second", "2"), 30*time.Second, 200*time.Millisecond, "a source change must reach DR within seconds")
	t.Logf("source change reached DR in %s", time.Since(changedAt).Round(100*time.Millisecond))
	got = ctlWaitStatus(t, c.env, c.repl, "the change's sync recorded", func(r *drv1.Replication) bool {
		return r.Status.LastRun != nil && r.Status.LastRun.WorkflowID != first && r.Status.CurrentRun == nil
	})
	assert.Equal(t, drv1.PhaseRunning, got.Status.Phase, "a Continuous Replication stays Running after each sync")
	assert.Equal(t, "Completed", got.Status.LastRun.Result)

	id := contract.ContinuousReplicationWorkflowID(c.repl.Namespace, c.repl.Name)
	d, err := c.env.Temporal.Client.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	assert.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, d.GetWorkflowExecutionInfo().GetStatus(), "one long-running workflow")

	// Deleting the Replication stops the workflow and leaves DR alone.
	require.NoError(t, c.env.DR.Client.Delete(ctx, c.repl))
	require.Eventually(t, func() bool {
		d, err := c.env.Temporal.Client.DescribeWorkflowExecution(ctx, id, "")
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CANCELED
	}, 30*time.Second, 200*time.Millisecond)
	assert.True(t, c.inDR("second", "2")(), "nothing in DR is deleted with the Replication")
}

// What a sync itself does in the source namespace (its credential Secrets
// and mount pods come and go) and status-only updates are not changes: they
// start no sync. A user's ConfigMap edit still does.
func TestControllerContinuousIgnoresOwnObjectsAndStatus(t *testing.T) {
	ns := "quiet"
	claim := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "data"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: *kubeQuantity("1Gi")}},
	}}
	labels := map[string]string{"app": "db"}
	deployment := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"}, Spec: appsv1.DeploymentSpec{
		Replicas: ptr(int32(1)), Selector: &metav1.LabelSelector{MatchLabels: labels},
		Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "db:1"}}}},
	}}
	c := startContinuous(t, ns, claim, deployment)
	ctx := context.Background()
	src := c.env.Source.Client

	// A PVC sync's objects in the source namespace, as activities label them.
	own := kube.OperationLabels("pvc-sync/source/quiet/data", "run-1", "credentials")
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "drs-creds", Labels: own}, Data: map[string][]byte{"key": []byte("k1")}}
	create(t, src, secret)
	create(t, src, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "drs-mount", Labels: kube.OperationLabels("pvc-sync/source/quiet/data", "run-1", "mount")},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "mount", Image: "dr-syncer/dataplane:dev"}}}})
	secret.Data["key"] = []byte("k2")
	require.NoError(t, src.Update(ctx, secret))
	require.NoError(t, src.Delete(ctx, secret))
	// Status moves as controllers report on the user's objects.
	claim.Status.Phase = corev1.ClaimBound
	require.NoError(t, src.Status().Update(ctx, claim))
	deployment.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, UpdatedReplicas: 1}
	require.NoError(t, src.Status().Update(ctx, deployment))

	// A change would be signalled within a second and synced 3s later.
	assert.Never(t, func() bool {
		runs, err := c.syncs()
		return err != nil || len(runs) > 1
	}, 8*time.Second, 200*time.Millisecond, "a sync started for dr-syncer's own objects or a status update")

	var first corev1.ConfigMap
	require.NoError(t, src.Get(ctx, client.ObjectKey{Namespace: ns, Name: "first"}, &first))
	first.Data["v"] = "2"
	require.NoError(t, src.Update(ctx, &first))
	require.Eventually(t, c.inDR("first", "2"), 30*time.Second, 200*time.Millisecond, "a user's edit must reach DR within seconds")
	runs, err := c.syncs()
	require.NoError(t, err)
	require.Len(t, runs, 2, "one sync for the edit")
	assert.Equal(t, "ConfigMap/first", runs[1].Trigger)
}

type continuousEnv struct {
	env  *testenv.Env
	repl *drv1.Replication
}

// startContinuous runs the controller with its source watch and a worker,
// creates ConfigMap "first" and seed in namespace ns, then a Continuous
// Replication of ns (ConfigMaps, an hour's interval), and waits for its
// first sync.
func startContinuous(t *testing.T, ns string, seed ...client.Object) *continuousEnv {
	t.Helper()
	env := testenv.Start(t)
	env.StartWorker(t)
	s := ctlStarter(env)
	watches := &controller.SourceWatches{Signal: s.SignalChange, Log: logr.Discard()}
	ctlRunController(t, env, func(r *controller.ReplicationReconciler) { r.Watches = watches })
	testenv.EnsureNamespace(t, env.Source.Client, ns)
	create(t, env.Source.Client, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "first"}, Data: map[string]string{"v": "1"}})
	for _, obj := range seed {
		create(t, env.Source.Client, obj)
	}
	c := &continuousEnv{env: env, repl: ctlReplication(ns, ns, func(r *drv1.Replication) {
		r.Spec.ReplicationMode = drv1.ModeContinuous
		r.Spec.Continuous = &drv1.ContinuousConfig{BackgroundSyncInterval: "1h"}
		r.Spec.ResourceTypes = []string{"configmaps"}
	})}
	require.NoError(t, env.DR.Client.Create(context.Background(), c.repl))
	// The watch outlives the manager; the source API server stops only
	// once nothing watches it.
	t.Cleanup(func() { watches.Stop(ctlRef(c.repl)) })
	require.Eventually(t, c.inDR("first", "1"), time.Minute, 200*time.Millisecond, "the first continuous sync runs at once")
	ctlWaitStatus(t, env, c.repl, "a completed continuous sync", func(r *drv1.Replication) bool {
		return r.Status.LastRun != nil && r.Status.LastRun.Result == "Completed"
	})
	runs, err := c.syncs()
	require.NoError(t, err)
	require.Len(t, runs, 1)
	return c
}

// inDR says whether DR holds ConfigMap name with v = value.
func (c *continuousEnv) inDR(name, value string) func() bool {
	return func() bool {
		var cm corev1.ConfigMap
		err := c.env.DR.Client.Get(context.Background(), client.ObjectKey{Namespace: c.repl.Spec.SourceNamespace, Name: name}, &cm)
		return err == nil && cm.Data["v"] == value
	}
}

// syncs are the syncs the continuous workflow started (the last few), from
// its own state: visibility lags.
func (c *continuousEnv) syncs() ([]contract.ContinuousRun, error) {
	id := contract.ContinuousReplicationWorkflowID(c.repl.Namespace, c.repl.Name)
	v, err := c.env.Temporal.Client.QueryWorkflow(context.Background(), id, "", contract.ProgressQuery)
	if err != nil {
		return nil, err
	}
	var st contract.ContinuousState
	err = v.Get(&st)
	return st.Recent, err
}
