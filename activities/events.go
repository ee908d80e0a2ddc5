package activities

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// LatestEvent is the newest event about an object, as "Reason: message",
// so a wait can say what the cluster says is holding it up.
func LatestEvent(ctx context.Context, cs kubernetes.Interface, namespace, kind, name string) string {
	events, err := cs.CoreV1().Events(namespace).List(ctx, metav1.ListOptions{
		FieldSelector: fields.AndSelectors(
			fields.OneTermEqualSelector("involvedObject.kind", kind),
			fields.OneTermEqualSelector("involvedObject.name", name),
		).String(),
	})
	if err != nil || len(events.Items) == 0 {
		return "no events yet"
	}
	latest := events.Items[0]
	for _, e := range events.Items[1:] {
		if e.LastTimestamp.After(latest.LastTimestamp.Time) {
			latest = e
		}
	}
	return fmt.Sprintf("%s: %s", latest.Reason, latest.Message)
}
