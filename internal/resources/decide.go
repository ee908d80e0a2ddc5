package resources

import (
	"fmt"
	"reflect"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// Action is what to do to bring one DR object to its desired state.
type Action string

// Actions, from the cheapest.
const (
	// ActionNone: DR already holds the desired object; no write.
	ActionNone Action = "None"
	// ActionCreate: the object is missing in DR.
	ActionCreate Action = "Create"
	// ActionUpdate: mutable fields differ.
	ActionUpdate Action = "Update"
	// ActionPartialUpdate: immutable fields differ; update the rest and keep
	// DR's values of the immutable ones.
	ActionPartialUpdate Action = "PartialUpdate"
	// ActionRecreate: immutable fields differ; delete (forced after
	// forceDeleteTimeout) and create.
	ActionRecreate Action = "Recreate"
	// ActionRecreateWithDrain: immutable fields of a workload differ; scale it
	// to zero, wait up to drainTimeout for its pods to go, then recreate.
	ActionRecreateWithDrain Action = "RecreateWithPodDrain"
	// ActionForceRecreate: immutable fields differ; delete at once, without
	// grace period, and create.
	ActionForceRecreate Action = "ForceRecreate"
	// ActionKeep: immutable fields differ and the handling is NoChange.
	ActionKeep Action = "KeepImmutable"
	// ActionConflict: a DR object of that name is not this replication's;
	// it is never touched.
	ActionConflict Action = "Conflict"
)

// Decision is the action for one object and what to write.
type Decision struct {
	Action Action
	// Object is what to write (the desired object, adjusted for PartialUpdate
	// and never-shrink PVCs); nil for None, Keep and Conflict.
	Object *unstructured.Unstructured
	// Immutable lists the immutable fields that differ, as dotted paths.
	Immutable []string
	// Reason explains Keep and Conflict to a user.
	Reason string
}

// Owned reports whether obj is a DR object this replication wrote.
func Owned(obj *unstructured.Unstructured, replication string) bool {
	return kube.IsCopy(obj.GetLabels()) && obj.GetAnnotations()[AnnotationReplication] == replication
}

// Released reports whether this replication let go of obj (see AnnotationReleased).
func Released(obj *unstructured.Unstructured, replication string) bool {
	return obj.GetAnnotations()[AnnotationReleased] == replication
}

// Decide compares the desired DR object with what DR holds (nil when
// missing) and returns the action; handling applies when immutable fields differ.
func Decide(k Kind, desired, existing *unstructured.Unstructured, replication string, handling drv1.ImmutableHandling) Decision {
	if existing == nil {
		return Decision{Action: ActionCreate, Object: desired}
	}
	if !Owned(existing, replication) && !Released(existing, replication) {
		reason := "exists in DR and was not created by dr-syncer; dr-syncer leaves it alone"
		if owner := existing.GetAnnotations()[AnnotationReplication]; kube.IsCopy(existing.GetLabels()) && owner != "" {
			reason = "exists in DR and belongs to Replication " + owner
		}
		return Decision{Action: ActionConflict, Reason: reason}
	}
	want := desired.DeepCopy()
	if k.Kind == "PersistentVolumeClaim" {
		neverShrink(want, existing)
	}
	if existing.GetAnnotations()[AnnotationDesiredHash] == want.GetAnnotations()[AnnotationDesiredHash] && Covers(existing.Object, want.Object) {
		return Decision{Action: ActionNone}
	}
	changed := changedImmutable(k, want, existing)
	if len(changed) == 0 {
		return Decision{Action: ActionUpdate, Object: want}
	}
	d := Decision{Object: want, Immutable: changed}
	if IsVolume(k) {
		// Recreating a DR volume would delete its data: never, whatever the handling.
		return Decision{Action: ActionKeep, Immutable: changed,
			Reason: fmt.Sprintf("immutable fields %s changed in the source; a DR volume is never recreated, as that would delete its data: the DR copy is kept as it is",
				strings.Join(changed, ", "))}
	}
	switch handling {
	case drv1.ImmutableRecreate:
		d.Action = ActionRecreate
	case drv1.ImmutableRecreateWithPodDrain:
		d.Action = ActionRecreate
		if _, ok := PodSelector(k, existing); ok {
			d.Action = ActionRecreateWithDrain
		}
	case drv1.ImmutablePartialUpdate:
		d.Action = ActionPartialUpdate
		for _, path := range changed {
			fields := strings.Split(path, ".")
			if v, found, _ := unstructured.NestedFieldCopy(existing.Object, fields...); found {
				_ = unstructured.SetNestedField(want.Object, v, fields...)
			}
		}
		keepSelectedLabels(want, existing)
	case drv1.ImmutableForceUpdate:
		d.Action = ActionForceRecreate
	default:
		d = Decision{Action: ActionKeep, Immutable: changed,
			Reason: fmt.Sprintf("immutable fields %s changed in the source; immutableResourceConfig NoChange keeps the DR object as it is",
				strings.Join(changed, ", "))}
	}
	return d
}

// keepSelectedLabels keeps the pod template labels a kept selector matches,
// or the API server rejects a template its own selector does not select.
func keepSelectedLabels(want, existing *unstructured.Unstructured) {
	selected, found, _ := unstructured.NestedStringMap(existing.Object, "spec", "selector", "matchLabels")
	if !found {
		return
	}
	labels, hasTemplate, _ := unstructured.NestedStringMap(want.Object, "spec", "template", "metadata", "labels")
	if !hasTemplate && labels == nil {
		return
	}
	for k, v := range selected {
		labels[k] = v
	}
	_ = unstructured.SetNestedStringMap(want.Object, labels, "spec", "template", "metadata", "labels")
}

// HandlingFor returns the immutable-field handling of kind k: its entry in
// overrides (keyed by any name of the kind), else defaultHandling.
func HandlingFor(k Kind, defaultHandling string, overrides map[string]string) drv1.ImmutableHandling {
	for name, h := range overrides {
		if o, ok := Lookup(name); ok && o.Resource == k.Resource && o.Group == k.Group {
			return drv1.ImmutableHandling(h)
		}
		n := strings.ToLower(name)
		if k.Custom() && (n == k.Resource || n == k.Resource+"."+k.Group || n == strings.ToLower(k.Kind)) {
			return drv1.ImmutableHandling(h)
		}
	}
	return drv1.ImmutableHandling(defaultHandling)
}

// immutableFields are, per kind, the fields the API server refuses to change.
var immutableFields = map[string][]string{
	"Deployment":            {"spec.selector"},
	"DaemonSet":             {"spec.selector"},
	"StatefulSet":           {"spec.selector", "spec.serviceName", "spec.volumeClaimTemplates", "spec.podManagementPolicy"},
	"Job":                   {"spec.template", "spec.completionMode"},
	"RoleBinding":           {"roleRef"},
	"PersistentVolumeClaim": {"spec.storageClassName", "spec.accessModes", "spec.volumeMode", "spec.selector", "spec.dataSource", "spec.dataSourceRef", "spec.volumeName"},
	"Secret":                {"type"},
}

func changedImmutable(k Kind, desired, existing *unstructured.Unstructured) []string {
	paths := immutableFields[k.Kind]
	if k.Kind == "ConfigMap" || k.Kind == "Secret" {
		if immutable, _, _ := unstructured.NestedBool(existing.Object, "immutable"); immutable {
			paths = append(append([]string{}, paths...), "immutable", "data", "binaryData")
		}
	}
	var changed []string
	for _, path := range paths {
		fields := strings.Split(path, ".")
		want, found, _ := unstructured.NestedFieldNoCopy(desired.Object, fields...)
		if !found {
			// Left out on purpose (or unset at the source): DR's value stands.
			continue
		}
		have, found, _ := unstructured.NestedFieldNoCopy(existing.Object, fields...)
		if !found && path == "spec.volumeName" {
			continue // binding an unbound claim is allowed
		}
		if !found || !Covers(have, want) {
			changed = append(changed, path)
		}
	}
	return changed
}

// neverShrink keeps a DR PVC's storage request when it is bigger than the
// source's: a PVC cannot shrink, and DR may have been grown on purpose.
func neverShrink(desired, existing *unstructured.Unstructured) {
	path := []string{"spec", "resources", "requests", "storage"}
	want, ok1, _ := unstructured.NestedString(desired.Object, path...)
	have, ok2, _ := unstructured.NestedString(existing.Object, path...)
	if !ok1 || !ok2 {
		return
	}
	w, err1 := resource.ParseQuantity(want)
	h, err2 := resource.ParseQuantity(have)
	if err1 == nil && err2 == nil && h.Cmp(w) > 0 {
		_ = unstructured.SetNestedField(desired.Object, have, path...)
	}
}

// Covers reports whether have holds every field of want with an equal
// value. Fields only in have (defaults, allocated values, other
// controllers' labels) do not matter; an empty map or list in want matches
// a missing one. Lists must have the same length.
func Covers(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, _ := have.(map[string]any)
		if have != nil && h == nil {
			return false
		}
		for k, wv := range w {
			hv, found := h[k]
			if !found {
				if empty(wv) {
					continue
				}
				return false
			}
			if !Covers(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, _ := have.([]any)
		if have != nil && h == nil {
			return false
		}
		if len(h) != len(w) {
			return false
		}
		for i := range w {
			if !Covers(h[i], w[i]) {
				return false
			}
		}
		return true
	case nil:
		return empty(have)
	default:
		return reflect.DeepEqual(number(have), number(want))
	}
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// number makes int64 and float64 of equal value compare equal, as JSON
// decoding may yield either.
func number(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int:
		return float64(x)
	case int32:
		return float64(x)
	}
	return v
}

// PodSelector returns the selector of a workload's pods, for draining.
func PodSelector(k Kind, obj *unstructured.Unstructured) (labels.Selector, bool) {
	switch k.Kind {
	case "Deployment", "StatefulSet", "DaemonSet", "Job":
	default:
		return nil, false
	}
	raw, found, _ := unstructured.NestedMap(obj.Object, "spec", "selector")
	if !found {
		return nil, false
	}
	var ls metav1.LabelSelector
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &ls); err != nil {
		return nil, false
	}
	sel, err := metav1.LabelSelectorAsSelector(&ls)
	if err != nil || sel.Empty() {
		return nil, false
	}
	return sel, true
}

// Scalable reports whether a drain can scale the kind to zero first.
func Scalable(k Kind) bool { return k.Kind == "Deployment" || k.Kind == "StatefulSet" }
