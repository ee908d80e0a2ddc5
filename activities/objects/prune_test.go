package objects

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
)

// ownedCopy is a DR ConfigMap in namespace that says it is shopRef's copy:
// what PruneObjects deletes once its source is gone.
func ownedCopy(t *testing.T, namespace, name string) runtime.Object {
	return object(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: `+name+`, namespace: `+namespace+`,
  labels: {dr-syncer.io/managed-by: dr-syncer}, annotations: {dr-syncer.io/replication: dr-syncer-system/shop}}}`)
}

// The DR copy is sacred: a forged plan cannot make PruneObjects delete in
// a namespace the Replication does not name, nor talk the workflow's
// deletion guard into a mass deletion.
func TestPruneDeletesOnlyWhatTheReplicationLetsIt(t *testing.T) {
	cm := kindOf(t, "configmap")
	exists := func(s *objectSteps, namespace, name string) bool {
		_, err := s.dr.Resource(configMaps).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
		return err == nil
	}
	dr := func() []runtime.Object {
		return []runtime.Object{ownedCopy(t, "shop-dr", "gone"), ownedCopy(t, "payments", "ledger")}
	}

	t.Run("an honest plan prunes", func(t *testing.T) {
		s := newObjectSteps(t, shopControl(t, nil), []runtime.Object{sourceNamespace(t, false)}, dr())
		res, err := s.run(s.a.PruneObjects, contract.PruneInput{Plan: s.plan(contract.PlanRequest{}), Kind: cm, Names: []string{"gone"}})
		require.NoError(t, err)
		assert.Equal(t, 1, res.Writes)
		assert.False(t, exists(s, "shop-dr", "gone"), "its source is gone, so its copy is")
	})

	forged := []struct {
		name string
		edit func(*contract.PruneInput)
		says string
	}{
		{"in another DR namespace", func(in *contract.PruneInput) {
			in.Plan.DestinationNamespace = "payments"
			in.Names = []string{"ledger"}
		},
			"destination namespace is payments, the Replication's is shop-dr"},
		{"accepting a change nobody accepted", func(in *contract.PruneInput) { in.Plan.AcceptChanges = "2026-12-05" },
			`accepts the change ("2026-12-05", letting a mass deletion through the deletion guard), the Replication has no pending accept-changes`},
		{"under a looser deletion guard", func(in *contract.PruneInput) {
			in.Plan.Spec.DeletionGuard = contract.DeletionGuardLimits{MaxPercent: 100}
		},
			"deletionGuard is {MaxPercent:100 MaxObjects:0}"},
	}
	for _, tc := range forged {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			s := newObjectSteps(t, shopControl(t, nil), nil, dr())
			in := contract.PruneInput{Plan: s.plan(contract.PlanRequest{}), Kind: cm, Names: []string{"gone"}}
			tc.edit(&in)
			_, err := s.run(s.a.PruneObjects, in)
			refused(t, err, "PruneObjects refused", "Replication dr-syncer-system/shop", tc.says)
			s.untouched()
			assert.True(t, exists(s, "shop-dr", "gone") && exists(s, "payments", "ledger"), "nothing is deleted")
		})
	}

	t.Run("refused: in a failback", func(t *testing.T) {
		s := newObjectSteps(t, shopControl(t, failingBack), []runtime.Object{ownedCopy(t, "shop", "original")}, nil)
		plan := s.plan(contract.PlanRequest{Direction: contract.DirectionReverse, Trigger: "fb-1"})
		_, err := s.run(s.a.PruneObjects, contract.PruneInput{Plan: plan, Kind: cm, Names: []string{"original"}})
		refused(t, err, "the input prunes in a failback, which deletes nothing in the source")
		s.untouched()
	})
}

// A person's accept-changes, still pending on the Replication, is what lets
// a run's acceptance through.
func TestPruneTakesTheReplicationsPendingAcceptance(t *testing.T) {
	s := newObjectSteps(t, shopControl(t, func(r *drv1.Replication) {
		r.Annotations = map[string]string{drv1.AnnotationAcceptChanges: "2026-12-05"}
	}), nil, []runtime.Object{ownedCopy(t, "shop-dr", "gone")})
	plan := s.plan(contract.PlanRequest{})
	require.Equal(t, "2026-12-05", plan.AcceptChanges)
	res, err := s.run(s.a.PruneObjects, contract.PruneInput{Plan: plan, Kind: kindOf(t, "configmap"), Names: []string{"gone"}})
	require.NoError(t, err)
	assert.Equal(t, 1, res.Writes, "deleted")
}

// sourceNamespace is the source namespace shop, being deleted when going.
func sourceNamespace(t *testing.T, going bool) runtime.Object {
	ns := object(t, `{apiVersion: v1, kind: Namespace, metadata: {name: shop}}`)
	if going {
		ns.SetDeletionTimestamp(&metav1.Time{Time: time.Now()})
		ns.SetFinalizers([]string{"kubernetes"})
	}
	return ns
}

// A worker running other workflow code can call PruneObjects without the
// workflow's deletion guard. The activity counts again, in both clusters,
// and refuses a call that deletes more than the guard allows, or deletes
// anything while the source namespace goes, before deleting anything.
func TestPruneRecountsTheDeletionGuard(t *testing.T) {
	cm := kindOf(t, "configmap")
	// 30 owned copies whose sources are gone: the default guard (50 %, at
	// least 10) lets one run delete 15 of them.
	var copies []runtime.Object
	var names []string
	for i := range 30 {
		name := fmt.Sprintf("cm-%02d", i)
		copies, names = append(copies, ownedCopy(t, "shop-dr", name)), append(names, name)
	}
	remaining := func(s *objectSteps) int {
		l, err := s.dr.Resource(configMaps).Namespace("shop-dr").List(context.Background(), metav1.ListOptions{})
		require.NoError(t, err)
		return len(l.Items)
	}
	t.Run("within the limit", func(t *testing.T) {
		s := newObjectSteps(t, shopControl(t, nil), []runtime.Object{sourceNamespace(t, false)}, copies)
		res, err := s.run(s.a.PruneObjects, contract.PruneInput{Plan: s.plan(contract.PlanRequest{}), Kind: cm, Names: names[:15]})
		require.NoError(t, err)
		assert.Equal(t, 15, res.Writes)
		assert.Equal(t, 15, remaining(s))
	})
	t.Run("refused: every owned name at once", func(t *testing.T) {
		s := newObjectSteps(t, shopControl(t, nil), []runtime.Object{sourceNamespace(t, false)}, copies)
		_, err := s.run(s.a.PruneObjects, contract.PruneInput{Plan: s.plan(contract.PlanRequest{}), Kind: cm, Names: names})
		refused(t, err, "PruneObjects refused", "delete 30 of the 30 objects this Replication owns in DR, more than its limit of 15",
			"dr-syncer.io/accept-changes")
		assert.Equal(t, 30, remaining(s), "nothing is deleted")
	})
	t.Run("refused: the source namespace is being deleted", func(t *testing.T) {
		s := newObjectSteps(t, shopControl(t, nil), []runtime.Object{sourceNamespace(t, true)}, copies)
		_, err := s.run(s.a.PruneObjects, contract.PruneInput{Plan: s.plan(contract.PlanRequest{}), Kind: cm, Names: names[:1]})
		refused(t, err, "PruneObjects refused", "source namespace shop is being deleted")
		assert.Equal(t, 30, remaining(s), "nothing is deleted")
	})
	t.Run("a person's acceptance lets them all go", func(t *testing.T) {
		s := newObjectSteps(t, shopControl(t, func(r *drv1.Replication) {
			r.Annotations = map[string]string{drv1.AnnotationAcceptChanges: "2026-12-05"}
		}), []runtime.Object{sourceNamespace(t, false)}, copies)
		res, err := s.run(s.a.PruneObjects, contract.PruneInput{Plan: s.plan(contract.PlanRequest{}), Kind: cm, Names: names})
		require.NoError(t, err)
		assert.Equal(t, 30, res.Writes)
		assert.Zero(t, remaining(s))
	})
}
