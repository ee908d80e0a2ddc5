package kube_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// In a failback the target is the source's own claim, which is no copy: it
// may receive DR's data only when the DR copy records it as its source.
func TestCheckClaimReverseDecisionTable(t *testing.T) {
	copyMarks := map[string]string{kube.LabelCopy: kube.ManagedBy}
	drCopy := func(labels map[string]string, kv ...string) *corev1.PersistentVolumeClaim {
		a := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			a[kv[i]] = kv[i+1]
		}
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop-dr", UID: "dr-uid", Labels: labels, Annotations: a}}
	}
	recorded := func(uid string) []string {
		return []string{kube.AnnotationSourceCluster, "prod", kube.AnnotationSourceNamespace, "shop", kube.AnnotationSourcePVC, "data",
			kube.AnnotationReplication, "dr/shop", kube.AnnotationSourceUID, uid}
	}
	original := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop", UID: "prod-uid", Labels: map[string]string{"app": "db"}}}
	madeByFailback := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop", UID: "new-uid", Labels: copyMarks,
		Annotations: map[string]string{kube.AnnotationSourceCluster: "dr", kube.AnnotationSourceNamespace: "shop-dr", kube.AnnotationSourcePVC: "data",
			kube.AnnotationReplication: "dr/shop", kube.AnnotationSourceUID: "dr-uid"}}}
	tests := []struct {
		name   string
		target *corev1.PersistentVolumeClaim
		dr     *corev1.PersistentVolumeClaim
		want   kube.ClaimVerdict
		reason string
	}{
		{"the claim the DR copy was made from", original, drCopy(copyMarks, recorded("prod-uid")...), kube.ClaimOriginal, ""},
		{"a claim of that name created again since", original, drCopy(copyMarks, recorded("old-uid")...), kube.ClaimForeign,
			"not the claim the DR copy was made from (uid prod-uid, the DR copy records uid old-uid)"},
		{"the DR copy records no UID", original, drCopy(copyMarks, recorded("")...), kube.ClaimForeign, "does not record its source's UID"},
		{"the DR copy was made from another claim", original,
			drCopy(copyMarks, kube.AnnotationSourceCluster, "prod", kube.AnnotationSourceNamespace, "billing", kube.AnnotationSourcePVC, "data", kube.AnnotationSourceUID, "prod-uid"),
			kube.ClaimForeign, "was made from prod/billing/data, not from it"},
		{"the DR claim is no copy", original, drCopy(map[string]string{"app": "db"}), kube.ClaimForeign, "is no dr-syncer copy"},
		{"the DR claim is another Replication's copy", original,
			drCopy(copyMarks, kube.AnnotationReplication, "dr/other", kube.AnnotationSourceUID, "prod-uid"), kube.ClaimForeign, "copy of Replication dr/other"},
		{"a claim an earlier failback created from this DR copy", madeByFailback, drCopy(copyMarks, recorded("prod-uid")...), kube.ClaimOwned, ""},
		{"a claim an earlier failback created from a DR copy made again", madeByFailback,
			&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop-dr", UID: "dr-uid-2", Labels: copyMarks}},
			kube.ClaimReplaced, "re-created"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := kube.CheckClaimReverse(tc.target, tc.dr, "dr", "prod", "dr/shop")
			assert.Equal(t, tc.want, got)
			if tc.reason == "" {
				assert.Empty(t, reason)
			} else {
				assert.Contains(t, reason, tc.reason)
			}
		})
	}
}

// A claim a failback created becomes the original once its data is in:
// without the marks of a copy, and recognised only as made from its DR claim.
func TestUnmarkedAndMadeFrom(t *testing.T) {
	dr := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop-dr", UID: "dr-uid"}}
	made := kube.TargetPVC(dr, nil, kube.PVCMapping{SourceCluster: "dr", DestinationNamespace: "shop", Replication: "dr/shop"})
	made.Labels["app"] = "db"
	made.Annotations["team"] = "payments"
	kube.MarkDataSynced(made, metav1.Now().Time)
	assert.True(t, kube.MadeFrom(made, dr, "dr"))
	assert.False(t, kube.MadeFrom(made, dr, "prod"), "another cluster's claim of that name")
	other := dr.DeepCopy()
	other.UID = "dr-uid-2"
	assert.False(t, kube.MadeFrom(made, other, "dr"), "a DR claim made again")

	original := kube.Unmarked(made)
	assert.Equal(t, map[string]string{"app": "db"}, original.Labels)
	assert.Equal(t, map[string]string{"team": "payments"}, original.Annotations)
	assert.False(t, kube.MadeFrom(original, dr, "dr"))
	assert.Contains(t, made.Annotations, kube.AnnotationSourceUID, "Unmarked copies")
}
