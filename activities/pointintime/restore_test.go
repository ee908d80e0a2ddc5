package pointintime

import (
	"context"
	"testing"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	snapfake "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned/fake"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	k8sfake "k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
	k8stesting "k8s.io/client-go/testing"

	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/internal/kube"
)

// fakeClusters is one DR cluster of fake clientsets. Their reactors stand
// in for the provisioner and the snapshot-controller: a new PVC is bound
// and a new VolumeSnapshot ready as soon as they are created.
type fakeClusters struct {
	cs    *k8sfake.Clientset
	snaps *snapfake.Clientset
}

func (f *fakeClusters) Clientset(context.Context, string, string) (kubernetes.Interface, error) {
	return f.cs, nil
}
func (f *fakeClusters) Config(context.Context, string, string) (*rest.Config, error) {
	return &rest.Config{}, nil
}
func (f *fakeClusters) Snapshots(context.Context, string, string) (snapclient.Interface, error) {
	return f.snaps, nil
}

var (
	drCluster   = contract.ClusterRef{Namespace: "dr-syncer-system", Name: "dr"}
	drPVC       = contract.PVCRef{Cluster: drCluster, Namespace: "shop-dr", Name: "data"}
	replication = "dr-syncer-system/shop"
	restoreOp   = contract.Operation{WorkflowID: "restore/dr-syncer-system/shop/data/20261206t100000z", RunID: "run-1"}
	day         = func(d int) time.Time { return time.Date(2026, 12, d, 21, 0, 0, 0, time.UTC) }
)

func newFakeClusters(t *testing.T) *fakeClusters {
	immediate := storagev1.VolumeBindingImmediate
	size := resource.MustParse("1Gi")
	class := "fast"
	dr := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "shop-dr",
			Labels:      map[string]string{kube.LabelCopy: kube.ManagedBy, "app": "db"},
			Annotations: map[string]string{kube.AnnotationReplication: replication}},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound},
	}
	f := &fakeClusters{
		cs: k8sfake.NewClientset(dr,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop-dr"}},
			&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "fast"}, Provisioner: "hostpath.csi.k8s.io", VolumeBindingMode: &immediate}),
		snaps: snapfake.NewSimpleClientset(
			restorePoint("data", day(4), true), restorePoint("data", day(5), true),
			restorePoint("data", day(6), false), // still being taken: not a restore point yet
			restorePoint("logs", day(7), true),
			content("data", day(5))),
	}
	f.cs.PrependReactor("create", "persistentvolumeclaims", func(action k8stesting.Action) (bool, runtime.Object, error) {
		action.(k8stesting.CreateAction).GetObject().(*corev1.PersistentVolumeClaim).Status.Phase = corev1.ClaimBound
		return false, nil, nil
	})
	f.snaps.PrependReactor("create", "volumesnapshots", func(action k8stesting.Action) (bool, runtime.Object, error) {
		s := action.(k8stesting.CreateAction).GetObject().(*snapv1.VolumeSnapshot)
		ready := true
		s.Status = &snapv1.VolumeSnapshotStatus{BoundVolumeSnapshotContentName: s.Spec.Source.VolumeSnapshotContentName, ReadyToUse: &ready}
		return false, nil, nil
	})
	return f
}

// restorePoint is a VolumeSnapshot of the DR PVC pvc as TakeRestorePoint
// leaves it: complete, or still labelled with its sync's operation.
func restorePoint(pvc string, copiedAt time.Time, complete bool) *snapv1.VolumeSnapshot {
	labels := map[string]string{kube.LabelRestorePointOf: kube.OperationID(replication), kube.LabelManagedBy: kube.ManagedBy}
	if !complete {
		labels[kube.LabelOperation] = "sync"
	}
	s := kube.VolumeSnapshot("shop-dr", restorePointName(pvc, copiedAt, "run-"+pvc), pvc, "csi-hostpath", labels,
		map[string]string{kube.AnnotationReplication: replication, kube.AnnotationCopiedAt: copiedAt.Format(time.RFC3339Nano)})
	ready, size, contentName := complete, resource.MustParse("1Gi"), "content-"+s.Name
	s.Status = &snapv1.VolumeSnapshotStatus{ReadyToUse: &ready, RestoreSize: &size, BoundVolumeSnapshotContentName: &contentName}
	return s
}

// content is the VolumeSnapshotContent bound to a restore point: its class
// deletes the storage snapshot with it.
func content(pvc string, copiedAt time.Time) *snapv1.VolumeSnapshotContent {
	name, handle, class := "content-"+restorePointName(pvc, copiedAt, "run-"+pvc), "snap-handle-1", "csi-hostpath"
	mode := corev1.PersistentVolumeFilesystem
	return &snapv1.VolumeSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: snapv1.VolumeSnapshotContentSpec{
			VolumeSnapshotRef: corev1.ObjectReference{Namespace: "shop-dr", Name: restorePointName(pvc, copiedAt, "run-"+pvc)},
			DeletionPolicy:    snapv1.VolumeSnapshotContentDelete, Driver: "hostpath.csi.k8s.io", VolumeSnapshotClassName: &class,
			SourceVolumeMode: &mode,
		},
		Status: &snapv1.VolumeSnapshotContentStatus{SnapshotHandle: &handle},
	}
}

// run runs one activity of a as Temporal would, and decodes its result.
func run(t *testing.T, a *SnapshotActivities, fn, in, out any) error {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	val, err := env.ExecuteActivity(fn, in)
	if err == nil && out != nil {
		require.NoError(t, val.Get(out))
	}
	return err
}

// writes lists every create, update, patch and delete a fake saw, as
// "verb resource namespace/name".
func writes(actions []k8stesting.Action) []string {
	var out []string
	for _, a := range actions {
		name := ""
		switch a := a.(type) {
		case k8stesting.CreateAction:
			name = a.GetObject().(metav1.Object).GetName()
		case k8stesting.PatchAction:
			name = a.GetName()
		case k8stesting.DeleteAction:
			name = a.GetName()
		default:
			continue
		}
		out = append(out, a.GetVerb()+" "+a.GetResource().Resource+" "+a.GetNamespace()+"/"+name)
	}
	return out
}

func errorType(t *testing.T, err error) string {
	t.Helper()
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.True(t, appErr.NonRetryable(), "%v", err)
	return appErr.Type()
}

func TestFindRestorePointLatestIsTheNewestCompleteOfThatPVC(t *testing.T) {
	a := &SnapshotActivities{Clusters: newFakeClusters(t)}
	var p contract.RestorePoint
	require.NoError(t, run(t, a, a.FindRestorePoint, contract.FindRestorePointInput{DR: drPVC, Replication: replication, Point: "latest"}, &p))
	assert.Equal(t, contract.RestorePoint{Name: rpName("data", 5), PVC: "data", CopiedAt: day(5), Size: "1Gi"}, p,
		"not the one still being taken (the 6th), nor the newer one of logs")

	require.NoError(t, run(t, a, a.FindRestorePoint, contract.FindRestorePointInput{DR: drPVC, Replication: replication, Point: rpName("data", 4)}, &p))
	assert.Equal(t, day(4), p.CopiedAt)
}

func TestFindRestorePointNotFoundSaysWhatExists(t *testing.T) {
	a := &SnapshotActivities{Clusters: newFakeClusters(t)}
	for point, want := range map[string][]string{
		rpName("data", 6): {"not found", rpName("data", 5) + ", " + rpName("data", 4), "dr/shop-dr/data", replication},
		rpName("logs", 7): {"not found", "of DR PVC dr/shop-dr/data"}, // another PVC's
	} {
		err := run(t, a, a.FindRestorePoint, contract.FindRestorePointInput{DR: drPVC, Replication: replication, Point: point}, nil)
		assert.Equal(t, contract.ErrTypeRestorePointNotFound, errorType(t, err))
		for _, w := range want {
			assert.ErrorContains(t, err, w, point)
		}
	}
	cache := drPVC
	cache.Name = "cache"
	err := run(t, a, a.FindRestorePoint, contract.FindRestorePointInput{DR: cache, Replication: replication, Point: "latest"}, nil)
	assert.Equal(t, contract.ErrTypeRestorePointNotFound, errorType(t, err))
	assert.ErrorContains(t, err, "DR PVC dr/shop-dr/cache of Replication dr-syncer-system/shop has no complete restore points")
}

func TestRestoreIntoTheDRNamespaceCreatesOnlyTheNewPVC(t *testing.T) {
	f := newFakeClusters(t)
	a := &SnapshotActivities{Clusters: f}
	target := contract.PVCRef{Cluster: drCluster, Namespace: "shop-dr", Name: "data-restored-20261205-210000"}
	point := contract.RestorePoint{Name: rpName("data", 5), PVC: "data", CopiedAt: day(5), Size: "2Gi"}
	require.NoError(t, run(t, a, a.CheckRestoreTarget, contract.RestoreTargetInput{Op: restoreOp, PVC: target}, nil))
	var restored contract.RestoredPVC
	require.NoError(t, run(t, a, a.RestoreFromPoint, contract.RestoreFromPointInput{
		Op: restoreOp, DR: drPVC, Point: point, Target: target, Snapshot: point.Name}, &restored))
	assert.Equal(t, contract.RestoredPVC{PVC: target, StorageClass: "fast", Size: "2Gi", Bound: true}, restored, "the larger of the DR PVC's and the point's size")

	pvc, err := f.cs.CoreV1().PersistentVolumeClaims("shop-dr").Get(context.Background(), target.Name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, kube.SnapshotSource(point.Name), *pvc.Spec.DataSource)
	assert.Equal(t, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}, pvc.Spec.AccessModes)
	assert.Empty(t, pvc.Labels, "handed over: no cleanup selects it, and it is no DR copy")
	assert.False(t, kube.IsCopy(pvc.Labels))
	assert.Equal(t, map[string]string{
		kube.AnnotationRestoredBy: restoreOp.WorkflowID, kube.AnnotationRestoredFrom: "dr/shop-dr/" + rpName("data", 5),
		kube.AnnotationCopiedAt: "2026-12-05T21:00:00Z",
	}, pvc.Annotations)

	// The DR copy and the restore points are only read.
	assert.Equal(t, []string{"create persistentvolumeclaims shop-dr/" + target.Name, "patch persistentvolumeclaims shop-dr/" + target.Name},
		writes(f.cs.Actions()))
	assert.Empty(t, writes(f.snaps.Actions()))

	// A retry finds its own PVC and finishes; a cleanup leaves the handed-over PVC alone.
	require.NoError(t, run(t, a, a.CheckRestoreTarget, contract.RestoreTargetInput{Op: restoreOp, PVC: target}, nil))
	require.NoError(t, run(t, a, a.RestoreFromPoint, contract.RestoreFromPointInput{
		Op: restoreOp, DR: drPVC, Point: point, Target: target, Snapshot: point.Name}, &restored))
	var cleaned contract.CleanupResult
	require.NoError(t, run(t, a, a.CleanupRestore, contract.CleanupRestoreInput{Op: restoreOp, Cluster: drCluster, Namespace: "shop-dr"}, &cleaned))
	assert.Empty(t, cleaned.Deleted)
}

func TestRestoreRefusesAPVCItDidNotMake(t *testing.T) {
	f := newFakeClusters(t)
	_, err := f.cs.CoreV1().PersistentVolumeClaims("shop-dr").Create(context.Background(), &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "mine", Namespace: "shop-dr"}}, metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = f.cs.CoreV1().PersistentVolumeClaims("shop-dr").Create(context.Background(), &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "earlier", Namespace: "shop-dr", Annotations: map[string]string{kube.AnnotationRestoredBy: "restore/x"}}}, metav1.CreateOptions{})
	require.NoError(t, err)
	f.cs.ClearActions()
	a := &SnapshotActivities{Clusters: f}
	point := contract.RestorePoint{Name: rpName("data", 5), PVC: "data", CopiedAt: day(5)}
	for name, whose := range map[string]string{
		"data": "a DR copy, which a restore never touches", "mine": "a PVC this restore did not make", "earlier": "made by the restore restore/x",
	} {
		target := contract.PVCRef{Cluster: drCluster, Namespace: "shop-dr", Name: name}
		err := run(t, a, a.CheckRestoreTarget, contract.RestoreTargetInput{Op: restoreOp, PVC: target}, nil)
		assert.Equal(t, contract.ErrTypeRestoreTargetExists, errorType(t, err))
		assert.ErrorContains(t, err, "PVC dr/shop-dr/"+name+" already exists ("+whose+")")
		assert.ErrorContains(t, err, "--name")

		// Should the name be taken between the check and the restore, the
		// restore still writes nothing to it.
		err = run(t, a, a.RestoreFromPoint, contract.RestoreFromPointInput{Op: restoreOp, DR: drPVC, Point: point, Target: target, Snapshot: point.Name}, nil)
		assert.Equal(t, contract.ErrTypeRestoreTargetExists, errorType(t, err))
	}
	for _, w := range writes(f.cs.Actions()) {
		assert.Regexp(t, "^create persistentvolumeclaims", w, "only the refused creates")
	}
	assert.Empty(t, writes(f.snaps.Actions()))
}

func TestRestoreIntoAnotherNamespaceSharesThePointWithRetain(t *testing.T) {
	f := newFakeClusters(t)
	a := &SnapshotActivities{Clusters: f}
	target := contract.PVCRef{Cluster: drCluster, Namespace: "shop-test", Name: "data"}
	err := run(t, a, a.CheckRestoreTarget, contract.RestoreTargetInput{Op: restoreOp, PVC: target}, nil)
	assert.Equal(t, contract.ErrTypeNamespaceNotFound, errorType(t, err))
	assert.ErrorContains(t, err, "namespace shop-test does not exist in DR cluster dr")
	assert.ErrorContains(t, err, "--create-namespace")
	require.NoError(t, run(t, a, a.CheckRestoreTarget, contract.RestoreTargetInput{Op: restoreOp, PVC: target, CreateNamespace: true}, nil))

	var shared contract.Snapshot
	require.NoError(t, run(t, a, a.ShareRestorePoint, contract.ShareRestorePointInput{
		Op: restoreOp, Cluster: drCluster, Namespace: "shop-dr", Point: rpName("data", 5), ToNamespace: "shop-test"}, &shared))
	name := restoreOp.Name("restore-share")
	assert.Equal(t, contract.Snapshot{Name: name, Namespace: "shop-test"}, shared)
	ctx := context.Background()
	sharedContent, err := f.snaps.SnapshotV1().VolumeSnapshotContents().Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, snapv1.VolumeSnapshotContentRetain, sharedContent.Spec.DeletionPolicy, "removing it must never remove the storage snapshot")
	assert.Equal(t, "snap-handle-1", *sharedContent.Spec.Source.SnapshotHandle)
	assert.Equal(t, "hostpath.csi.k8s.io", sharedContent.Spec.Driver)
	assert.Equal(t, "csi-hostpath", *sharedContent.Spec.VolumeSnapshotClassName)
	assert.Equal(t, corev1.ObjectReference{Namespace: "shop-test", Name: name}, sharedContent.Spec.VolumeSnapshotRef)
	assert.Equal(t, restoreOp.Labels("restore-share"), sharedContent.Labels)
	sharedSnapshot, err := f.snaps.SnapshotV1().VolumeSnapshots("shop-test").Get(ctx, name, metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, name, *sharedSnapshot.Spec.Source.VolumeSnapshotContentName)
	assert.Equal(t, restoreOp.Labels("restore-share"), sharedSnapshot.Labels)

	point := contract.RestorePoint{Name: rpName("data", 5), PVC: "data", CopiedAt: day(5), Size: "1Gi"}
	require.NoError(t, run(t, a, a.RestoreFromPoint, contract.RestoreFromPointInput{
		Op: restoreOp, DR: drPVC, Point: point, Target: target, Snapshot: shared.Name}, nil))
	pvc, err := f.cs.CoreV1().PersistentVolumeClaims("shop-test").Get(ctx, "data", metav1.GetOptions{})
	require.NoError(t, err)
	assert.Equal(t, kube.SnapshotSource(name), *pvc.Spec.DataSource, "restored from the shared snapshot in its own namespace")

	var cleaned contract.CleanupResult
	require.NoError(t, run(t, a, a.CleanupRestore, contract.CleanupRestoreInput{Op: restoreOp, Cluster: drCluster, Namespace: "shop-test"}, &cleaned))
	assert.Equal(t, []string{"dr/volumesnapshot/shop-test/" + name, "dr/volumesnapshotcontent/" + name}, cleaned.Deleted)
	_, err = f.cs.CoreV1().PersistentVolumeClaims("shop-test").Get(ctx, "data", metav1.GetOptions{})
	assert.NoError(t, err, "the restored PVC stays")

	// The restore point, its content and the DR PVC were only read.
	for _, w := range writes(f.snaps.Actions()) {
		assert.Contains(t, []string{"create volumesnapshotcontents /" + name, "create volumesnapshots shop-test/" + name,
			"delete volumesnapshots shop-test/" + name, "delete volumesnapshotcontents /" + name}, w)
	}
	for _, w := range writes(f.cs.Actions()) {
		assert.NotContains(t, w, "shop-dr/")
	}
}

func TestCleanupRestoreRemovesAPVCNeverHandedOver(t *testing.T) {
	f := newFakeClusters(t)
	ctx := context.Background()
	for _, pvc := range []*corev1.PersistentVolumeClaim{
		{ObjectMeta: metav1.ObjectMeta{Name: "half-made", Namespace: "shop-dr", Labels: restoreOp.Labels("restored")}},
		{ObjectMeta: metav1.ObjectMeta{Name: "other-restore", Namespace: "shop-dr",
			Labels: contract.Operation{WorkflowID: "restore/other", RunID: "r"}.Labels("restored")}},
	} {
		_, err := f.cs.CoreV1().PersistentVolumeClaims("shop-dr").Create(ctx, pvc, metav1.CreateOptions{})
		require.NoError(t, err)
	}
	a := &SnapshotActivities{Clusters: f}
	var cleaned contract.CleanupResult
	require.NoError(t, run(t, a, a.CleanupRestore, contract.CleanupRestoreInput{Op: restoreOp, Cluster: drCluster, Namespace: "shop-dr"}, &cleaned))
	assert.Equal(t, []string{"dr/pvc/shop-dr/half-made"}, cleaned.Deleted)
	list, err := f.cs.CoreV1().PersistentVolumeClaims("shop-dr").List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 2, "the DR PVC and the other restore's stay")
	assert.Empty(t, writes(f.snaps.Actions()))
}

// rpName is the name TakeRestorePoint gives the restore point of pvc
// copied on December d.
func rpName(pvc string, d int) string { return restorePointName(pvc, day(d), "run-"+pvc) }
