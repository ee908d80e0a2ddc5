package kube_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dr-syncer/dr-syncer/internal/kube"
)

func TestTargetPVCSpecOfANewClaim(t *testing.T) {
	block, class, drClass, empty, attrs := corev1.PersistentVolumeBlock, "standard", "dr-standard", "", "gold"
	source := func() *corev1.PersistentVolumeClaim {
		return &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop"},
			Spec: corev1.PersistentVolumeClaimSpec{
				StorageClassName:          &class,
				AccessModes:               []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadWriteOncePod},
				VolumeMode:                &block,
				VolumeName:                "pvc-123",
				VolumeAttributesClassName: &attrs,
				Selector:                  &metav1.LabelSelector{MatchLabels: map[string]string{"disk": "a"}},
				Resources: corev1.VolumeResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
				},
			},
		}
	}
	requests := corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")}}
	tests := []struct {
		name   string
		claim  kube.ClaimMapping
		source func(*corev1.PersistentVolumeClaim)
		want   corev1.PersistentVolumeClaimSpec
	}{
		{name: "mapped class and modes; selector and attributes class dropped, volume mode kept; modes that map together appear once",
			claim: kube.ClaimMapping{StorageClasses: map[string]string{"standard": "dr-standard"},
				AccessModes: map[string]string{"ReadWriteOnce": "ReadWriteMany", "ReadWriteOncePod": "ReadWriteMany"}},
			want: corev1.PersistentVolumeClaimSpec{StorageClassName: &drClass, VolumeMode: &block,
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}, Resources: requests}},
		{name: "attributes preserved, never the source's volume name",
			claim: kube.ClaimMapping{PreserveVolumeAttributes: true},
			want: corev1.PersistentVolumeClaimSpec{StorageClassName: &class,
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadWriteOncePod},
				VolumeMode:  &block, VolumeAttributesClassName: &attrs,
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"disk": "a"}}, Resources: requests}},
		{name: "an empty class becomes the DR default, so the data sync gets a provisioned volume",
			source: func(p *corev1.PersistentVolumeClaim) { p.Spec.StorageClassName = &empty },
			want: corev1.PersistentVolumeClaimSpec{VolumeMode: &block,
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadWriteOncePod}, Resources: requests}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := source()
			if tc.source != nil {
				tc.source(src)
			}
			before := src.DeepCopy()
			m := kube.PVCMapping{SourceCluster: "prod", DestinationNamespace: "shop-dr", ClaimMapping: tc.claim}
			got := kube.TargetPVC(src, nil, m)
			assert.Equal(t, tc.want, got.Spec)
			assert.Equal(t, before, src, "the source is not changed")
			want := ""
			if tc.want.StorageClassName != nil {
				want = *tc.want.StorageClassName
			}
			assert.Equal(t, want, m.StorageClass(src), "the class checked in DR is the class created")
		})
	}
}

func TestTargetPVCGrowsItsStorageLimitWithItsRequest(t *testing.T) {
	storage := func(request, limit string) corev1.VolumeResourceRequirements {
		r := corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(request)}}
		if limit != "" {
			r.Limits = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(limit)}
		}
		return r
	}
	source := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop"},
		Spec: corev1.PersistentVolumeClaimSpec{Resources: storage("2Gi", "")}}
	existing := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop-dr"},
		Spec: corev1.PersistentVolumeClaimSpec{Resources: storage("1Gi", "1Gi")}}

	got := kube.TargetPVC(source, existing, kube.PVCMapping{DestinationNamespace: "shop-dr"})
	assert.Equal(t, "2Gi", got.Spec.Resources.Requests.Storage().String())
	assert.Equal(t, "2Gi", got.Spec.Resources.Limits.Storage().String(), "a request above the limit is refused")

	bigger := &corev1.PersistentVolumeClaim{ObjectMeta: existing.ObjectMeta, Spec: corev1.PersistentVolumeClaimSpec{Resources: storage("3Gi", "5Gi")}}
	got = kube.TargetPVC(source, bigger, kube.PVCMapping{DestinationNamespace: "shop-dr"})
	assert.Equal(t, "3Gi", got.Spec.Resources.Requests.Storage().String(), "never shrinks")
	assert.Equal(t, "5Gi", got.Spec.Resources.Limits.Storage().String())
}
