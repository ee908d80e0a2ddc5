package resources

import (
	"strconv"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
)

// scaleDown runs a Deployment's or StatefulSet's DR copy at zero replicas
// when scaleToZero is set (and scale-override is not), recording the
// source's count for a failover to scale back up to.
func scaleDown(obj *unstructured.Unstructured, o Options) *Scale {
	if !o.ScaleToZero || obj.GetAnnotations()[drv1.AnnotationScaleOverride] == "true" {
		return nil
	}
	replicas := int64(1) // the API server's default
	if v, found, _ := unstructured.NestedFieldNoCopy(obj.Object, "spec", "replicas"); found {
		if n, ok := number(v).(float64); ok {
			replicas = int64(n)
		}
	}
	if recorded, ok := recordedReplicas(obj, o); ok {
		// A copy of a DR copy: it runs at zero, and the application's own
		// count is the one the DR copy recorded.
		replicas = recorded
	}
	_ = unstructured.SetNestedField(obj.Object, int64(0), "spec", "replicas")
	setAnnotation(obj, drv1.AnnotationOriginalReplicas, strconv.FormatInt(replicas, 10))
	return &Scale{Original: int32(replicas), DR: 0}
}

// suspend keeps CronJobs and Jobs from running in DR when workloads are
// scaled to zero there, for the same reason: DR must not act on production
// systems until failover.
func suspend(obj *unstructured.Unstructured, o Options) {
	if !o.ScaleToZero || obj.GetAnnotations()[drv1.AnnotationScaleOverride] == "true" {
		return
	}
	was, _, _ := unstructured.NestedBool(obj.Object, "spec", "suspend")
	if recorded, err := strconv.ParseBool(obj.GetAnnotations()[AnnotationOriginalSuspend]); o.FromCopies && err == nil {
		// A copy of a DR copy, which dr-syncer suspended: the
		// application's own suspend is the recorded one.
		was = recorded
	}
	_ = unstructured.SetNestedField(obj.Object, true, "spec", "suspend")
	setAnnotation(obj, AnnotationOriginalSuspend, strconv.FormatBool(was))
}

// recordedReplicas is the replica count a DR copy recorded of its source
// when the copy is itself copied (FromCopies); ok is false otherwise.
func recordedReplicas(obj *unstructured.Unstructured, o Options) (int64, bool) {
	if !o.FromCopies {
		return 0, false
	}
	n, err := strconv.ParseInt(obj.GetAnnotations()[drv1.AnnotationOriginalReplicas], 10, 32)
	return n, err == nil
}

func setAnnotation(obj *unstructured.Unstructured, key, value string) {
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[key] = value
	obj.SetAnnotations(a)
}
