package objects

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynfake "k8s.io/client-go/dynamic/fake"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/resolve"
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// objectSteps runs the object steps of shopRef's Replication between fake
// prod and DR clusters, which every forged plan's cluster ref also maps to:
// a refused step must be refused for its plan, not for a missing client.
type objectSteps struct {
	t        *testing.T
	a        *ResourceActivities
	env      *testsuite.TestActivityEnvironment
	prod, dr *dynfake.FakeDynamicClient
}

func newObjectSteps(t *testing.T, control client.Reader, prod, dr []runtime.Object) *objectSteps {
	s := &objectSteps{t: t, a: &ResourceActivities{Clusters: noClusters{}, Control: control},
		prod: fakeCluster(t, prod...), dr: fakeCluster(t, dr...)}
	for _, name := range []string{"prod", "dr", "other"} {
		c := s.dr
		if name == "prod" {
			c = s.prod
		}
		s.a.dynamicClients.Store(clientKey{cluster: contract.ClusterRef{Namespace: shopRef.Namespace, Name: name}}, c)
	}
	var ts testsuite.WorkflowTestSuite
	s.env = ts.NewTestActivityEnvironment()
	s.env.RegisterActivity(s.a)
	return s
}

// plan is what ResolveReplication makes of shopRef in req's direction.
func (s *objectSteps) plan(req contract.PlanRequest) contract.ReplicationPlan {
	req.Replication = shopRef
	res, err := resolve.Replication(context.Background(), s.a.Control, "", shopRef)
	require.NoError(s.t, err)
	plan, err := res.PlanFor(req)
	require.NoError(s.t, err)
	return plan
}

func (s *objectSteps) run(fn, in any) (contract.KindResult, error) {
	var res contract.KindResult
	v, err := s.env.ExecuteActivity(fn, in)
	if err == nil {
		err = v.Get(&res)
	}
	return res, err
}

// untouched asserts no step read or wrote either cluster.
func (s *objectSteps) untouched() {
	s.t.Helper()
	assert.Empty(s.t, s.prod.Actions(), "a refused step does not touch the source")
	assert.Empty(s.t, s.dr.Actions(), "a refused step does not touch DR")
}

func refused(t *testing.T, err error, says ...string) {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(err, &appErr), "got %v", err)
	assert.Equal(t, contract.ErrTypeInputMismatch, appErr.Type())
	assert.True(t, appErr.NonRetryable(), "a forged input never gets better by retrying")
	for _, s := range says {
		assert.Contains(t, appErr.Error(), s)
	}
}

func kindOf(t *testing.T, name string) resources.Kind {
	k, ok := resources.Lookup(name)
	require.True(t, ok)
	return k
}

const sourceConfig = `{apiVersion: v1, kind: ConfigMap, metadata: {name: app, namespace: shop}, data: {k: v}}`

func TestObjectStepsCopyOnlyWhatTheReplicationNames(t *testing.T) {
	pickConfigMaps := func(r *drv1.Replication) { r.Spec.ResourceTypes = []string{"configmaps"} }
	tenantSecret := object(t, `{apiVersion: v1, kind: Secret, metadata: {name: db, namespace: payments}, data: {password: c2VjcmV0}}`)
	cm := kindOf(t, "configmap")

	t.Run("an honest plan copies", func(t *testing.T) {
		s := newObjectSteps(t, shopControl(t, pickConfigMaps), []runtime.Object{object(t, sourceConfig)}, nil)
		res, err := s.run(s.a.ReplicateKind, contract.ReplicateKindInput{Plan: s.plan(contract.PlanRequest{}), Kind: cm})
		require.NoError(t, err)
		require.Len(t, res.Objects, 1)
		assert.Equal(t, contract.StateSynced, res.Objects[0].State, res.Objects[0].Error)
		_, err = s.dr.Resource(configMaps).Namespace("shop-dr").Get(context.Background(), "app", metav1.GetOptions{})
		assert.NoError(t, err, "copied into the DR namespace")
	})

	forged := []struct {
		name string
		edit func(p *contract.ReplicationPlan, k *resources.Kind)
		says string
	}{
		{"another namespace's Secrets read", func(p *contract.ReplicationPlan, k *resources.Kind) { p.SourceNamespace = "payments" },
			"source namespace is payments, the Replication's is shop"},
		{"written into another DR namespace", func(p *contract.ReplicationPlan, k *resources.Kind) { p.DestinationNamespace = "payments" },
			"destination namespace is payments, the Replication's is shop-dr"},
		{"written into another cluster", func(p *contract.ReplicationPlan, k *resources.Kind) { p.Destination.Name = "other" },
			"destination cluster is {Namespace:dr-syncer-system Name:other}, the Replication's is {Namespace:dr-syncer-system Name:dr}"},
		{"read from another cluster", func(p *contract.ReplicationPlan, k *resources.Kind) { p.Source.Name = "other" },
			"source cluster is {Namespace:dr-syncer-system Name:other}"},
		{"a kind the Replication does not select", func(p *contract.ReplicationPlan, k *resources.Kind) { *k = kindOf(t, "secret") },
			"kind Secret (secrets) is not one the Replication's resourceTypes and namespaceScopedResources select"},
		{"a selected kind's resource swapped", func(p *contract.ReplicationPlan, k *resources.Kind) { k.Resource = "secrets"; k.Kind = "ConfigMap" },
			"kind ConfigMap (secrets) is not one"},
		{"a copy the other way round", func(p *contract.ReplicationPlan, k *resources.Kind) {
			p.Source, p.Destination = p.Destination, p.Source
		}, "source cluster is {Namespace:dr-syncer-system Name:dr}, the Replication's is {Namespace:dr-syncer-system Name:prod}"},
	}
	for _, tc := range forged {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			s := newObjectSteps(t, shopControl(t, pickConfigMaps), []runtime.Object{object(t, sourceConfig), tenantSecret}, nil)
			plan, k := s.plan(contract.PlanRequest{}), cm
			tc.edit(&plan, &k)
			_, err := s.run(s.a.ReplicateKind, contract.ReplicateKindInput{Plan: plan, Kind: k})
			refused(t, err, "ReplicateKind refused", "Replication dr-syncer-system/shop", tc.says)
			if k == cm { // a forged plan, not a forged kind
				_, err = s.run(s.a.EnsureNamespace, plan)
				refused(t, err, "EnsureNamespace refused", tc.says)
			}
			s.untouched()
		})
	}

	t.Run("refused: a plan naming no Replication, or one that does not exist", func(t *testing.T) {
		s := newObjectSteps(t, shopControl(t, nil), []runtime.Object{object(t, sourceConfig)}, nil)
		plan := s.plan(contract.PlanRequest{})
		plan.Replication = contract.ObjectRef{}
		_, err := s.run(s.a.ReplicateKind, contract.ReplicateKindInput{Plan: plan, Kind: cm})
		refused(t, err, "ReplicateKind refused: its input names no Replication")
		plan.Replication = contract.ObjectRef{Namespace: shopRef.Namespace, Name: "invented"}
		_, err = s.run(s.a.ReplicateKind, contract.ReplicateKindInput{Plan: plan, Kind: cm})
		refused(t, err, "names Replication dr-syncer-system/invented, which does not resolve: not found")
		s.untouched()
	})

	t.Run("refused: custom types discovered with another cluster's kubeconfig", func(t *testing.T) {
		s := newObjectSteps(t, shopControl(t, func(r *drv1.Replication) {
			r.Spec.NamespaceScopedResources = []string{"widgets.example.com"}
		}), nil, nil)
		plan := s.plan(contract.PlanRequest{})
		plan.Source.Name = "other"
		_, err := s.env.ExecuteActivity(s.a.SelectKinds, plan)
		refused(t, err, "SelectKinds refused", "source cluster is {Namespace:dr-syncer-system Name:other}")
	})

	t.Run("refused: a worker without a control client to check with", func(t *testing.T) {
		s := newObjectSteps(t, shopControl(t, nil), []runtime.Object{object(t, sourceConfig)}, nil)
		plan := s.plan(contract.PlanRequest{})
		s.a.Control = nil
		_, err := s.run(s.a.ReplicateKind, contract.ReplicateKindInput{Plan: plan, Kind: cm})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "ReplicateKind: the worker has no control client to check the plan against Replication dr-syncer-system/shop with")
		s.untouched()
	})

	t.Run("refused: PersistentVolumes the Replication does not copy", func(t *testing.T) {
		s := newObjectSteps(t, shopControl(t, nil), nil, nil)
		plan := s.plan(contract.PlanRequest{})
		plan.Spec.PVCConfig.SyncPersistentVolumes = true
		_, err := s.run(s.a.ReplicateKind, contract.ReplicateKindInput{Plan: plan, Kind: kindOf(t, "pvc")})
		refused(t, err, "pvcConfig.syncPersistentVolumes is true, the Replication's is false")
		s.untouched()
	})

	t.Run("a settings edit mid-run does not fail the run", func(t *testing.T) {
		s := newObjectSteps(t, shopControl(t, nil), []runtime.Object{object(t, sourceConfig)}, nil)
		plan := s.plan(contract.PlanRequest{})
		plan.Spec.ScaleToZero = !plan.Spec.ScaleToZero
		plan.Generation++
		_, err := s.run(s.a.ReplicateKind, contract.ReplicateKindInput{Plan: plan, Kind: cm})
		assert.NoError(t, err, "only where and what is copied is compared")
	})
}

// A copy back from DR overwrites the source's live objects: only while a
// failback of the Replication runs.
func TestCopyBackOnlyWhileAFailbackRuns(t *testing.T) {
	original := object(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: app, namespace: shop}, data: {k: live}}`)
	drCopy := object(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: app, namespace: shop-dr}, data: {k: stale}}`)
	back := contract.PlanRequest{Direction: contract.DirectionReverse, Trigger: "fb-1"}
	for state, edit := range map[string]func(*drv1.Replication){
		"unset": nil,
		`"FailedOver"`: func(r *drv1.Replication) {
			failingBack(r)
			r.Status.Failover.State = contract.StateFailedOver
		},
	} {
		s := newObjectSteps(t, shopControl(t, edit), []runtime.Object{original}, []runtime.Object{drCopy})
		_, err := s.run(s.a.ReplicateKind, contract.ReplicateKindInput{Plan: s.plan(back), Kind: kindOf(t, "configmap")})
		refused(t, err, "ReplicateKind refused: its input copies Replication dr-syncer-system/shop back from DR into the source (a failback), "+
			"but no failback of it runs (status.failover.state is "+state+", not FailingBack)")
		s.untouched()
	}

	s := newObjectSteps(t, shopControl(t, failingBack), []runtime.Object{original}, []runtime.Object{drCopy})
	_, err := s.run(s.a.ReplicateKind, contract.ReplicateKindInput{Plan: s.plan(back), Kind: kindOf(t, "configmap")})
	require.NoError(t, err)
	got, err := s.prod.Resource(configMaps).Namespace("shop").Get(context.Background(), "app", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"k": "stale"}, got.Object["data"], "the failback copies DR back")
}

// A drill copies only into a scratch namespace a drill made.
func TestDrillCopiesOnlyIntoAScratchNamespace(t *testing.T) {
	drCopy := object(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: app, namespace: shop-dr}, data: {k: v}}`)
	scratch := object(t, `{apiVersion: v1, kind: Namespace, metadata: {name: shop-drill, labels: {dr-syncer.io/drill: 0123456789abcdef}}}`)
	tenant := object(t, `{apiVersion: v1, kind: Namespace, metadata: {name: payments}}`)
	cm := kindOf(t, "configmap")

	s := newObjectSteps(t, shopControl(t, nil), nil, []runtime.Object{drCopy, scratch, tenant})
	_, err := s.run(s.a.ReplicateKind, contract.ReplicateKindInput{Kind: cm,
		Plan: s.plan(contract.PlanRequest{Direction: contract.DirectionDrill, DrillNamespace: "shop-drill"})})
	require.NoError(t, err)
	_, err = s.dr.Resource(configMaps).Namespace("shop-drill").Get(context.Background(), "app", metav1.GetOptions{})
	assert.NoError(t, err, "copied into the scratch namespace")

	for ns, says := range map[string]string{
		"payments": "namespace payments in cluster dr is not a drill's scratch namespace (it has no dr-syncer.io/drill label)",
		"invented": "drill namespace invented of Replication dr-syncer-system/shop does not exist in cluster dr",
	} {
		plan := s.plan(contract.PlanRequest{Direction: contract.DirectionDrill, DrillNamespace: ns})
		_, err = s.run(s.a.ReplicateKind, contract.ReplicateKindInput{Plan: plan, Kind: cm})
		refused(t, err, "ReplicateKind refused", says)
		_, err = s.run(s.a.EnsureNamespace, plan)
		refused(t, err, "EnsureNamespace refused", says)
		list, err := s.dr.Resource(configMaps).Namespace(ns).List(context.Background(), metav1.ListOptions{})
		require.NoError(t, err)
		assert.Empty(t, list.Items, "nothing copied into %s", ns)
	}
}
