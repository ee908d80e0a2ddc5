package pvcdata

import (
	"context"
	"testing"
	"time"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// twoClusters resolves RemoteClusters by name to fake clientsets.
type twoClusters map[string]*k8sfake.Clientset

func (c twoClusters) Clientset(_ context.Context, _, name string) (kubernetes.Interface, error) {
	return c[name], nil
}
func (c twoClusters) Config(context.Context, string, string) (*rest.Config, error) {
	return &rest.Config{}, nil
}
func (c twoClusters) Snapshots(context.Context, string, string) (snapclient.Interface, error) {
	return nil, nil
}

var (
	prodRef = contract.ClusterRef{Namespace: "dr-syncer-system", Name: "prod"}
	drRef   = contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}
	// reverseIn is a failback's EnsureTargetPVC of shop-dr/data (DR) into shop (prod).
	reverseIn = contract.TargetPVCInput{
		Source: contract.PVCRef{Cluster: drRef, Namespace: "shop-dr", Name: "data"}, Destination: prodRef, DestinationNamespace: "shop",
		CreateNamespace: true, StorageClassMappings: map[string]string{"fast": "standard"},
		Replication: "dr-syncer-system/shop", Acknowledged: true, Direction: contract.DirectionReverse,
	}
)

func claim(namespace, uid, class, size string, labels, annotations map[string]string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: namespace, UID: types.UID(uid), Labels: labels, Annotations: annotations},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			VolumeName: "pv-" + uid, Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound},
	}
}

// drCopyOf is the DR copy of prod's shop/data made from the claim with uid.
func drCopyOf(uid, size string) *corev1.PersistentVolumeClaim {
	return claim("shop-dr", "dr-uid", "fast", size, map[string]string{kube.LabelCopy: kube.ManagedBy, "app": "db"}, map[string]string{
		kube.AnnotationSourceCluster: "prod", kube.AnnotationSourceNamespace: "shop", kube.AnnotationSourcePVC: "data",
		kube.AnnotationSourceUID: uid, kube.AnnotationReplication: "dr-syncer-system/shop"})
}

func failbackClusters(dr *corev1.PersistentVolumeClaim, prod ...runtime.Object) (*PVCActivities, twoClusters) {
	expand := true
	prod = append(prod, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"}, Provisioner: "p", AllowVolumeExpansion: &expand},
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fixed"}, Provisioner: "p"})
	c := twoClusters{"dr": k8sfake.NewClientset(dr), "prod": k8sfake.NewClientset(prod...)}
	// The API server gives every new claim a UID.
	c["prod"].PrependReactor("create", "persistentvolumeclaims", func(action k8stesting.Action) (bool, runtime.Object, error) {
		pvc := action.(k8stesting.CreateAction).GetObject().(*corev1.PersistentVolumeClaim)
		pvc.UID, pvc.Spec.VolumeName = "new-uid", "pv-new"
		return false, nil, nil
	})
	return &PVCActivities{Clusters: c}, c
}

func getClaim(t *testing.T, c twoClusters, cluster, namespace string) *corev1.PersistentVolumeClaim {
	t.Helper()
	pvc, err := c[cluster].CoreV1().PersistentVolumeClaims(namespace).Get(context.Background(), "data", metav1.GetOptions{})
	require.NoError(t, err)
	return pvc
}

func errType(t *testing.T, err error) string {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	return appErr.Type()
}

func TestFailbackWritesIntoTheOriginalClaimWithoutMarkingIt(t *testing.T) {
	ctx := context.Background()
	original := claim("shop", "prod-uid", "standard", "1Gi", map[string]string{"app": "db"}, map[string]string{"team": "payments"})
	a, c := failbackClusters(drCopyOf("prod-uid", "1Gi"), original)

	got, err := a.EnsureTargetPVC(ctx, reverseIn)
	require.NoError(t, err)
	assert.Equal(t, contract.TargetPVC{Name: "data", Namespace: "shop", StorageClass: "standard", AccessModes: []string{"ReadWriteOnce"}, Size: "1Gi"}, got)
	assert.Equal(t, original, getClaim(t, c, "prod", "shop"), "the original is left exactly as it is")

	require.NoError(t, a.MarkSynced(ctx, contract.MarkSyncedInput{Destination: prodRef, Namespace: "shop", Name: "data", At: time.Now(),
		Direction: contract.DirectionReverse, Source: &reverseIn.Source}))
	assert.Equal(t, original, getClaim(t, c, "prod", "shop"), "not marked synced either: it is no copy")
}

func TestFailbackGrowsTheOriginalOrSaysWhyItCannot(t *testing.T) {
	ctx := context.Background()
	a, c := failbackClusters(drCopyOf("prod-uid", "5Gi"), claim("shop", "prod-uid", "standard", "1Gi", nil, nil))
	got, err := a.EnsureTargetPVC(ctx, reverseIn)
	require.NoError(t, err)
	assert.True(t, got.Grown)
	grown := getClaim(t, c, "prod", "shop")
	assert.Equal(t, "5Gi", kube.PVCSize(grown), "DR's copy grew after the failover")
	assert.False(t, kube.IsCopy(grown.Labels))
	assert.Empty(t, grown.Annotations)

	a, _ = failbackClusters(drCopyOf("prod-uid", "5Gi"), claim("shop", "prod-uid", "fixed", "1Gi", nil, nil))
	_, err = a.EnsureTargetPVC(ctx, reverseIn)
	assert.Equal(t, contract.ErrTypeTargetTooSmall, errType(t, err))
	assert.Contains(t, err.Error(), `requests 1Gi, its DR copy dr/shop-dr/data requests 5Gi, and storage class "fixed" cannot expand it`)
}

func TestFailbackRefusesAClaimTheDRCopyWasNotMadeFrom(t *testing.T) {
	for name, tc := range map[string]struct {
		dr     *corev1.PersistentVolumeClaim
		target *corev1.PersistentVolumeClaim
		reason string
	}{
		"created again since":  {drCopyOf("old-uid", "1Gi"), claim("shop", "prod-uid", "standard", "1Gi", nil, nil), "(uid prod-uid, the DR copy records uid old-uid)"},
		"the DR claim's owner": {claim("shop-dr", "dr-uid", "fast", "1Gi", map[string]string{kube.LabelCopy: kube.ManagedBy}, map[string]string{kube.AnnotationReplication: "ops/billing"}), claim("shop", "prod-uid", "standard", "1Gi", nil, nil), "the DR copy of Replication ops/billing"},
	} {
		t.Run(name, func(t *testing.T) {
			a, c := failbackClusters(tc.dr, tc.target)
			_, err := a.EnsureTargetPVC(context.Background(), reverseIn)
			assert.Equal(t, contract.ErrTypeConflict, errType(t, err))
			assert.Contains(t, err.Error(), tc.reason)
			assert.Equal(t, tc.target, getClaim(t, c, "prod", "shop"), "untouched")
		})
	}
}

// The source's claim is gone (an unplanned failover lost it): the failback
// creates it as a copy of the DR claim, which a retry recognises, and once
// the data is in, it becomes the original and the DR claim its copy again.
func TestFailbackCreatesAMissingClaimAndHandsItBack(t *testing.T) {
	ctx := context.Background()
	a, c := failbackClusters(drCopyOf("lost-uid", "1Gi"))
	got, err := a.EnsureTargetPVC(ctx, reverseIn)
	require.NoError(t, err)
	assert.True(t, got.Created)
	assert.Equal(t, "standard", got.StorageClass, "DR's class maps back")
	made := getClaim(t, c, "prod", "shop")
	assert.True(t, kube.MadeFrom(made, getClaim(t, c, "dr", "shop-dr"), "dr"))

	_, err = a.EnsureTargetPVC(ctx, reverseIn)
	require.NoError(t, err, "a retry finds the claim it made")

	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	in := contract.MarkSyncedInput{Destination: prodRef, Namespace: "shop", Name: "data", At: at, Direction: contract.DirectionReverse, Source: &reverseIn.Source}
	require.NoError(t, a.MarkSynced(ctx, in))
	original := getClaim(t, c, "prod", "shop")
	assert.False(t, kube.IsCopy(original.Labels), "the source's claim again")
	assert.Equal(t, map[string]string{"app": "db"}, original.Labels)
	assert.Empty(t, original.Annotations)
	dr := getClaim(t, c, "dr", "shop-dr")
	assert.Equal(t, "new-uid", dr.Annotations[kube.AnnotationSourceUID], "the DR claim is the copy of the new claim: the next forward sync owns it")
	assert.Equal(t, "pv-new", dr.Annotations[kube.AnnotationSourceVolume])
	assert.Equal(t, "dr-syncer-system/shop", dr.Annotations[kube.AnnotationReplication])
	assert.Equal(t, "2026-12-06T10:00:00Z", dr.Annotations[kube.AnnotationLastDataSync])
	verdict, _ := kube.CheckClaim(dr, original, "prod", "dr-syncer-system/shop")
	assert.Equal(t, kube.ClaimOwned, verdict)

	require.NoError(t, a.MarkSynced(ctx, in), "idempotent")
	_, err = a.EnsureTargetPVC(ctx, reverseIn)
	require.NoError(t, err, "a later failback finds the original its DR copy records")
}
