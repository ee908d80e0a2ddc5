package resources

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// NamespaceOptions say what of the source namespace's metadata travels.
type NamespaceOptions struct {
	PreserveLabels      bool
	PreserveAnnotations bool
}

// TransformNamespace returns the DR namespace for the source namespace src.
func TransformNamespace(src *unstructured.Unstructured, o Options, no NamespaceOptions) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace"}}
	obj.SetName(o.DestinationNamespace)
	if no.PreserveLabels {
		// The API server sets kubernetes.io/metadata.name to the namespace's own name.
		obj.SetLabels(withoutKeys(src.GetLabels(), []string{"kubernetes.io/metadata.name"}))
	}
	if no.PreserveAnnotations {
		obj.SetAnnotations(withoutAnnotations(src.GetAnnotations(), controllerAnnotations, nil))
	}
	if o.Reverse {
		// The source's own namespace (see transformReverse).
		unmark(obj)
		return obj
	}
	mark(obj, src.GetName(), o)
	return obj
}

// rewriteSubjects points subjects in the source namespace at the destination.
func rewriteSubjects(obj *unstructured.Unstructured, o Options) {
	subjects, _, _ := unstructured.NestedSlice(obj.Object, "subjects")
	for _, s := range subjects {
		if sm, ok := s.(map[string]any); ok && sm["namespace"] == o.SourceNamespace {
			sm["namespace"] = o.DestinationNamespace
		}
	}
	if subjects != nil {
		_ = unstructured.SetNestedSlice(obj.Object, subjects, "subjects")
	}
}

// rewriteNamespaceSelectors rewrites peers selecting the source namespace by
// its kubernetes.io/metadata.name label.
func rewriteNamespaceSelectors(obj *unstructured.Unstructured, o Options) {
	for _, dir := range []struct{ rules, peers string }{{"ingress", "from"}, {"egress", "to"}} {
		rules, _, _ := unstructured.NestedSlice(obj.Object, "spec", dir.rules)
		for _, r := range rules {
			rm, ok := r.(map[string]any)
			if !ok {
				continue
			}
			peers, _ := rm[dir.peers].([]any)
			for _, p := range peers {
				pm, ok := p.(map[string]any)
				if !ok {
					continue
				}
				labels, found, _ := unstructured.NestedStringMap(pm, "namespaceSelector", "matchLabels")
				if found && labels["kubernetes.io/metadata.name"] == o.SourceNamespace {
					labels["kubernetes.io/metadata.name"] = o.DestinationNamespace
					_ = unstructured.SetNestedStringMap(pm, labels, "namespaceSelector", "matchLabels")
				}
			}
		}
		if rules != nil {
			_ = unstructured.SetNestedSlice(obj.Object, rules, "spec", dir.rules)
		}
	}
}
