package objects

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// failback runs ReplicateKind of kind in a reverse plan from DR's objects
// into prod's, and returns its result and prod's client.
func failback(t *testing.T, kind string, syncData bool, dr, prod []runtime.Object) (contract.KindResult, *dynfake.FakeDynamicClient) {
	k, ok := resources.Lookup(kind)
	require.True(t, ok)
	drClient, prodClient := fakeCluster(t, dr...), fakeCluster(t, prod...)
	plan := contract.ReplicationPlan{
		Replication: shopRef,
		Source:      contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}, SourceNamespace: "shop-dr",
		Destination: contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}, DestinationNamespace: "shop",
		Direction: contract.DirectionReverse, AcceptChanges: "failback:fb-1",
		Spec: contract.ReplicationSettings{ScaleToZero: true, PVCConfig: contract.PVCSettings{SyncData: syncData},
			ImmutableResourceConfig: contract.ImmutableSettings{DefaultHandling: string(drv1.ImmutableRecreate)}},
	}
	a := &ResourceActivities{Clusters: noClusters{}, Control: shopControl(t, func(r *drv1.Replication) {
		r.Spec.PVCConfig = &drv1.PVCConfig{SyncData: syncData}
		failingBack(r)
	})}
	a.dynamicClients.Store(clientKey{cluster: plan.Source}, drClient)
	a.dynamicClients.Store(clientKey{cluster: plan.Destination}, prodClient)
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	v, err := env.ExecuteActivity(a.ReplicateKind, contract.ReplicateKindInput{Plan: plan, Kind: k})
	require.NoError(t, err)
	var res contract.KindResult
	require.NoError(t, v.Get(&res))
	return res, prodClient
}

func TestFailbackUpdatesOriginalsAndDeletesNothing(t *testing.T) {
	drCopy := object(t, `
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
  namespace: shop-dr
  labels: {app: shop, dr-syncer.io/managed-by: dr-syncer}
  annotations: {dr-syncer.io/replication: dr-syncer-system/shop, dr-syncer.io/source: prod/shop/app, dr-syncer.io/desired-hash: x}
data: {mode: changed-in-dr}
`)
	original := object(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: app, namespace: shop, labels: {app: shop}}, data: {mode: before-failover}}`)
	onlyInProd := object(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: prod-only, namespace: shop}, data: {k: v}}`)
	res, prod := failback(t, "configmap", true, []runtime.Object{drCopy}, []runtime.Object{original, onlyInProd})

	assert.Empty(t, res.Prune, "nothing in the source is deleted")
	require.Len(t, res.Objects, 1)
	assert.Equal(t, contract.StateSynced, res.Objects[0].State, res.Objects[0].Error)
	assert.Equal(t, string(resources.ActionUpdate), res.Objects[0].Action, "the original is not a copy, and updated all the same")

	cms := prod.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace("shop")
	got, err := cms.Get(context.Background(), "app", metav1.GetOptions{})
	require.NoError(t, err)
	mode, _, _ := unstructured.NestedString(got.Object, "data", "mode")
	assert.Equal(t, "changed-in-dr", mode)
	assert.Equal(t, map[string]string{"app": "shop"}, got.GetLabels(), "not marked as a copy")
	assert.Empty(t, got.GetAnnotations())
	_, err = cms.Get(context.Background(), "prod-only", metav1.GetOptions{})
	assert.NoError(t, err, "kept")
}

func TestFailbackLeavesMissingClaimsToTheDataSync(t *testing.T) {
	drClaim := object(t, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop-dr, labels: {dr-syncer.io/managed-by: dr-syncer}, annotations: {dr-syncer.io/replication: dr-syncer-system/shop}}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
`)
	res, _ := failback(t, "pvc", true, []runtime.Object{drClaim}, nil)
	require.Len(t, res.Objects, 1)
	assert.Equal(t, contract.StateSkipped, res.Objects[0].State)
	assert.Contains(t, res.Objects[0].Error, "the failback's data sync creates it")

	res, _ = failback(t, "pvc", false, []runtime.Object{drClaim}, nil)
	assert.Equal(t, string(resources.ActionCreate), res.Objects[0].Action, "without a data sync, objects make it")
}

// The failback writes the source's Deployment at zero, keeping what the
// failover recorded for the cutover to scale it up from.
func TestFailbackWritesWorkloadsStopped(t *testing.T) {
	drCopy := object(t, `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop-dr
  labels: {dr-syncer.io/managed-by: dr-syncer}
  annotations: {dr-syncer.io/replication: dr-syncer-system/shop, dr-syncer.io/original-replicas: "3"}
spec: {replicas: 3, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: w, image: "nginx:2"}]}}}
`)
	original := object(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, annotations: {dr-syncer.io/failover-replicas: "3"}}
spec: {replicas: 0, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: w, image: "nginx:1"}]}}}
`)
	res, prod := failback(t, "deployment", true, []runtime.Object{drCopy}, []runtime.Object{original})
	require.Len(t, res.Objects, 1)
	assert.Equal(t, contract.StateSynced, res.Objects[0].State, res.Objects[0].Error)
	assert.Empty(t, res.Scales, "nothing runs scaled down in DR because of it")
	got, err := prod.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("shop").
		Get(context.Background(), "web", metav1.GetOptions{})
	require.NoError(t, err)
	replicas, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas")
	assert.Zero(t, replicas)
	assert.Equal(t, map[string]string{drv1.AnnotationFailoverReplicas: "3"}, got.GetAnnotations())
}
