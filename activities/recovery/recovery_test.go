package recovery_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/dr-syncer/dr-syncer/activities/recovery"
	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resources"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// apiEnv is one real kube-apiserver (envtest). It is the control cluster
// and, as RemoteCluster "dr", the cluster the workloads live in; envtest
// runs no controllers, so the tests write the statuses a kubelet and the
// workload controllers would.
type apiEnv struct {
	c  client.Client
	a  *recovery.RecoveryActivities
	dr contract.ClusterRef
}

// One API server for every test of the package: starting one costs seconds.
func TestAgainstAnAPIServer(t *testing.T) {
	cluster := testenv.StartCluster(t, "dr")
	cluster.RegisterRemoteCluster(t, testenv.ControlNamespace, cluster)
	e := &apiEnv{
		c:  cluster.Client,
		a:  &recovery.RecoveryActivities{Control: cluster.Client, Clusters: kube.NewClusters(cluster.Client, kube.KubeconfigPolicy{})},
		dr: contract.ClusterRef{Namespace: testenv.ControlNamespace, Name: "dr"},
	}
	t.Run("source workloads are stopped, recorded once, and restored", e.testSourceWorkloads)
	t.Run("DR copies scale up with overrides and down again", e.testCopies)
	t.Run("wait for workloads", e.testWait)
	t.Run("scratch namespaces are only ever the drill's own", e.testScratchNamespace)
	t.Run("status records only its own field", e.testRecordStatus)
	t.Run("locate a recovery", e.testLocate)
	t.Run("probe a cluster", e.testProbe)
}

func (e *apiEnv) testSourceWorkloads(t *testing.T) {
	ns := "shop"
	testenv.EnsureNamespace(t, e.c, ns)
	create(t, e.c,
		deployment(ns, "web", ptr(int32(3)), nil),
		deployment(ns, "api", nil, nil), // the API server defaults it to 1
		statefulSet(ns, "db", ptr(int32(2)), nil),
		cronJob(ns, "report", false, nil),
		cronJob(ns, "off", true, nil))
	in := contract.WorkloadsInput{Cluster: e.dr, Namespace: ns, Operation: "failover/dr-syncer-system/shop/1"}
	rec := drv1.AnnotationFailoverReplicas
	stopped := []contract.WorkloadChange{
		{Kind: "Deployment", Name: "api", From: 1},
		{Kind: "Deployment", Name: "web", From: 3},
		{Kind: "StatefulSet", Name: "db", From: 2},
		{Kind: "CronJob", Name: "off", Suspended: ptr(true)},
		{Kind: "CronJob", Name: "report", Suspended: ptr(true)},
	}

	var res contract.WorkloadsResult
	require.NoError(t, run(t, e.a, e.a.ScaleDownSource, in, &res))
	assert.Equal(t, stopped, res.Workloads)
	web := &appsv1.Deployment{ObjectMeta: meta(ns, "web", nil)}
	get(t, e.c, web)
	assert.Equal(t, int32(0), *web.Spec.Replicas)
	assert.Equal(t, "3", web.Annotations[rec])
	report := &batchv1.CronJob{ObjectMeta: meta(ns, "report", nil)}
	get(t, e.c, report)
	assert.True(t, *report.Spec.Suspend)
	assert.Equal(t, "suspend=false", report.Annotations[rec])

	// A retried attempt: the recorded values are the ones from before the
	// failover, not the zeros it finds, and nothing is written again.
	version := web.ResourceVersion
	require.NoError(t, run(t, e.a, e.a.ScaleDownSource, in, &res))
	assert.Equal(t, stopped, res.Workloads, "the recorded values, again")
	get(t, e.c, web)
	assert.Equal(t, version, web.ResourceVersion, "nothing written twice")
	assert.Equal(t, "3", web.Annotations[rec])

	// Someone scaled it up again by hand meanwhile: the recorded value stays.
	web.Spec.Replicas = ptr(int32(7))
	require.NoError(t, e.c.Update(context.Background(), web))
	require.NoError(t, run(t, e.a, e.a.ScaleDownSource, in, &res))
	get(t, e.c, web)
	assert.Equal(t, int32(0), *web.Spec.Replicas)
	assert.Equal(t, "3", web.Annotations[rec])

	create(t, e.c, deployment(ns, "later", ptr(int32(4)), nil)) // made after the failover: not restore's
	require.NoError(t, run(t, e.a, e.a.RestoreSource, in, &res))
	assert.Equal(t, []contract.WorkloadChange{
		{Kind: "Deployment", Name: "api", To: 1},
		{Kind: "Deployment", Name: "web", To: 3},
		{Kind: "StatefulSet", Name: "db", To: 2},
		{Kind: "CronJob", Name: "off", Suspended: ptr(true)},
		{Kind: "CronJob", Name: "report", Suspended: ptr(false)},
	}, res.Workloads)
	get(t, e.c, web)
	assert.Equal(t, int32(3), *web.Spec.Replicas)
	assert.NotContains(t, web.Annotations, rec)
	get(t, e.c, report)
	assert.False(t, *report.Spec.Suspend)
	assert.NotContains(t, report.Annotations, rec)
	off := &batchv1.CronJob{ObjectMeta: meta(ns, "off", nil)}
	get(t, e.c, off)
	assert.True(t, *off.Spec.Suspend, "it was suspended before the failover")
	later := &appsv1.Deployment{ObjectMeta: meta(ns, "later", nil)}
	get(t, e.c, later)
	assert.Equal(t, int32(4), *later.Spec.Replicas)

	require.NoError(t, run(t, e.a, e.a.RestoreSource, in, &res))
	assert.Empty(t, res.Workloads, "restored already: nothing left to restore")
}

func (e *apiEnv) testCopies(t *testing.T) {
	ns := "shop-dr"
	testenv.EnsureNamespace(t, e.c, ns)
	orig := func(n string) map[string]string { return map[string]string{drv1.AnnotationOriginalReplicas: n} }
	create(t, e.c,
		deployment(ns, "web", ptr(int32(0)), orig("3")),
		deployment(ns, "api", ptr(int32(0)), orig("2")),
		statefulSet(ns, "db", ptr(int32(0)), orig("1")),
		deployment(ns, "kept", ptr(int32(2)), map[string]string{drv1.AnnotationScaleOverride: "true"}),
		cronJob(ns, "report", true, map[string]string{resources.AnnotationOriginalSuspend: "false"}))
	in := contract.WorkloadsInput{Cluster: e.dr, Namespace: ns, Operation: "failover/dr-syncer-system/shop/1",
		Replicas: map[string]int32{"Deployment/api": 5, "Deployment/ghost": 1}}

	var res contract.WorkloadsResult
	require.NoError(t, run(t, e.a, e.a.ScaleUpCopies, in, &res))
	assert.Equal(t, []contract.WorkloadChange{
		{Kind: "Deployment", Name: "api", To: 5},
		{Kind: "Deployment", Name: "web", To: 3},
		{Kind: "StatefulSet", Name: "db", To: 1},
		{Kind: "CronJob", Name: "report", Suspended: ptr(false)},
	}, res.Workloads, "kept runs already, and no ghost exists")
	api := &appsv1.Deployment{ObjectMeta: meta(ns, "api", nil)}
	get(t, e.c, api)
	assert.Equal(t, int32(5), *api.Spec.Replicas, "the override")
	assert.Equal(t, "2", api.Annotations[drv1.AnnotationOriginalReplicas], "kept for the next sync")
	report := &batchv1.CronJob{ObjectMeta: meta(ns, "report", nil)}
	get(t, e.c, report)
	assert.False(t, *report.Spec.Suspend)
	assert.Equal(t, "false", report.Annotations[resources.AnnotationOriginalSuspend])

	require.NoError(t, run(t, e.a, e.a.ScaleDownCopies, in, &res))
	assert.Equal(t, []contract.WorkloadChange{
		{Kind: "Deployment", Name: "api", From: 5},
		{Kind: "Deployment", Name: "web", From: 3},
		{Kind: "StatefulSet", Name: "db", From: 1},
		{Kind: "CronJob", Name: "report", Suspended: ptr(true)},
	}, res.Workloads)
	get(t, e.c, api)
	assert.Equal(t, int32(0), *api.Spec.Replicas)
	get(t, e.c, report)
	assert.True(t, *report.Spec.Suspend)
	kept := &appsv1.Deployment{ObjectMeta: meta(ns, "kept", nil)}
	get(t, e.c, kept)
	assert.Equal(t, int32(2), *kept.Spec.Replicas, "a scale-override copy is not dr-syncer's to scale")
}

func (e *apiEnv) testWait(t *testing.T) {
	ns := "shop-wait"
	testenv.EnsureNamespace(t, e.c, ns)
	create(t, e.c, deployment(ns, "web", ptr(int32(2)), nil), statefulSet(ns, "db", ptr(int32(0)), nil))
	web := &appsv1.Deployment{ObjectMeta: meta(ns, "web", nil)}
	db := &appsv1.StatefulSet{ObjectMeta: meta(ns, "db", nil)}
	get(t, e.c, web)
	get(t, e.c, db)
	// db still has a pod from before it was scaled to zero.
	db.Status = appsv1.StatefulSetStatus{ObservedGeneration: db.Generation, Replicas: 1, ReadyReplicas: 1}
	require.NoError(t, e.c.Status().Update(context.Background(), db))
	in := contract.WaitReadyInput{Cluster: e.dr, Namespace: ns, Workloads: []contract.WorkloadChange{
		{Kind: "Deployment", Name: "web", To: 2}, {Kind: "StatefulSet", Name: "db"},
		{Kind: "CronJob", Name: "report", Suspended: ptr(false)}, // nothing to wait for
	}}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	r := &runner{t: t, a: e.a, ctx: ctx}
	err := r.run(e.a.WaitWorkloads, in, nil)
	// What the workflow sees when its StartToClose ends the wait: a
	// timeout, whose last heartbeat says what is not ready and why.
	var timeout *temporal.TimeoutError
	require.ErrorAs(t, err, &timeout, "nothing is ready")
	assert.Equal(t, enumspb.TIMEOUT_TYPE_START_TO_CLOSE, timeout.TimeoutType())
	require.NotEmpty(t, r.heartbeats)
	var last contract.ReadyProgress
	require.NoError(t, r.heartbeats[len(r.heartbeats)-1].Get(&last))
	assert.Equal(t, contract.ReadyProgress{Total: 2, NotReady: []string{
		"Deployment/web: controller has not seen generation 1 yet (observed 0)", "StatefulSet/db: 1 pods still running"}}, last)

	done := make(chan error, 1)
	go func() { done <- run(t, e.a, e.a.WaitWorkloads, in, nil) }()
	web.Status = appsv1.DeploymentStatus{ObservedGeneration: web.Generation, Replicas: 2, ReadyReplicas: 1, UpdatedReplicas: 2}
	require.NoError(t, e.c.Status().Update(context.Background(), web))
	db.Status = appsv1.StatefulSetStatus{ObservedGeneration: db.Generation}
	require.NoError(t, e.c.Status().Update(context.Background(), db))
	select {
	case err := <-done:
		t.Fatalf("returned with web 1 of 2 ready: %v", err)
	case <-time.After(2 * recovery.ReadyPollInterval):
	}
	web.Status.ReadyReplicas = 2
	require.NoError(t, e.c.Status().Update(context.Background(), web))
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("WaitWorkloads did not return once every workload was ready")
	}
}
