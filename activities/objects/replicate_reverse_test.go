package objects

import (
	"context"
	"testing"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// noClusters hands out empty configs; the dynamic clients a test stores
// under them are what the activities use.
type noClusters struct{}

func (noClusters) Clientset(context.Context, string, string) (kubernetes.Interface, error) {
	return nil, nil
}
func (noClusters) Config(context.Context, string, string) (*rest.Config, error) {
	return &rest.Config{}, nil
}
func (noClusters) Snapshots(context.Context, string, string) (snapclient.Interface, error) {
	return nil, nil
}

func object(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	data, err := yaml.YAMLToJSON([]byte(doc))
	require.NoError(t, err)
	u := &unstructured.Unstructured{}
	require.NoError(t, u.UnmarshalJSON(data))
	return u
}

// failback runs ReplicateKind of kind in a reverse plan from DR's objects
// into prod's, and returns its result and prod's client.
func failback(t *testing.T, kind string, syncData bool, dr, prod []runtime.Object) (contract.KindResult, *dynfake.FakeDynamicClient) {
	k, ok := resources.Lookup(kind)
	require.True(t, ok)
	scheme := kube.NewScheme()
	// Typed fixtures, as the fake's tracker stores what a scheme knows.
	typed := func(objs []runtime.Object) []runtime.Object {
		out := make([]runtime.Object, len(objs))
		for i, o := range objs {
			u := o.(*unstructured.Unstructured)
			obj, err := scheme.New(u.GroupVersionKind())
			require.NoError(t, err)
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj))
			out[i] = obj
		}
		return out
	}
	drClient := dynfake.NewSimpleDynamicClient(scheme, typed(dr)...)
	prodClient := dynfake.NewSimpleDynamicClient(scheme, typed(prod)...)
	// The fake cannot apply; a replace stands in for the server's merge.
	prodClient.PrependReactor("patch", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		pa := action.(k8stesting.PatchAction)
		if pa.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(pa.GetPatch()); err != nil {
			return true, nil, err
		}
		err := prodClient.Tracker().Update(pa.GetResource(), u, pa.GetNamespace())
		if apierrors.IsNotFound(err) {
			err = prodClient.Tracker().Create(pa.GetResource(), u, pa.GetNamespace())
		}
		return true, u, err
	})
	plan := contract.ReplicationPlan{
		Replication: contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"},
		Source:      contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}, SourceNamespace: "shop-dr",
		Destination: contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}, DestinationNamespace: "shop",
		Direction: contract.DirectionReverse, AcceptChanges: "failback:fb-1",
		Spec: contract.ReplicationSettings{ScaleToZero: true, PVCConfig: contract.PVCSettings{SyncData: syncData},
			ImmutableResourceConfig: contract.ImmutableSettings{DefaultHandling: string(drv1.ImmutableRecreate)}},
	}
	a := &ResourceActivities{Clusters: noClusters{}}
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
