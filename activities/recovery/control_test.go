package recovery_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

func (e *apiEnv) testScratchNamespace(t *testing.T) {
	drill := "drill/dr-syncer-system/shop/1"
	in := contract.WorkloadsInput{Cluster: e.dr, Namespace: "shop-drill-1", Operation: drill}
	require.NoError(t, run(t, e.a, e.a.CreateScratchNamespace, in, nil))
	require.NoError(t, run(t, e.a, e.a.CreateScratchNamespace, in, nil), "a retry finds its own namespace")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: in.Namespace}}
	get(t, e.c, ns)
	assert.Equal(t, kube.OperationID(drill), ns.Labels[kube.LabelDrill])
	assert.Equal(t, kube.ManagedBy, ns.Labels[kube.LabelManagedBy])

	// A person's namespace, and another drill's, are never taken over or deleted.
	testenv.EnsureNamespace(t, e.c, "prod-like")
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other-drill",
		Labels: map[string]string{kube.LabelDrill: kube.OperationID("drill/dr-syncer-system/shop/0")}}}
	create(t, e.c, other)
	for _, name := range []string{"prod-like", "other-drill"} {
		foreign := contract.WorkloadsInput{Cluster: e.dr, Namespace: name, Operation: drill}
		err := run(t, e.a, e.a.CreateScratchNamespace, foreign, nil)
		assert.Equal(t, contract.ErrTypeConflict, nonRetryable(t, err))
		assert.ErrorContains(t, err, "namespace "+name+" exists and is not this drill's")
		err = run(t, e.a, e.a.DeleteScratchNamespace, foreign, nil)
		assert.Equal(t, contract.ErrTypeConflict, nonRetryable(t, err))
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		get(t, e.c, n)
		assert.Nil(t, n.DeletionTimestamp, "%s untouched", name)
	}

	// envtest runs no namespace controller: stand in for it, finalizing
	// the namespace once it is deleted, while the step waits for that.
	cs, err := kubernetes.NewForConfig(e.restConfig(t))
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- run(t, e.a, e.a.DeleteScratchNamespace, in, nil) }()
	require.Eventually(t, func() bool {
		got, err := cs.CoreV1().Namespaces().Get(context.Background(), in.Namespace, metav1.GetOptions{})
		return err == nil && got.DeletionTimestamp != nil
	}, 20*time.Second, 100*time.Millisecond, "the step deletes the namespace")
	select {
	case err := <-done:
		t.Fatalf("returned while the namespace was still there: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	finalizeNamespace(t, cs, in.Namespace)
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("DeleteScratchNamespace did not return once the namespace was gone")
	}
	require.NoError(t, run(t, e.a, e.a.DeleteScratchNamespace, in, nil), "gone already")
}

// finalizeNamespace does what the namespace controller does once a deleted
// namespace is empty: drop the kubernetes finalizer, and delete it again.
func finalizeNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	ctx := context.Background()
	ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	ns.Spec.Finalizers = nil
	_, err = cs.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{})
	require.NoError(t, err)
	if err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		require.NoError(t, err)
	}
}

// restConfig is the API server's admin config, read back from the
// RemoteCluster's kubeconfig as the activities read it.
func (e *apiEnv) restConfig(t *testing.T) *rest.Config {
	t.Helper()
	cfg, err := kube.NewClusters(e.c, kube.KubeconfigPolicy{}).Config(context.Background(), e.dr.Namespace, e.dr.Name)
	require.NoError(t, err)
	return cfg
}

func replication(name string, spec drv1.ReplicationSpec) *drv1.Replication {
	return &drv1.Replication{ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: name}, Spec: spec}
}

func (e *apiEnv) testRecordStatus(t *testing.T) {
	ctx := context.Background()
	r := replication("recorded", drv1.ReplicationSpec{SourceCluster: "dr", DestinationCluster: "dr", SourceNamespace: "a", DestinationNamespace: "b"})
	create(t, e.c, r)
	synced := metav1.NewTime(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	r.Status = drv1.ReplicationStatus{Phase: drv1.PhaseCompleted, LastSyncTime: &synced,
		Failover: &drv1.FailoverStatus{ActiveSide: "Source", State: "FailoverCanceled", WorkflowID: "failover/x/y/0", Message: "an old message", RTO: "9s"}}
	require.NoError(t, e.c.Status().Update(ctx, r))
	ref := contract.ObjectRef{Namespace: r.Namespace, Name: r.Name}

	started := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	require.NoError(t, run(t, e.a, e.a.RecordFailoverState, contract.FailoverState{Replication: ref, ActiveSide: contract.SideSource,
		State: contract.StateFailingOver, WorkflowID: "failover/x/y/1", Mode: contract.FailoverPlanned, StartedAt: started}, nil))
	get(t, e.c, r)
	utc(r.Status.Failover.StartedAt)
	assert.Equal(t, &drv1.FailoverStatus{ActiveSide: "Source", State: "FailingOver", WorkflowID: "failover/x/y/1", Mode: "Planned",
		StartedAt: &metav1.Time{Time: started}}, r.Status.Failover, "the old message and RTO are gone with the old state")
	assert.Equal(t, drv1.PhaseCompleted, r.Status.Phase, "the controller's fields stay")
	assert.True(t, synced.Equal(r.Status.LastSyncTime))

	require.NoError(t, run(t, e.a, e.a.RecordFailoverState, contract.FailoverState{Replication: ref, ActiveSide: contract.SideDestination,
		State: contract.StateFailedOver, WorkflowID: "failover/x/y/1", Mode: contract.FailoverPlanned, StartedAt: started,
		CompletedAt: started.Add(time.Minute), RTO: 41234 * time.Millisecond, DataAge: 3 * time.Minute}, nil))
	get(t, e.c, r)
	assert.Equal(t, "41.2s", r.Status.Failover.RTO)
	assert.Equal(t, "3m0s", r.Status.Failover.DataAge)
	assert.Equal(t, "Destination", r.Status.Failover.ActiveSide)

	require.NoError(t, run(t, e.a, e.a.RecordDrill, contract.DrillReport{Replication: ref, WorkflowID: "drill/x/y/1", Namespace: "b-drill",
		Result: "Succeeded", CompletedAt: started, RTO: 20 * time.Second}, nil))
	get(t, e.c, r)
	utc(r.Status.LastDrill.CompletedAt)
	assert.Equal(t, &drv1.DrillStatus{WorkflowID: "drill/x/y/1", Namespace: "b-drill", Result: "Succeeded",
		CompletedAt: &metav1.Time{Time: started}, RTO: "20s"}, r.Status.LastDrill)
	assert.Equal(t, "FailedOver", r.Status.Failover.State, "a drill leaves status.failover alone")

	err := run(t, e.a, e.a.RecordDrill, contract.DrillReport{Replication: contract.ObjectRef{Namespace: r.Namespace, Name: "gone"}}, nil)
	assert.Equal(t, contract.ErrTypeInvalidSpec, nonRetryable(t, err))
}

// utc puts a time read back from the API server (decoded as local time)
// in UTC, so it compares equal to the UTC time written.
func utc(t *metav1.Time) {
	if t != nil {
		t.Time = t.UTC()
	}
}

func (e *apiEnv) testLocate(t *testing.T) {
	ctx := context.Background()
	// "prod" is the same API server under another name, and not Ready.
	prod := &drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "prod"},
		Spec: drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Name: "dr-kubeconfig", Key: "kubeconfig"}}}
	create(t, e.c, prod)
	prod.Status.Conditions = []metav1.Condition{{Type: drv1.ConditionReady, Status: metav1.ConditionFalse, Reason: "Unreachable",
		Message: "dial tcp: connection refused", LastTransitionTime: metav1.Now()}}
	require.NoError(t, e.c.Status().Update(ctx, prod))

	r := replication("shop", drv1.ReplicationSpec{SourceCluster: "prod", DestinationCluster: "dr", SourceNamespace: "shop",
		ReplicationMode: drv1.ModeContinuous})
	create(t, e.c, r)
	ended := time.Date(2026, 3, 1, 9, 2, 0, 0, time.UTC)
	r.Status = drv1.ReplicationStatus{LastSyncTime: &metav1.Time{Time: ended}, SyncStats: &drv1.SyncStats{LastSyncDuration: "2m0s"},
		LastRun:  &drv1.WorkflowRef{WorkflowID: "replication/x/shop/continuous-2", Result: "Failed", StartTime: &metav1.Time{Time: ended.Add(time.Hour)}},
		Failover: &drv1.FailoverStatus{ActiveSide: "Destination", State: "FailedOver", WorkflowID: "failover/x/shop/1"}}
	require.NoError(t, e.c.Status().Update(ctx, r))

	ref := contract.ObjectRef{Namespace: r.Namespace, Name: r.Name}
	var target contract.RecoveryTarget
	require.NoError(t, run(t, e.a, e.a.LocateRecovery, ref, &target))
	assert.Equal(t, contract.RecoveryTarget{
		Replication: ref, Source: contract.ClusterRef{Namespace: r.Namespace, Name: "prod"}, Destination: e.dr,
		SourceNamespace: "shop", DestinationNamespace: "shop", Mode: "Continuous", ActiveSide: "Destination",
		SourceProblem: "Unreachable: dial tcp: connection refused",
		DataAsOf:      ended.Add(-2 * time.Minute), LastSyncComplete: false,
	}, target)

	started := ended.Add(10 * time.Minute)
	r.Status.LastRun = &drv1.WorkflowRef{WorkflowID: "replication/x/shop/continuous-3", Result: "Completed", StartTime: &metav1.Time{Time: started}}
	r.Status.Failover = nil
	require.NoError(t, e.c.Status().Update(ctx, r))
	require.NoError(t, run(t, e.a, e.a.LocateRecovery, ref, &target))
	assert.True(t, started.Equal(target.DataAsOf), "the last run's start: %v", target.DataAsOf)
	assert.True(t, target.LastSyncComplete)
	assert.Equal(t, contract.SideSource, target.ActiveSide, "no failover yet")

	r.Status.CurrentRun = &drv1.WorkflowRef{WorkflowID: "replication/x/shop/continuous-4"}
	require.NoError(t, e.c.Status().Update(ctx, r))
	require.NoError(t, run(t, e.a, e.a.LocateRecovery, ref, &target))
	assert.False(t, target.LastSyncComplete, "a sync still running may be writing DR")

	err := run(t, e.a, e.a.LocateRecovery, contract.ObjectRef{Namespace: r.Namespace, Name: "gone"}, nil)
	assert.Equal(t, contract.ErrTypeInvalidSpec, nonRetryable(t, err))
	assert.ErrorContains(t, err, "Replication dr-syncer-system/gone: not found")
}

func (e *apiEnv) testProbe(t *testing.T) {
	require.NoError(t, run(t, e.a, e.a.ProbeCluster, e.dr, nil))

	// A cluster whose API server is gone: nothing listens on port 1.
	dead := []byte(`apiVersion: v1
kind: Config
clusters: [{name: dead, cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}}]
users: [{name: dead, user: {token: x}}]
contexts: [{name: dead, context: {cluster: dead, user: dead}}]
current-context: dead
`)
	create(t, e.c,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "lost-kubeconfig"}, Data: map[string][]byte{"kubeconfig": dead}},
		&drv1.RemoteCluster{ObjectMeta: metav1.ObjectMeta{Namespace: testenv.ControlNamespace, Name: "lost"},
			Spec: drv1.RemoteClusterSpec{KubeconfigSecretRef: drv1.SecretKeyRef{Name: "lost-kubeconfig"}}})
	err := run(t, e.a, e.a.ProbeCluster, contract.ClusterRef{Namespace: testenv.ControlNamespace, Name: "lost"}, nil)
	assert.Equal(t, contract.ErrTypeUnreachable, nonRetryable(t, err))
	assert.ErrorContains(t, err, "RemoteCluster dr-syncer-system/lost is unreachable")
	assert.ErrorContains(t, err, "connection refused")
}
