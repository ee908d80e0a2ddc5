package helm

import (
	"maps"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Differences the chart has on purpose; everything else must be equal.
var (
	// Labels Helm adds to the objects it owns (templates/_helpers.tpl,
	// dr-syncer.helmLabels): bookkeeping for `helm list` and selectors of
	// the release, not configuration.
	helmLabels = []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance"}
	// Annotations with a Helm-only job: the pod templates' checksum restarts
	// pods when the Temporal ConfigMap changes; the hook annotations make the
	// setup Job run after each install and upgrade (a plain Job's pod
	// template cannot change, so upgrades would fail).
	helmAnnotations = []string{"checksum/temporal-config", "helm.sh/hook", "helm.sh/hook-delete-policy"}
	// Objects only the chart renders: the metrics Services, which deploy/
	// lacks today (if deploy/ gains them, they must move out of this list).
	chartOnly = []string{"Service dr-syncer-system/dr-syncer-controller-metrics", "Service dr-syncer-system/dr-syncer-worker-metrics"}
	// Objects only deploy/ installs: the namespace. Helm installs into one
	// (--create-namespace) and does not own it: a chart that did would delete
	// it on uninstall with every Secret and Replication in it.
	kustomizeOnly = []string{"Namespace /dr-syncer-system"}
)

// The chart with default values renders the objects `kubectl apply -k deploy/`
// installs, field for field, apart from the differences listed above: an
// operator moving from kustomize to Helm gets the same system.
func TestChartDefaultsRenderWhatKustomizeInstalls(t *testing.T) {
	out, err := run(t, "kubectl", "kustomize", "deploy")
	require.NoError(t, err, "kubectl kustomize deploy")
	want := byKey(t, decode(t, out))
	got := byKey(t, mustTemplate(t))

	for _, k := range chartOnly {
		assert.Contains(t, got, k, "chartOnly lists %s, which the chart no longer renders: drop it from the list", k)
		delete(got, k)
	}
	for _, k := range kustomizeOnly {
		assert.Contains(t, want, k, "kustomizeOnly lists %s, which deploy/ no longer has: drop it from the list", k)
		delete(want, k)
	}
	assert.Equal(t, slices.Sorted(maps.Keys(want)), slices.Sorted(maps.Keys(got)), "objects of deploy/ (want) and of the chart's defaults (got)")
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			continue
		}
		stripHelm(g)
		assert.Equal(t, w, g, "%s: deploy/ (expected) and the chart's defaults (actual) differ; change the chart's template or values, or deploy/, so both install the same", k)
	}
}

// byKey indexes objects by kind, namespace and name, failing on a duplicate.
func byKey(t *testing.T, objs []object) map[string]object {
	t.Helper()
	m := map[string]object{}
	for _, o := range objs {
		k := key(o)
		require.NotContains(t, m, k, "%s rendered twice", k)
		m[k] = o
	}
	return m
}

// stripHelm removes the labels and annotations Helm adds on purpose, from
// the object and from a pod template, and the maps they leave empty.
func stripHelm(o object) {
	for _, meta := range []any{get(o, "metadata"), get(o, "spec", "template", "metadata")} {
		m, ok := meta.(map[string]any)
		if !ok {
			continue
		}
		for field, names := range map[string][]string{"labels": helmLabels, "annotations": helmAnnotations} {
			values, _ := m[field].(map[string]any)
			for _, n := range names {
				delete(values, n)
			}
			if values != nil && len(values) == 0 {
				delete(m, field)
			}
		}
	}
}
