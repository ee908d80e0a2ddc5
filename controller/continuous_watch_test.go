package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

func TestSourceChange(t *testing.T) {
	// A user's objects, as the informer delivers them.
	configMap := func(rv string, mutate ...func(*unstructured.Unstructured)) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "app", "namespace": "shop", "resourceVersion": rv, "uid": "u1"},
			"data":     map[string]any{"mode": "prod"},
		}}
		for _, m := range mutate {
			m(u)
		}
		return u
	}
	deployment := func(rv string, generation int64, replicas, ready int64) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "db", "namespace": "shop", "resourceVersion": rv, "generation": generation,
				"annotations": map[string]any{"deployment.kubernetes.io/revision": "1"}},
			"spec":   map[string]any{"replicas": replicas},
			"status": map[string]any{"observedGeneration": generation, "readyReplicas": ready},
		}}
	}
	claim := func(rv, phase string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "PersistentVolumeClaim",
			"metadata": map[string]any{"name": "data", "namespace": "shop", "resourceVersion": rv},
			"spec":     map[string]any{"volumeName": "pv-1"},
			"status":   map[string]any{"phase": phase},
		}}
	}
	// What a sync creates in the source namespace (kube.OperationLabels).
	own := func(kind, rv string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": kind}}
		u.SetName("drs-3f2a-creds")
		u.SetNamespace("shop")
		u.SetResourceVersion(rv)
		u.SetLabels(kube.OperationLabels("pvc-sync/prod/shop/data", "run-1", "credentials"))
		return u
	}
	withLabels := func(labels map[string]string) func(*unstructured.Unstructured) {
		return func(u *unstructured.Unstructured) { u.SetLabels(labels) }
	}
	serverOnly := func(u *unstructured.Unstructured) {
		u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate}})
	}
	deleting := func(u *unstructured.Unstructured) {
		u.SetDeletionTimestamp(&metav1.Time{Time: time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)})
	}
	data := func(v string) func(*unstructured.Unstructured) {
		return func(u *unstructured.Unstructured) { u.Object["data"] = map[string]any{"mode": v} }
	}

	for _, tc := range []struct {
		name     string
		old, obj *unstructured.Unstructured
		want     bool
	}{
		{"a user's object created or deleted", nil, configMap("1"), true},
		{"a user's data changed", configMap("1"), configMap("2", data("dr")), true},
		{"a user's label added", configMap("1"), configMap("2", withLabels(map[string]string{"tier": "db"})), true},
		{"a user's annotation changed", configMap("1", func(u *unstructured.Unstructured) { u.SetAnnotations(map[string]string{"a": "1"}) }),
			configMap("2", func(u *unstructured.Unstructured) { u.SetAnnotations(map[string]string{"a": "2"}) }), true},
		{"a user's object being deleted (its finalizers hold it)", configMap("1"), configMap("2", deleting), true},
		{"a Deployment scaled", deployment("1", 1, 1, 1), deployment("2", 2, 3, 1), true},
		{"a Deployment's status only", deployment("2", 2, 3, 1), deployment("3", 2, 3, 3), false},
		{"a claim's status only", claim("1", "Pending"), claim("2", "Bound"), false},
		{"resourceVersion and managedFields only", configMap("1"), configMap("2", serverOnly), false},
		{"a relist repeats the object", configMap("1"), configMap("1"), false},
		{"no labels and empty labels", configMap("1"), configMap("2", withLabels(map[string]string{})), false},
		{"a sync's Secret created or deleted", nil, own("Secret", "1"), false},
		{"a sync's mount pod updated", own("Pod", "1"), own("Pod", "2"), false},
		{"managed-by alone is a user's (or a DR copy's), not a sync's", nil,
			configMap("1", withLabels(map[string]string{kube.LabelManagedBy: kube.ManagedBy})), true},
		{"an operation label alone is not dr-syncer's", nil,
			configMap("1", withLabels(map[string]string{kube.LabelOperation: "3f2a"})), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, sourceChange(tc.old, tc.obj))
		})
	}
}
