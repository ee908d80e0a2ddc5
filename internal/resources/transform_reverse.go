package resources

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// A reverse run (a failback) copies the DR namespace back into the source
// namespace. There the objects are originals: users and their tools own
// them, the next forward run copies them to DR again, and a mark of a copy
// on them would make that run skip them as chained copies. So what a
// reverse run writes carries none of dr-syncer's marks, and nothing it
// writes starts: the failback's cutover scales the source up afterwards,
// from drv1.AnnotationFailoverReplicas, once DR is down.

// bookkeepingPrefix is the prefix of every label and annotation dr-syncer
// keeps on its copies.
const bookkeepingPrefix = "dr-syncer.io/"

// transformReverse returns the source object that src, a DR copy, says
// the source should hold again.
func transformReverse(k Kind, src *unstructured.Unstructured, o Options) Desired {
	switch k.Kind {
	case PersistentVolume.Kind:
		return Desired{Skip: "a DR volume is never written over the source's own volumes; the data sync fills the source's claims"}
	case "Ingress":
		if i := o.Ingress; !i.PreserveAnnotations || !i.PreserveTLS || !i.PreserveBackends {
			// Its rules are an atomic list: applying DR's would drop the
			// backends ingressConfig kept out of DR.
			return Desired{Skip: "its DR copy lacks what ingressConfig left out of it; the source's own Ingress stands"}
		}
	}
	obj := copyObject(src, o)
	unmark(obj)
	switch k.Kind {
	case "Deployment", "StatefulSet":
		_ = unstructured.SetNestedField(obj.Object, int64(0), "spec", "replicas")
	case "CronJob", "Job":
		_ = unstructured.SetNestedField(obj.Object, true, "spec", "suspend")
	}
	clean(k, obj, o)
	return Desired{Object: obj}
}

// unmark drops the marks of a copy: every dr-syncer.io/ label and
// annotation but scale-override, which a user sets on the source and which
// travels with the object; and the managed-by value copies carried before
// LabelCopy existed.
func unmark(obj *unstructured.Unstructured) {
	labels := withoutAnnotations(obj.GetLabels(), nil, []string{bookkeepingPrefix})
	if labels[kube.LabelManagedBy] == kube.ManagedBy {
		delete(labels, kube.LabelManagedBy)
	}
	obj.SetLabels(labels)
	annotations := withoutAnnotations(obj.GetAnnotations(), nil, []string{bookkeepingPrefix})
	if v, ok := obj.GetAnnotations()[drv1.AnnotationScaleOverride]; ok {
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[drv1.AnnotationScaleOverride] = v
	}
	obj.SetAnnotations(annotations)
}

// notOwnCopy says why an object of this Replication's DR namespace is not
// copied out of it, or "": a copy another Replication owns, or one this
// Replication released because its source got the ignore label. Objects
// made in DR by hand (after a failover, say) are copied.
func notOwnCopy(src *unstructured.Unstructured, replication string) string {
	a := src.GetAnnotations()
	if by := a[AnnotationReleased]; by != "" {
		return "released by Replication " + by + " when its source got the " + drv1.LabelIgnore + " label; it is not copied out of DR"
	}
	if owner := a[AnnotationReplication]; kube.IsCopy(src.GetLabels()) && owner != "" && owner != replication {
		return "the DR copy of Replication " + owner + "; only this Replication's copies are copied out of DR"
	}
	return ""
}

// DecideReverse is Decide for a reverse run: existing is the source's
// object, normally an original dr-syncer never marked, which it updates in
// place. It refuses an object that is another Replication's copy, and
// never deletes an original to recreate it, whatever immutableResourceConfig
// says: that handling is for DR copies. There is no desired hash on
// originals, so an object is unchanged when it already holds every field
// the DR copy gives it (Covers).
func DecideReverse(k Kind, desired, existing *unstructured.Unstructured, replication string) Decision {
	if existing == nil {
		return Decision{Action: ActionCreate, Object: desired}
	}
	if owner := existing.GetAnnotations()[AnnotationReplication]; kube.IsCopy(existing.GetLabels()) && owner != "" && owner != replication {
		return Decision{Action: ActionConflict, Reason: "exists in the source and is the DR copy of Replication " + owner}
	}
	want := desired.DeepCopy()
	if k.Kind == "PersistentVolumeClaim" {
		neverShrink(want, existing)
	}
	// The failover recorded the source's replicas here; the failback's
	// cutover scales the source back up from it.
	if v, ok := existing.GetAnnotations()[drv1.AnnotationFailoverReplicas]; ok {
		setAnnotation(want, drv1.AnnotationFailoverReplicas, v)
	}
	if Covers(existing.Object, want.Object) {
		return Decision{Action: ActionNone}
	}
	if changed := changedImmutable(k, want, existing); len(changed) > 0 {
		return Decision{Action: ActionKeep, Immutable: changed,
			Reason: fmt.Sprintf("immutable fields %s differ from the DR copy's; a failback never deletes a source object to recreate it: the source's is kept as it is",
				strings.Join(changed, ", "))}
	}
	return Decision{Action: ActionUpdate, Object: want}
}
