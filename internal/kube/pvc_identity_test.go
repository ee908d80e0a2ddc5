package kube_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

func TestCheckClaimDecisionTable(t *testing.T) {
	source := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop", UID: "uid-2"}}
	copyOf := func(labels, annotations map[string]string) *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop-dr", Labels: labels, Annotations: annotations}}
	}
	mine := map[string]string{kube.LabelCopy: kube.ManagedBy}
	legacy := map[string]string{kube.LabelManagedBy: kube.ManagedBy}
	sourceOf := func(cluster, ns, pvc string) map[string]string {
		return map[string]string{kube.AnnotationSourceCluster: cluster, kube.AnnotationSourceNamespace: ns, kube.AnnotationSourcePVC: pvc}
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name     string
		existing *corev1.PersistentVolumeClaim
		want     kube.ClaimVerdict
		reason   string
	}{
		{"made by a user", copyOf(map[string]string{"app": "db"}, nil), kube.ClaimForeign, "not created by dr-syncer"},
		{"Helm's, not ours", copyOf(map[string]string{kube.LabelManagedBy: "Helm"}, sourceOf("prod", "shop", "data")), kube.ClaimForeign, "not created by dr-syncer"},
		{"another Replication's copy", copyOf(mine, with(sourceOf("prod", "shop", "data"), kube.AnnotationReplication, "dr/other")), kube.ClaimForeign, "belongs to Replication dr/other"},
		{"an old copy of another source", copyOf(legacy, sourceOf("prod", "billing", "data")), kube.ClaimForeign, "copy of prod/billing/data"},
		{"an old copy of this source, identity not recorded", copyOf(legacy, sourceOf("prod", "shop", "data")), kube.ClaimUnrecorded, ""},
		{"this Replication's copy, identity not recorded", copyOf(mine, with(sourceOf("prod", "shop", "data"), kube.AnnotationReplication, "dr/shop")), kube.ClaimUnrecorded, ""},
		{"this Replication's copy of this claim", copyOf(mine, with(sourceOf("prod", "shop", "data"), kube.AnnotationReplication, "dr/shop", kube.AnnotationSourceUID, "uid-2")), kube.ClaimOwned, ""},
		{"the source claim was re-created", copyOf(mine, with(sourceOf("prod", "shop", "data"), kube.AnnotationReplication, "dr/shop", kube.AnnotationSourceUID, "uid-1")), kube.ClaimReplaced, "re-created (uid uid-2, the DR copy was made from uid uid-1)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := kube.CheckClaim(tc.existing, source, "prod", "dr/shop")
			assert.Equal(t, tc.want, got)
			if tc.reason == "" {
				assert.Empty(t, reason)
			} else {
				assert.Contains(t, reason, tc.reason)
			}
		})
	}
}

func TestTargetPVCRecordsTheSourceAndMigratesTheOldMark(t *testing.T) {
	source := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop", UID: "uid-2", Labels: map[string]string{"app": "db"}},
		Spec:       corev1.PersistentVolumeClaimSpec{VolumeName: "pv-2"},
	}
	existing := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop-dr",
		Labels:      map[string]string{kube.LabelManagedBy: kube.ManagedBy},
		Annotations: map[string]string{kube.AnnotationSourceDeletedAt: "2026-12-01T00:00:00Z"}}}
	got := kube.TargetPVC(source, existing, kube.PVCMapping{SourceCluster: "prod", DestinationNamespace: "shop-dr", Replication: "dr/shop"})
	assert.Equal(t, map[string]string{"app": "db", kube.LabelCopy: kube.ManagedBy}, got.Labels, "the source's labels exactly, plus dr-syncer.io/ marks")
	assert.Equal(t, "uid-2", got.Annotations[kube.AnnotationSourceUID])
	assert.Equal(t, "pv-2", got.Annotations[kube.AnnotationSourceVolume])
	assert.Equal(t, "dr/shop", got.Annotations[kube.AnnotationReplication])
	assert.Equal(t, "prod/shop/data", got.Annotations[kube.AnnotationSource])
	assert.NotContains(t, got.Annotations, kube.AnnotationSourceDeletedAt, "the source is back")

	helm := source.DeepCopy()
	helm.Labels[kube.LabelManagedBy] = "Helm"
	got = kube.TargetPVC(helm, existing, kube.PVCMapping{SourceCluster: "prod", DestinationNamespace: "shop-dr", Replication: "dr/shop"})
	assert.Equal(t, "Helm", got.Labels[kube.LabelManagedBy])
}

func TestSharedBacking(t *testing.T) {
	nfs := func(server, path string) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			NFS: &corev1.NFSVolumeSource{Server: server, Path: path}}}}
	}
	csi := func(driver, handle string) *corev1.PersistentVolume {
		return &corev1.PersistentVolume{Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{
			CSI: &corev1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: handle}}}}
	}
	tests := []struct {
		name       string
		source, dr *corev1.PersistentVolume
		shared     bool
	}{
		{"same NFS export", nfs("nas", "/exports/shop"), nfs("nas", "/exports/shop"), true},
		{"other NFS path", nfs("nas", "/exports/shop"), nfs("nas", "/exports/shop-dr"), false},
		{"same CSI volume", csi("ebs", "vol-1"), csi("ebs", "vol-1"), true},
		{"same handle, other driver", csi("ebs", "vol-1"), csi("efs", "vol-1"), false},
		{"NFS and CSI", nfs("nas", "/x"), csi("ebs", "vol-1"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			what, shared := kube.SharedBacking(tc.source, tc.dr)
			assert.Equal(t, tc.shared, shared)
			assert.Equal(t, tc.shared, what != "")
		})
	}
}
