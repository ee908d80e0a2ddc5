package integration

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
	"github.com/dr-syncer/dr-syncer/internal/resources"
	"github.com/dr-syncer/dr-syncer/test/testenv"
)

// What no change in the source may do to the DR copy, through the real
// ReplicateResources workflow on a real Temporal server and API servers.
func TestResourceReplicationKeepsTheDRCopy(t *testing.T) {
	s := newResourceSuite(t)

	t.Run("a mass deletion is held until a person accepts it", func(t *testing.T) {
		src, dst := "mass", "mass-dr"
		var manifests []string
		for i := 0; i < 30; i++ {
			manifests = append(manifests, fmt.Sprintf(`{apiVersion: v1, kind: ConfigMap, metadata: {name: cm-%02d}, data: {n: "%d"}}`, i, i))
		}
		resCreate(t, s.env.Source, src, manifests...)
		plan := s.plan(t, src, dst, func(spec *drv1.ReplicationSpec) { spec.ResourceTypes = []string{"configmaps"} })
		s.mustSync(t, plan)
		for i := 0; i < 24; i++ {
			resRemove(t, s.env.Source, "v1", "ConfigMap", src, fmt.Sprintf("cm-%02d", i))
		}
		res, err := s.sync(t, plan)
		require.NoError(t, err)
		require.NotNil(t, res.DeletionGuard)
		assert.Contains(t, res.DeletionGuard.Held, "would delete 24 of the 30 objects this Replication owns in DR, more than its limit of 15")
		assert.Equal(t, contract.StateDeletionHeld, resStatus(t, res, "ConfigMap", "cm-00").State)
		for i := 0; i < 30; i++ {
			assert.False(t, resGone(t, s.env.DR, "v1", "ConfigMap", dst, fmt.Sprintf("cm-%02d", i)), "nothing is deleted")
		}

		// A person accepts it on the Replication; the next run takes it.
		plan = testenv.ReplicationPlan(t, s.env.DR.Client, dst, replicationSpec(src, dst, func(spec *drv1.ReplicationSpec) { spec.ResourceTypes = []string{"configmaps"} }),
			map[string]string{drv1.AnnotationAcceptChanges: "2026-12-04"})
		require.Equal(t, "2026-12-04", plan.AcceptChanges)
		res, err = s.sync(t, plan)
		require.NoError(t, err)
		assert.Empty(t, res.DeletionGuard.Held)
		assert.Equal(t, "2026-12-04", res.DeletionGuard.Accepted)
		for i := 0; i < 30; i++ {
			assert.Equal(t, i < 24, resGone(t, s.env.DR, "v1", "ConfigMap", dst, fmt.Sprintf("cm-%02d", i)), "cm-%02d", i)
		}
	})

	t.Run("nothing is deleted while the source namespace goes", func(t *testing.T) {
		src, dst := "leaving", "leaving-dr"
		resCreate(t, s.env.Source, src, `{apiVersion: v1, kind: ConfigMap, metadata: {name: a}, data: {a: b}}`,
			`{apiVersion: v1, kind: ConfigMap, metadata: {name: b}, data: {a: b}}`)
		plan := s.plan(t, src, dst, func(spec *drv1.ReplicationSpec) { spec.ResourceTypes = []string{"configmaps"} })
		s.mustSync(t, plan)
		resRemove(t, s.env.Source, "v1", "ConfigMap", src, "a")
		var ns corev1.Namespace
		require.NoError(t, s.env.Source.Client.Get(context.Background(), client.ObjectKey{Name: src}, &ns))
		// No namespace controller runs here: the namespace stays Terminating.
		require.NoError(t, s.env.Source.Client.Delete(context.Background(), &ns))
		res, err := s.sync(t, plan)
		require.NoError(t, err)
		assert.Contains(t, res.DeletionGuard.Held, "source namespace leaving is being deleted")
		assert.False(t, resGone(t, s.env.DR, "v1", "ConfigMap", dst, "a"))
	})

	t.Run("a DR volume outlives its source until a person deletes it", func(t *testing.T) {
		src, dst := "vol", "vol-dr"
		resCreate(t, s.env.Source, src,
			`{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}`)
		plan := s.plan(t, src, dst, func(spec *drv1.ReplicationSpec) { spec.ResourceTypes = []string{"persistentvolumeclaims"} })
		s.mustSync(t, plan)
		removeClaim(t, s.env.Source.Client, &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: src, Name: "data"}})
		res, err := s.sync(t, plan)
		require.NoError(t, err)
		kept := resStatus(t, res, "PersistentVolumeClaim", "data")
		assert.Equal(t, contract.StateSourceDeleted, kept.State)
		assert.Contains(t, kept.Error, "annotate the DR object with dr-syncer.io/delete-copy=true")
		copy := resGet(t, s.env.DR, "v1", "PersistentVolumeClaim", dst, "data")
		assert.NotEmpty(t, copy.GetAnnotations()[kube.AnnotationSourceDeletedAt], "when its source disappeared")
		res, err = s.sync(t, plan)
		require.NoError(t, err)
		assert.Equal(t, contract.StateSourceDeleted, resStatus(t, res, "PersistentVolumeClaim", "data").State, "and again on every run")
		assert.Zero(t, res.DeletionGuard.Deletions, "volumes never reach the deletion step")

		copy.SetAnnotations(map[string]string{drv1.AnnotationDeleteCopy: "true"})
		require.NoError(t, s.env.DR.Client.Patch(context.Background(), copy, client.Merge))
		res, err = s.sync(t, plan)
		require.NoError(t, err)
		deleted := resStatus(t, res, "PersistentVolumeClaim", "data")
		assert.Equal(t, contract.ActionDeleteCopy, deleted.Action)
		assert.Contains(t, deleted.Detail, "deleted as annotated dr-syncer.io/delete-copy=true")
		var gone corev1.PersistentVolumeClaim
		require.NoError(t, s.env.DR.Client.Get(context.Background(), client.ObjectKey{Namespace: dst, Name: "data"}, &gone))
		assert.NotNil(t, gone.DeletionTimestamp, "deleted; only the pvc-protection finalizer, which no controller lifts here, holds it")
	})

	t.Run("the ignore label releases a copy: kept, no longer updated, taken back when the label goes", func(t *testing.T) {
		src, dst := "release", "release-dr"
		resCreate(t, s.env.Source, src, `{apiVersion: v1, kind: ConfigMap, metadata: {name: cfg}, data: {v: "1"}}`)
		plan := s.plan(t, src, dst, func(spec *drv1.ReplicationSpec) { spec.ResourceTypes = []string{"configmaps"} })
		s.mustSync(t, plan)
		cfg := resGet(t, s.env.Source, "v1", "ConfigMap", src, "cfg")
		cfg.SetLabels(map[string]string{drv1.LabelIgnore: "true"})
		cfg.Object["data"] = map[string]any{"v": "2"}
		require.NoError(t, s.env.Source.Client.Update(context.Background(), cfg))
		s.mustSync(t, plan)
		released := resGet(t, s.env.DR, "v1", "ConfigMap", dst, "cfg")
		assert.Equal(t, map[string]any{"v": "1"}, released.Object["data"], "no longer updated")
		assert.NotContains(t, released.GetLabels(), resources.LabelManagedBy, "no longer dr-syncer's")
		assert.Equal(t, plan.Replication.String(), released.GetAnnotations()[resources.AnnotationReleased])

		resRemove(t, s.env.Source, "v1", "ConfigMap", src, "cfg")
		res := s.mustSync(t, plan)
		assert.Zero(t, res.DeletionGuard.Deletions, "a released copy is no deletion candidate")
		assert.False(t, resGone(t, s.env.DR, "v1", "ConfigMap", dst, "cfg"), "and never deleted")

		resCreate(t, s.env.Source, "", fmt.Sprintf(`{apiVersion: v1, kind: ConfigMap, metadata: {name: cfg, namespace: %s}, data: {v: "3"}}`, src))
		s.mustSync(t, plan)
		back := resGet(t, s.env.DR, "v1", "ConfigMap", dst, "cfg")
		assert.Equal(t, map[string]any{"v": "3"}, back.Object["data"], "taken back once the label is gone")
		assert.NotContains(t, back.GetAnnotations(), resources.AnnotationReleased)
	})

	t.Run("copies are faithful: Helm's labels and annotations arrive unchanged, old copies are migrated", func(t *testing.T) {
		src, dst := "helm", "helm-dr"
		helm := `labels: {app.kubernetes.io/managed-by: Helm, app: web}, annotations: {meta.helm.sh/release-name: web, meta.helm.sh/release-namespace: helm}`
		resCreate(t, s.env.Source, src,
			`{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, `+helm+`}, spec: {replicas: 1, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c, image: nginx}]}}}}`,
			`{apiVersion: v1, kind: Service, metadata: {name: web, `+helm+`}, spec: {selector: {app: web}, ports: [{port: 80}]}}`,
			`{apiVersion: v1, kind: ConfigMap, metadata: {name: old, `+helm+`}, data: {a: b}}`)
		plan := s.plan(t, src, dst, func(spec *drv1.ReplicationSpec) {
			spec.ResourceTypes = []string{"deployments", "services", "configmaps"}
		})
		// A copy as earlier versions wrote it: managed-by overwritten.
		resCreate(t, s.env.DR, dst, fmt.Sprintf(`{apiVersion: v1, kind: ConfigMap, metadata: {name: old, labels: {app.kubernetes.io/managed-by: dr-syncer, app: web},
			annotations: {dr-syncer.io/replication: %s, dr-syncer.io/source: source/helm/old, dr-syncer.io/source-managed-by: Helm}}, data: {a: b}}`, plan.Replication))
		s.mustSync(t, plan)
		for _, o := range []struct{ apiVersion, kind, name string }{{"apps/v1", "Deployment", "web"}, {"v1", "Service", "web"}, {"v1", "ConfigMap", "old"}} {
			dr := resGet(t, s.env.DR, o.apiVersion, o.kind, dst, o.name)
			assert.Equal(t, "Helm", dr.GetLabels()["app.kubernetes.io/managed-by"], "%s %s", o.kind, o.name)
			assert.Equal(t, "web", dr.GetAnnotations()["meta.helm.sh/release-name"], "%s %s", o.kind, o.name)
			assert.Equal(t, "helm", dr.GetAnnotations()["meta.helm.sh/release-namespace"], "%s %s", o.kind, o.name)
			assert.NotContains(t, dr.GetAnnotations(), "dr-syncer.io/source-managed-by", "%s %s", o.kind, o.name)
			assert.Equal(t, resources.ManagedByValue, dr.GetLabels()[resources.LabelManagedBy], "dr-syncer's own mark is a dr-syncer.io/ key")
		}
	})
}
