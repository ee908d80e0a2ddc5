package pointintime

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

var (
	failoverOp = contract.Operation{WorkflowID: "failover/dr-syncer-system/shop/20261206t100000z", RunID: "run-f"}
	replaceIn  = contract.ReplaceFromPointInput{Op: failoverOp, DR: drPVC, Replication: replication,
		Point: contract.RestorePoint{Name: rpName("data", 5), PVC: "data", CopiedAt: day(5), Size: "1Gi"}}
	// copyAnnotations are the DR PVC's marks of its source and Replication,
	// which the claim made again must keep.
	copyAnnotations = map[string]string{
		kube.AnnotationReplication: replication, kube.AnnotationSource: "prod/shop/data",
		kube.AnnotationSourceUID: "source-uid", kube.AnnotationLastDataSync: "2026-12-05T21:00:05Z",
	}
)

// newReplaceClusters is the DR cluster with the DR PVC data as a sync
// leaves it: bound to volume pv-data, whose reclaim policy is Delete.
func newReplaceClusters(t *testing.T) *fakeClusters {
	f := newFakeClusters(t)
	ctx := context.Background()
	pvc, err := f.cs.CoreV1().PersistentVolumeClaims("shop-dr").Get(ctx, "data", metav1.GetOptions{})
	require.NoError(t, err)
	pvc.UID, pvc.Spec.VolumeName, pvc.Finalizers = "uid-live", "pv-data", []string{"kubernetes.io/pvc-protection"}
	pvc.Annotations = map[string]string{"pv.kubernetes.io/bind-completed": "yes", "volume.kubernetes.io/storage-provisioner": "hostpath.csi.k8s.io"}
	for k, v := range copyAnnotations {
		pvc.Annotations[k] = v
	}
	_, err = f.cs.CoreV1().PersistentVolumeClaims("shop-dr").Update(ctx, pvc, metav1.UpdateOptions{})
	require.NoError(t, err)
	_, err = f.cs.CoreV1().PersistentVolumes().Create(ctx, &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pv-data"},
		Spec: corev1.PersistentVolumeSpec{
			ClaimRef:                      &corev1.ObjectReference{Namespace: "shop-dr", Name: "data", UID: "uid-live"},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete, StorageClassName: "fast",
			Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeBound},
	}, metav1.CreateOptions{})
	require.NoError(t, err)
	f.cs.ClearActions()
	return f
}

// assertReplaced checks the DR PVC is the claim made again from the point
// and pv-data keeps the old data, marked.
func assertReplaced(t *testing.T, f *fakeClusters) {
	t.Helper()
	ctx := context.Background()
	pvc, err := f.cs.CoreV1().PersistentVolumeClaims("shop-dr").Get(ctx, "data", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, kube.SnapshotSource(rpName("data", 5)), *pvc.Spec.DataSource)
	assert.Empty(t, pvc.Spec.VolumeName, "a new volume, not the kept one")
	assert.Equal(t, "fast", kube.StorageClassOf(pvc))
	assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, pvc.Spec.AccessModes)
	assert.Equal(t, "1Gi", kube.PVCSize(pvc))
	assert.Equal(t, map[string]string{kube.LabelCopy: kube.ManagedBy, "app": "db"}, pvc.Labels, "still the Replication's copy, and no operation label a cleanup would select")
	want := map[string]string{
		kube.AnnotationRestoredBy: failoverOp.WorkflowID, kube.AnnotationRestoredFrom: "dr/shop-dr/" + rpName("data", 5),
		kube.AnnotationCopiedAt: "2026-12-05T21:00:00Z",
	}
	for k, v := range copyAnnotations {
		want[k] = v
	}
	assert.Equal(t, want, pvc.Annotations, "no binding annotations of the old claim")

	pv, err := f.cs.CoreV1().PersistentVolumes().Get(ctx, "pv-data", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, corev1.PersistentVolumeReclaimRetain, pv.Spec.PersistentVolumeReclaimPolicy)
	assert.Equal(t, kube.OperationID(failoverOp.WorkflowID), pv.Labels[kube.LabelReplacedBy])
	assert.Equal(t, "shop-dr/data", pv.Annotations[kube.AnnotationReplacedClaim])
	assert.Equal(t, "dr/shop-dr/"+rpName("data", 5), pv.Annotations[kube.AnnotationReplacedFrom])
	assert.Equal(t, "Delete", pv.Annotations[kube.AnnotationReplacedReclaimPolicy], "what deleting it would have done")
	var record corev1.PersistentVolumeClaim
	require.NoError(t, json.Unmarshal([]byte(pv.Annotations[kube.AnnotationReplacedClaimRecord]), &record))
	assert.Equal(t, "data", record.Name)
	assert.Equal(t, copyAnnotations, record.Annotations)
}

func TestReplaceFromRestorePointKeepsTheLiveVolumeAndMakesTheClaimAgain(t *testing.T) {
	f := newReplaceClusters(t)
	a := &SnapshotActivities{Clusters: f}
	var res contract.ReplaceFromPointResult
	require.NoError(t, run(t, a, a.ReplaceFromRestorePoint, replaceIn, &res))
	assert.Equal(t, contract.ReplaceFromPointResult{PVC: "dr/shop-dr/data", Point: rpName("data", 5), RetainedVolume: "pv-data"}, res)
	assertReplaced(t, f)

	assert.Equal(t, []string{"patch persistentvolumes /pv-data", "delete persistentvolumeclaims shop-dr/data", "create persistentvolumeclaims shop-dr/data"},
		writes(f.cs.Actions()), "the volume is kept before the claim goes, and never deleted")
	for _, act := range f.cs.Actions() {
		if del, ok := act.(k8stesting.DeleteAction); ok {
			require.NotNil(t, del.GetDeleteOptions().Preconditions)
			assert.Equal(t, "uid-live", string(*del.GetDeleteOptions().Preconditions.UID), "only the claim that was read")
		}
	}
	assert.Empty(t, writes(f.snaps.Actions()), "the restore point is only read")
}

func TestReplaceFromRestorePointAfterTheClaimWasDeletedMakesItFromTheRecord(t *testing.T) {
	f := newReplaceClusters(t)
	crashed := false
	f.cs.PrependReactor("create", "persistentvolumeclaims", func(k8stesting.Action) (bool, runtime.Object, error) {
		if crashed {
			return false, nil, nil
		}
		crashed = true
		return true, nil, errors.New("worker killed")
	})
	a := &SnapshotActivities{Clusters: f}
	require.Error(t, run(t, a, a.ReplaceFromRestorePoint, replaceIn, nil))
	ctx := context.Background()
	_, err := f.cs.CoreV1().PersistentVolumeClaims("shop-dr").Get(ctx, "data", metav1.GetOptions{})
	require.Error(t, err, "the first attempt died with the claim deleted")

	f.cs.ClearActions()
	var res contract.ReplaceFromPointResult
	require.NoError(t, run(t, a, a.ReplaceFromRestorePoint, replaceIn, &res))
	assert.Equal(t, "pv-data", res.RetainedVolume)
	assertReplaced(t, f)
	assert.Equal(t, []string{"create persistentvolumeclaims shop-dr/data"}, writes(f.cs.Actions()))
}

func TestReplaceFromRestorePointAfterTheVolumeWasKeptFinishes(t *testing.T) {
	f := newReplaceClusters(t)
	crashed := false
	f.cs.PrependReactor("delete", "persistentvolumeclaims", func(k8stesting.Action) (bool, runtime.Object, error) {
		if crashed {
			return false, nil, nil
		}
		crashed = true
		return true, nil, errors.New("worker killed")
	})
	a := &SnapshotActivities{Clusters: f}
	require.Error(t, run(t, a, a.ReplaceFromRestorePoint, replaceIn, nil))
	f.cs.ClearActions()
	require.NoError(t, run(t, a, a.ReplaceFromRestorePoint, replaceIn, nil))
	assertReplaced(t, f) // and the volume still says its policy was Delete, not the Retain the first attempt set
	assert.Equal(t, []string{"patch persistentvolumes /pv-data", "delete persistentvolumeclaims shop-dr/data", "create persistentvolumeclaims shop-dr/data"},
		writes(f.cs.Actions()))
}

func TestReplaceFromRestorePointAlreadyReplacedOnlyWaits(t *testing.T) {
	f := newReplaceClusters(t)
	a := &SnapshotActivities{Clusters: f}
	require.NoError(t, run(t, a, a.ReplaceFromRestorePoint, replaceIn, nil))
	f.cs.ClearActions()
	var res contract.ReplaceFromPointResult
	require.NoError(t, run(t, a, a.ReplaceFromRestorePoint, replaceIn, &res))
	assert.Equal(t, contract.ReplaceFromPointResult{PVC: "dr/shop-dr/data", Point: rpName("data", 5), RetainedVolume: "pv-data"}, res)
	assert.Empty(t, writes(f.cs.Actions()), "no second delete")
	assertReplaced(t, f)

	other := replaceIn
	other.Point = contract.RestorePoint{Name: rpName("data", 4), PVC: "data", CopiedAt: day(4)}
	err := run(t, a, a.ReplaceFromRestorePoint, other, nil)
	assert.Equal(t, contract.ErrTypeClaimNotReplaceable, errorType(t, err))
	assert.ErrorContains(t, err, "already replaced by this failover from dr/shop-dr/"+rpName("data", 5))
	assert.Empty(t, writes(f.cs.Actions()), "the claim is not replaced twice")
}

func TestReplaceFromRestorePointRefusesBeforeAnyWrite(t *testing.T) {
	for name, tc := range map[string]struct {
		claim          func(*corev1.PersistentVolumeClaim)
		point          string
		errType, where string
	}{
		"an unbound claim": {claim: func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName, c.Status.Phase = "", corev1.ClaimPending },
			errType: contract.ErrTypeClaimNotReplaceable, where: "DR PVC dr/shop-dr/data is Pending and bound to no volume"},
		"another Replication's claim": {claim: func(c *corev1.PersistentVolumeClaim) { c.Annotations[kube.AnnotationReplication] = "ops/other" },
			errType: contract.ErrTypeConflict, where: "not Replication dr-syncer-system/shop's DR copy"},
		"a claim that is no copy": {claim: func(c *corev1.PersistentVolumeClaim) { delete(c.Labels, kube.LabelCopy) },
			errType: contract.ErrTypeConflict, where: "a failover replaces only its own copies"},
		"another PVC's point":  {point: rpName("logs", 7), errType: contract.ErrTypeRestorePointUnusable, where: "a snapshot of another PVC"},
		"a point still taken":  {point: rpName("data", 6), errType: contract.ErrTypeRestorePointUnusable, where: "still being taken"},
		"a point that is gone": {point: "data-rp-gone", errType: contract.ErrTypeRestorePointNotFound, where: "not found"},
		"a volume that is gone": {claim: func(c *corev1.PersistentVolumeClaim) { c.Spec.VolumeName = "pv-gone" },
			errType: contract.ErrTypeClaimNotReplaceable, where: "volume pv-gone of DR PVC dr/shop-dr/data does not exist"},
		"a volume bound to another claim": {claim: func(c *corev1.PersistentVolumeClaim) { c.UID = "uid-other" },
			errType: contract.ErrTypeClaimNotReplaceable, where: "volume pv-data is not bound to DR PVC dr/shop-dr/data"},
	} {
		t.Run(name, func(t *testing.T) {
			f := newReplaceClusters(t)
			ctx := context.Background()
			if tc.claim != nil {
				pvc, err := f.cs.CoreV1().PersistentVolumeClaims("shop-dr").Get(ctx, "data", metav1.GetOptions{})
				require.NoError(t, err)
				tc.claim(pvc)
				_, err = f.cs.CoreV1().PersistentVolumeClaims("shop-dr").Update(ctx, pvc, metav1.UpdateOptions{})
				require.NoError(t, err)
				f.cs.ClearActions()
			}
			in := replaceIn
			if tc.point != "" {
				in.Point = contract.RestorePoint{Name: tc.point, PVC: "data", CopiedAt: day(6)}
			}
			a := &SnapshotActivities{Clusters: f}
			err := run(t, a, a.ReplaceFromRestorePoint, in, nil)
			assert.Equal(t, tc.errType, errorType(t, err))
			assert.ErrorContains(t, err, tc.where)
			assert.Empty(t, writes(f.cs.Actions()), "the DR PVC and its volume are left as they are")
			assert.Empty(t, writes(f.snaps.Actions()))
		})
	}
}

func TestReplaceFromRestorePointNamesThePodsThatKeepTheClaim(t *testing.T) {
	f := newReplaceClusters(t)
	// kubernetes.io/pvc-protection: the claim stays while a pod uses it.
	f.cs.PrependReactor("delete", "persistentvolumeclaims", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, nil
	})
	ctx := context.Background()
	mounts := []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}
	for name, phase := range map[string]corev1.PodPhase{"db-0": corev1.PodRunning, "backup-done": corev1.PodSucceeded} {
		_, err := f.cs.CoreV1().Pods("shop-dr").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop-dr"},
			Spec: corev1.PodSpec{Volumes: mounts}, Status: corev1.PodStatus{Phase: phase}}, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	// The activity's time runs out while the pod keeps the claim.
	short, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	env.SetWorkerOptions(worker.Options{BackgroundActivityContext: short})
	var heartbeats []string
	env.SetOnActivityHeartbeatListener(func(_ *activity.Info, details converter.EncodedValues) {
		var s string
		if details.Get(&s) == nil {
			heartbeats = append(heartbeats, s)
		}
	})
	a := &SnapshotActivities{Clusters: f}
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(a.ReplaceFromRestorePoint, replaceIn)
	// The workflow sees a timeout, whose details are the last heartbeat
	// (the test environment does not carry them: the listener shows them).
	var timeout *temporal.TimeoutError
	require.ErrorAs(t, err, &timeout)
	require.NotEmpty(t, heartbeats)
	assert.Equal(t, "waiting for DR PVC dr/shop-dr/data to be deleted: pods db-0 use it (kubernetes.io/pvc-protection keeps it until they stop)",
		heartbeats[len(heartbeats)-1], "the finished pod does not keep it")
	pv, err := f.cs.CoreV1().PersistentVolumes().Get(ctx, "pv-data", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, corev1.PersistentVolumeReclaimRetain, pv.Spec.PersistentVolumeReclaimPolicy, "kept before the delete was asked")
}
