package objects

import (
	"context"
	"testing"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	dynfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
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

// fakeCluster is a dynamic client holding objs (unstructured fixtures).
func fakeCluster(t *testing.T, objs ...runtime.Object) *dynfake.FakeDynamicClient {
	t.Helper()
	scheme := kube.NewScheme()
	// Typed fixtures, as the fake's tracker stores what a scheme knows.
	typed := make([]runtime.Object, len(objs))
	for i, o := range objs {
		u := o.(*unstructured.Unstructured)
		obj, err := scheme.New(u.GroupVersionKind())
		require.NoError(t, err)
		require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj))
		typed[i] = obj
	}
	c := dynfake.NewSimpleDynamicClient(scheme, typed...)
	// The fake cannot apply; a replace stands in for the server's merge.
	c.PrependReactor("patch", "*", func(action k8stesting.Action) (bool, runtime.Object, error) {
		pa := action.(k8stesting.PatchAction)
		if pa.GetPatchType() != types.ApplyPatchType {
			return false, nil, nil
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(pa.GetPatch()); err != nil {
			return true, nil, err
		}
		err := c.Tracker().Update(pa.GetResource(), u, pa.GetNamespace())
		if apierrors.IsNotFound(err) {
			err = c.Tracker().Create(pa.GetResource(), u, pa.GetNamespace())
		}
		return true, u, err
	})
	return c
}

// failingBack is shopRef's status while its failback runs.
func failingBack(r *drv1.Replication) {
	r.Status.Failover = &drv1.FailoverStatus{ActiveSide: contract.SideDestination, State: contract.StateFailingBack,
		WorkflowID: "failback/dr-syncer-system/shop/fb-1"}
}

// shopRef is the Replication of the fixtures: namespace shop of
// RemoteCluster prod into shop-dr of RemoteCluster dr.
var shopRef = contract.ObjectRef{Namespace: "dr-syncer-system", Name: "shop"}

// shopControl is a control cluster holding shopRef, edited by edit when
// not nil, and its RemoteClusters (dr runs the agent, so
// failbacks and drills that copy data resolve).
func shopControl(t *testing.T, edit func(*drv1.Replication)) client.Reader {
	t.Helper()
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: shopRef.Namespace, Name: name}
	}
	repl := &drv1.Replication{ObjectMeta: meta(shopRef.Name), Spec: drv1.ReplicationSpec{SourceCluster: "prod", DestinationCluster: "dr",
		SourceNamespace: "shop", DestinationNamespace: "shop-dr"}}
	if edit != nil {
		edit(repl)
	}
	return fake.NewClientBuilder().WithScheme(kube.NewScheme()).WithObjects(
		&drv1.RemoteCluster{ObjectMeta: meta("prod")},
		&drv1.RemoteCluster{ObjectMeta: meta("dr"), Spec: drv1.RemoteClusterSpec{PVCSync: &drv1.PVCSyncSpec{Enabled: true}}},
		&drv1.RemoteCluster{ObjectMeta: meta("other")},
		repl,
	).Build()
}
