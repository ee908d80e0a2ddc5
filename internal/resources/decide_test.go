package resources

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

const sourceDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {replicas: 2, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: w, image: "nginx:1"}]}}}
`

// asStored is desired as the DR API server returns it: with a UID,
// defaults and fields other controllers set.
func asStored(desired *unstructured.Unstructured, edit func(map[string]any)) *unstructured.Unstructured {
	u := desired.DeepCopy()
	u.SetUID("dr-uid")
	u.SetResourceVersion("5")
	a := u.GetAnnotations()
	a["deployment.kubernetes.io/revision"] = "1"
	u.SetAnnotations(a)
	_ = unstructured.SetNestedField(u.Object, "RollingUpdate", "spec", "strategy", "type")
	_ = unstructured.SetNestedField(u.Object, int64(600), "spec", "progressDeadlineSeconds")
	if edit != nil {
		edit(u.Object)
	}
	return u
}

func TestDecide(t *testing.T) {
	k, _ := Lookup("deployment")
	o := baseOptions()
	desired := func(t *testing.T, src string) *unstructured.Unstructured {
		d := Transform(k, parse(t, src), o)
		require.NotNil(t, d.Object)
		return d.Object
	}
	want := desired(t, sourceDeployment)
	newImage := desired(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {replicas: 2, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web}}, spec: {containers: [{name: w, image: "nginx:2"}]}}}
`)
	newSelector := desired(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {replicas: 2, selector: {matchLabels: {app: web2}}, template: {metadata: {labels: {app: web2}}, spec: {containers: [{name: w, image: "nginx:2"}]}}}
`)
	stored := asStored(want, nil)
	foreign := parse(t, `{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: shop-dr, uid: f}}`)
	otherReplication := asStored(want, func(m map[string]any) {
		_ = unstructured.SetNestedField(m, "team/other", "metadata", "annotations", AnnotationReplication)
	})
	scaledUpInDR := asStored(want, func(m map[string]any) { _ = unstructured.SetNestedField(m, int64(3), "spec", "replicas") })

	tests := []struct {
		name      string
		desired   *unstructured.Unstructured
		existing  *unstructured.Unstructured
		handling  drv1.ImmutableHandling
		action    Action
		immutable []string
	}{
		{"missing in DR", want, nil, drv1.ImmutableNoChange, ActionCreate, nil},
		{"unchanged despite DR defaults and controller annotations", want, stored, drv1.ImmutableNoChange, ActionNone, nil},
		{"mutable change", newImage, stored, drv1.ImmutableNoChange, ActionUpdate, nil},
		{"drift in DR is corrected", want, scaledUpInDR, drv1.ImmutableNoChange, ActionUpdate, nil},
		{"object dr-syncer did not create", want, foreign, drv1.ImmutableForceUpdate, ActionConflict, nil},
		{"object of another replication", want, otherReplication, drv1.ImmutableForceUpdate, ActionConflict, nil},
		{"immutable change, NoChange", newSelector, stored, drv1.ImmutableNoChange, ActionKeep, []string{"spec.selector"}},
		{"immutable change, Recreate", newSelector, stored, drv1.ImmutableRecreate, ActionRecreate, []string{"spec.selector"}},
		{"immutable change, RecreateWithPodDrain", newSelector, stored, drv1.ImmutableRecreateWithPodDrain, ActionRecreateWithDrain, []string{"spec.selector"}},
		{"immutable change, PartialUpdate", newSelector, stored, drv1.ImmutablePartialUpdate, ActionPartialUpdate, []string{"spec.selector"}},
		{"immutable change, ForceUpdate", newSelector, stored, drv1.ImmutableForceUpdate, ActionForceRecreate, []string{"spec.selector"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(k, tc.desired, tc.existing, o.Replication, tc.handling)
			assert.Equal(t, tc.action, d.Action, d.Reason)
			assert.Equal(t, tc.immutable, d.Immutable)
			switch tc.action {
			case ActionNone, ActionConflict, ActionKeep:
				assert.Nil(t, d.Object, "nothing is written")
			default:
				require.NotNil(t, d.Object)
			}
		})
	}

	t.Run("PartialUpdate keeps DR's immutable values and updates the rest", func(t *testing.T) {
		d := Decide(k, newSelector, stored, o.Replication, drv1.ImmutablePartialUpdate)
		sel, _, _ := unstructured.NestedStringMap(d.Object.Object, "spec", "selector", "matchLabels")
		assert.Equal(t, map[string]string{"app": "web"}, sel)
		labels, _, _ := unstructured.NestedStringMap(d.Object.Object, "spec", "template", "metadata", "labels")
		assert.Equal(t, map[string]string{"app": "web"}, labels, "the template still matches the kept selector")
		containers, _, _ := unstructured.NestedSlice(d.Object.Object, "spec", "template", "spec", "containers")
		assert.Equal(t, "nginx:2", containers[0].(map[string]any)["image"])
	})
	t.Run("NoChange explains itself", func(t *testing.T) {
		d := Decide(k, newSelector, stored, o.Replication, drv1.ImmutableNoChange)
		assert.Contains(t, d.Reason, "spec.selector changed in the source; immutableResourceConfig NoChange")
	})
}

func TestDecideOtherKinds(t *testing.T) {
	o := baseOptions()
	pvc, _ := Lookup("pvc")
	claim := func(size, class string) *unstructured.Unstructured {
		return Transform(pvc, parse(t, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop}
spec: {storageClassName: `+class+`, accessModes: [ReadWriteOnce], resources: {requests: {storage: `+size+`}}}
`), o).Object
	}
	t.Run("a PVC grows but never shrinks", func(t *testing.T) {
		dr := asStored(claim("10Gi", "std"), nil)
		d := Decide(pvc, claim("5Gi", "std"), dr, o.Replication, drv1.ImmutableNoChange)
		require.Equal(t, ActionUpdate, d.Action)
		size, _, _ := unstructured.NestedString(d.Object.Object, "spec", "resources", "requests", "storage")
		assert.Equal(t, "10Gi", size)
		grow := Decide(pvc, claim("20Gi", "std"), dr, o.Replication, drv1.ImmutableNoChange)
		size, _, _ = unstructured.NestedString(grow.Object.Object, "spec", "resources", "requests", "storage")
		assert.Equal(t, "20Gi", size)
	})
	t.Run("a PVC's storage class is immutable; a DR-bound volume is not a change", func(t *testing.T) {
		dr := asStored(claim("5Gi", "std"), func(m map[string]any) {
			_ = unstructured.SetNestedField(m, "pv-dr-1", "spec", "volumeName")
		})
		assert.Equal(t, ActionNone, Decide(pvc, claim("5Gi", "std"), dr, o.Replication, drv1.ImmutableNoChange).Action)
		d := Decide(pvc, claim("5Gi", "fast"), dr, o.Replication, drv1.ImmutableNoChange)
		assert.Equal(t, []string{"spec.storageClassName"}, d.Immutable)
	})
	t.Run("a DR volume is never recreated, whatever the handling: its data would go", func(t *testing.T) {
		dr := asStored(claim("5Gi", "std"), nil)
		for _, h := range []drv1.ImmutableHandling{drv1.ImmutableRecreate, drv1.ImmutableRecreateWithPodDrain, drv1.ImmutableForceUpdate, drv1.ImmutablePartialUpdate} {
			d := Decide(pvc, claim("5Gi", "fast"), dr, o.Replication, h)
			assert.Equal(t, ActionKeep, d.Action, h)
			assert.Nil(t, d.Object, "nothing to write")
			assert.Contains(t, d.Reason, "a DR volume is never recreated")
		}
	})
	t.Run("an immutable ConfigMap's data", func(t *testing.T) {
		cm, _ := Lookup("cm")
		mk := func(v string) *unstructured.Unstructured {
			return Transform(cm, parse(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: shop}, immutable: true, data: {k: `+v+`}}`), o).Object
		}
		d := Decide(cm, mk("b"), asStored(mk("a"), nil), o.Replication, drv1.ImmutableRecreate)
		assert.Equal(t, ActionRecreate, d.Action)
		assert.Equal(t, []string{"data"}, d.Immutable)
	})
	t.Run("RecreateWithPodDrain of a kind without pods is a plain recreate", func(t *testing.T) {
		rb, _ := Lookup("rolebinding")
		mk := func(role string) *unstructured.Unstructured {
			return Transform(rb, parse(t, `{apiVersion: rbac.authorization.k8s.io/v1, kind: RoleBinding, metadata: {name: rb, namespace: shop}, roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: `+role+`}}`), o).Object
		}
		d := Decide(rb, mk("b"), asStored(mk("a"), nil), o.Replication, drv1.ImmutableRecreateWithPodDrain)
		assert.Equal(t, ActionRecreate, d.Action)
		assert.Equal(t, []string{"roleRef"}, d.Immutable)
	})
}

func TestHandlingFor(t *testing.T) {
	overrides := map[string]string{
		"statefulsets": "RecreateWithPodDrain", "Deployment": "Recreate", "certificates.cert-manager.io": "ForceUpdate",
	}
	tests := []struct {
		kind Kind
		want drv1.ImmutableHandling
	}{
		{mustLookup(t, "sts"), drv1.ImmutableRecreateWithPodDrain},
		{mustLookup(t, "deployments"), drv1.ImmutableRecreate},
		{mustLookup(t, "configmap"), drv1.ImmutableNoChange},
		{Kind{Kind: "Certificate", Group: "cert-manager.io", Version: "v1", Resource: "certificates", Stage: StageCustom}, drv1.ImmutableForceUpdate},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, HandlingFor(tc.kind, "NoChange", overrides), tc.kind.String())
	}
	assert.Equal(t, drv1.ImmutableRecreate, HandlingFor(mustLookup(t, "sts"), "Recreate", nil), "the default without an override")
}

func mustLookup(t *testing.T, name string) Kind {
	t.Helper()
	k, ok := Lookup(name)
	require.True(t, ok, name)
	return k
}

func TestCovers(t *testing.T) {
	tests := []struct {
		name       string
		have, want string
		covers     bool
	}{
		{"extra fields in have", `{a: 1, b: 2}`, `{a: 1}`, true},
		{"different scalar", `{a: 1}`, `{a: 2}`, false},
		{"missing field", `{b: 1}`, `{a: 1}`, false},
		{"empty map matches missing", `{b: 1}`, `{a: {}}`, true},
		{"empty list matches missing", `{b: 1}`, `{a: []}`, true},
		{"lists compare element-wise", `{a: [{x: 1, z: 2}]}`, `{a: [{x: 1}]}`, true},
		{"lists of other length differ", `{a: [1, 2]}`, `{a: [1]}`, false},
		{"null matches missing", `{}`, `{a: null}`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var have, want map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(tc.have), &have))
			require.NoError(t, yaml.Unmarshal([]byte(tc.want), &want))
			assert.Equal(t, tc.covers, Covers(have, want))
		})
	}
	assert.True(t, Covers(map[string]any{"n": int64(3)}, map[string]any{"n": float64(3)}), "int64 and float64 of one value")
}
