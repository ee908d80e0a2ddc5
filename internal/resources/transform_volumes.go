package resources

import (
	"fmt"
	"reflect"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

func cleanClaim(obj *unstructured.Unstructured, o Options) {
	obj.SetAnnotations(withoutAnnotations(obj.GetAnnotations(), nil, storageAnnotationPrefixes))
	spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
	if spec == nil {
		return
	}
	if !o.PVC.SyncPersistentVolumes || !o.PVC.PortableVolumes[fmt.Sprint(spec["volumeName"])] {
		delete(spec, "volumeName")
	}
	mapClaimSpec(map[string]any{"spec": spec}, o.PVC.ClaimMapping)
	obj.Object["spec"] = spec
}

// mapClaimSpec applies the claim mapping, the one the PVC sync uses, to a
// PVC's or a claim template's "spec". Only the fields the mapping changed are
// written back, so fields this client does not know, and the source's own
// spelling of quantities, travel unchanged.
func mapClaimSpec(claim map[string]any, m kube.ClaimMapping) {
	spec, ok := claim["spec"].(map[string]any)
	if !ok {
		return
	}
	// The source API server validated the spec, so it converts. If it somehow
	// does not, it is copied unmapped: Transform cannot fail, and a skip would
	// prune the DR copy.
	var typed corev1.PersistentVolumeClaimSpec
	if runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &typed) != nil {
		return
	}
	before, err1 := runtime.DefaultUnstructuredConverter.ToUnstructured(&typed)
	m.MapSpec(&typed)
	after, err2 := runtime.DefaultUnstructuredConverter.ToUnstructured(&typed)
	if err1 != nil || err2 != nil {
		return
	}
	for field := range before {
		if _, kept := after[field]; !kept {
			delete(spec, field)
		}
	}
	for field, v := range after {
		if !reflect.DeepEqual(before[field], v) {
			spec[field] = v
		}
	}
}

// VolumePortable reports whether a PV can be replicated with its name, so
// the DR PVC binds to the same storage: node-local volumes cannot be.
func VolumePortable(pv *unstructured.Unstructured) (bool, string) {
	for _, local := range []string{"local", "hostPath"} {
		if _, found, _ := unstructured.NestedMap(pv.Object, "spec", local); found {
			return false, "a " + local + " volume lives on a source node"
		}
	}
	return true, ""
}

// TransformVolume returns the DR copy of the PV bound to a replicated PVC:
// pre-bound to the DR claim and always Retain, because deleting the DR claim
// must never delete storage the source may still use.
func TransformVolume(pv *unstructured.Unstructured, o Options) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": pv.GetAPIVersion(), "kind": pv.GetKind()}}
	spec, _, _ := unstructured.NestedMap(pv.DeepCopy().Object, "spec")
	if spec == nil {
		spec = map[string]any{}
	}
	if ref, ok := spec["claimRef"].(map[string]any); ok {
		spec["claimRef"] = map[string]any{
			"kind": "PersistentVolumeClaim", "apiVersion": "v1",
			"namespace": o.DestinationNamespace, "name": ref["name"],
		}
	}
	spec["persistentVolumeReclaimPolicy"] = "Retain"
	if sc, ok := spec["storageClassName"].(string); ok {
		// Mapped like its claim's, or the DR claim would not bind to it.
		spec["storageClassName"] = o.PVC.MapStorageClass(sc)
	}
	obj.Object["spec"] = spec
	obj.SetName(pv.GetName())
	obj.SetLabels(pv.GetLabels())
	obj.SetAnnotations(withoutAnnotations(pv.GetAnnotations(), controllerAnnotations, storageAnnotationPrefixes))
	mark(obj, pv.GetName(), o)
	return obj
}
