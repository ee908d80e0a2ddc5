package integration

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrlclient "sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resources"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// resourceSuite runs ReplicateResources on a real Temporal dev server and a
// real worker between the real source and DR API servers.
type resourceSuite struct {
	env  *testenv.Env
	runs atomic.Int64
}

func newResourceSuite(t *testing.T) *resourceSuite {
	env := testenv.Start(t)
	env.StartWorker(t)
	return &resourceSuite{env: env}
}

// plan creates (or updates) a Replication "<dst>" in the control namespace
// from source namespace src to dst, and returns its resolved plan.
func (s *resourceSuite) plan(t *testing.T, src, dst string, edit func(*drv1.ReplicationSpec)) contract.ReplicationPlan {
	return testenv.ReplicationPlan(t, s.env.DR.Client, dst, replicationSpec(src, dst, edit), nil)
}

// replicationSpec is the spec of a Replication from source namespace src
// to dst, edited by edit when not nil.
func replicationSpec(src, dst string, edit func(*drv1.ReplicationSpec)) drv1.ReplicationSpec {
	spec := drv1.ReplicationSpec{SourceCluster: "source", DestinationCluster: "dr", ReplicationMode: drv1.ModeManual,
		SourceNamespace: src, DestinationNamespace: dst, ResourceTypes: []string{"*"},
		RetryConfig: &drv1.RetryConfig{InitialBackoff: "1s", MaxBackoff: "2s"}}
	if edit != nil {
		edit(&spec)
	}
	return spec
}

// sync runs one ReplicateResources workflow to its end.
func (s *resourceSuite) sync(t *testing.T, plan contract.ReplicationPlan) (contract.ResourcesResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	id := fmt.Sprintf("resources/%s/%d", plan.Replication.Name, s.runs.Add(1))
	run, err := s.env.Temporal.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: s.env.Temporal.TaskQueue},
		contract.ReplicateResourcesName, plan)
	require.NoError(t, err)
	var res contract.ResourcesResult
	err = run.Get(ctx, &res)
	return res, err
}

// mustSync runs a sync that must succeed without failed objects.
func (s *resourceSuite) mustSync(t *testing.T, plan contract.ReplicationPlan) contract.ResourcesResult {
	t.Helper()
	res, err := s.sync(t, plan)
	require.NoError(t, err)
	for _, r := range res.Resources {
		assert.NotEqual(t, contract.StateFailed, r.State, "%s %s: %s", r.Kind, r.Name, r.Error)
	}
	return res
}

// resCreate makes objects from YAML manifests in namespace ns (created first).
func resCreate(t *testing.T, c *testenv.Cluster, ns string, manifests ...string) {
	t.Helper()
	if ns != "" {
		testenv.EnsureNamespace(t, c.Client, ns)
	}
	for _, m := range manifests {
		obj := parse(t, m)
		if obj.GetNamespace() == "" && ns != "" {
			obj.SetNamespace(ns)
		}
		require.NoError(t, c.Client.Create(context.Background(), obj), "create %s %s", obj.GetKind(), obj.GetName())
	}
}

func resGet(t *testing.T, c *testenv.Cluster, apiVersion, kind, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := resTryGet(c, apiVersion, kind, ns, name)
	require.NoError(t, err, "get %s %s/%s from %s", kind, ns, name, c.Name)
	return u
}

func resTryGet(c *testenv.Cluster, apiVersion, kind, ns, name string) (*unstructured.Unstructured, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, kind))
	err := c.Client.Get(context.Background(), ctrlclient.ObjectKey{Namespace: ns, Name: name}, u)
	return u, err
}

func resGone(t *testing.T, c *testenv.Cluster, apiVersion, kind, ns, name string) bool {
	t.Helper()
	_, err := resTryGet(c, apiVersion, kind, ns, name)
	if err != nil && !apierrors.IsNotFound(err) {
		require.NoError(t, err)
	}
	return apierrors.IsNotFound(err)
}

func resRemove(t *testing.T, c *testenv.Cluster, apiVersion, kind, ns, name string) {
	t.Helper()
	require.NoError(t, c.Client.Delete(context.Background(), resGet(t, c, apiVersion, kind, ns, name)))
}

// resPath is a field resPath whose keys may contain dots.
type resPath []string

// resComparable is an object without what must differ between a source object
// and its DR copy: server-set metadata, the namespace, status, dr-syncer's
// own label and annotations, and the fields in ignore.
func resComparable(u *unstructured.Unstructured, ignore []resPath) map[string]any {
	c := u.DeepCopy().Object
	delete(c, "status")
	md, _ := c["metadata"].(map[string]any)
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "managedFields", "generation", "namespace", "selfLink"} {
		delete(md, f)
	}
	if labels, ok := md["labels"].(map[string]any); ok {
		delete(labels, resources.LabelManagedBy)
		if len(labels) == 0 {
			delete(md, "labels")
		}
	}
	if annotations, ok := md["annotations"].(map[string]any); ok {
		for k := range annotations {
			if strings.HasPrefix(k, "dr-syncer.io/") {
				delete(annotations, k)
			}
		}
		if len(annotations) == 0 {
			delete(md, "annotations")
		}
	}
	for _, p := range ignore {
		unstructured.RemoveNestedField(c, p...)
	}
	return c
}

// resAssertReplica compares a source object and its DR copy field by field,
// ignoring only what must differ, and checks the DR copy says where it came from.
func resAssertReplica(t *testing.T, plan contract.ReplicationPlan, src, dr *unstructured.Unstructured, ignore ...resPath) {
	t.Helper()
	assert.Equal(t, resComparable(src, ignore), resComparable(dr, ignore), "%s %s: DR copy differs from the source", src.GetKind(), src.GetName())
	assert.Equal(t, resources.ManagedByValue, dr.GetLabels()[resources.LabelManagedBy])
	want := "source/" + plan.SourceNamespace + "/" + src.GetName()
	if src.GetNamespace() == "" {
		want = "source/" + src.GetName()
	}
	assert.Equal(t, want, dr.GetAnnotations()[resources.AnnotationSource])
	assert.Equal(t, plan.Replication.String(), dr.GetAnnotations()[resources.AnnotationReplication])
	if dr.GetNamespace() != "" {
		assert.Equal(t, plan.DestinationNamespace, dr.GetNamespace())
	}
}

// resStatus finds the result's resStatus of one object.
func resStatus(t *testing.T, res contract.ResourcesResult, kind, name string) contract.ObjectStatus {
	t.Helper()
	for _, r := range res.Resources {
		if r.Kind == kind && r.Name == name {
			return r
		}
	}
	t.Fatalf("no resStatus for %s %s in %+v", kind, name, res.Resources)
	return contract.ObjectStatus{}
}
