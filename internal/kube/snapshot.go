package kube

import (
	"fmt"
	"sort"
	"time"

	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AnnotationDefaultSnapshotClass marks a cluster's default
// VolumeSnapshotClass for its driver (the snapshot-controller's convention).
const AnnotationDefaultSnapshotClass = "snapshot.storage.kubernetes.io/is-default-class"

// Restore points: snapshots of a DR PVC kept after good syncs. They carry
// the DR PVC's source identity annotations, and these.
const (
	// LabelRestorePointOf is OperationID("<replication>") of the
	// Replication whose DR copy the snapshot holds; restore points are
	// listed by it.
	LabelRestorePointOf = "dr-syncer.io/restore-point-of"
	// LabelCopiedAt is the copy's instant to the second, as a label
	// (20261204T210000Z), and LabelSourceUID the source PVC's UID, so
	// restore points can be selected by either.
	LabelCopiedAt  = "dr-syncer.io/copied-at"
	LabelSourceUID = "dr-syncer.io/source-uid"
	// AnnotationCopiedAt is the instant of the source the copy holds: the
	// source snapshot's, or the start of a Direct transfer (RFC 3339).
	AnnotationCopiedAt = "dr-syncer.io/copied-at"
)

// Marks of a PVC restored from a restore point. They are annotations, not
// labels: the PVC is the user's, which no dr-syncer cleanup, prune or sync
// selects, and they only say where it came from.
const (
	// AnnotationRestoredBy is the workflow ID of the restore that made the
	// PVC; a retried step of that restore finds its own PVC by it.
	AnnotationRestoredBy = "dr-syncer.io/restored-by"
	// AnnotationRestoredFrom is the restore point, as
	// "<cluster>/<namespace>/<name>"; AnnotationCopiedAt says what it holds.
	AnnotationRestoredFrom = "dr-syncer.io/restored-from"
)

// Marks of the volume that held a DR PVC's live data before a failover
// replaced the claim in place from a restore point. The volume is kept
// (reclaim policy Retain): nothing of dr-syncer ever deletes it, and these
// let a person find it, see what it was and bind or delete it.
const (
	// LabelReplacedBy is OperationID(<workflow ID>) of the failover that
	// replaced the claim: `kubectl get pv -l dr-syncer.io/replaced-by`.
	LabelReplacedBy = "dr-syncer.io/replaced-by"
	// AnnotationReplacedClaim is the claim the volume belonged to, as
	// "<namespace>/<name>", and AnnotationReplacedFrom the restore point
	// that replaced its data, as AnnotationRestoredFrom says it.
	AnnotationReplacedClaim = "dr-syncer.io/replaced-claim"
	AnnotationReplacedFrom  = "dr-syncer.io/replaced-from"
	// AnnotationReplacedClaimRecord is the claim's JSON (metadata without
	// its identity and binding, and spec): once the claim is gone, the
	// replacement is made from it, and a person can read what it was.
	AnnotationReplacedClaimRecord = "dr-syncer.io/replaced-claim-record"
	// AnnotationReplacedReclaimPolicy is the volume's reclaim policy before
	// it was set to Retain: what deleting the volume would have done.
	AnnotationReplacedReclaimPolicy = "dr-syncer.io/replaced-reclaim-policy"
)

// ChooseSnapshotClass picks the VolumeSnapshotClass for a volume of driver:
// wanted when named (it must be that driver's), else the driver's default,
// else its only class. problem says what is missing and what to create.
func ChooseSnapshotClass(classes []snapv1.VolumeSnapshotClass, driver, wanted string) (name, problem string) {
	var ofDriver []string
	for _, c := range classes {
		if c.Driver != driver {
			if c.Name == wanted {
				return "", fmt.Sprintf("VolumeSnapshotClass %s is for driver %s, not %s: name a class of %s", wanted, c.Driver, driver, driver)
			}
			continue
		}
		if c.Name == wanted || (wanted == "" && c.Annotations[AnnotationDefaultSnapshotClass] == "true") {
			return c.Name, ""
		}
		ofDriver = append(ofDriver, c.Name)
	}
	switch {
	case wanted != "":
		return "", fmt.Sprintf("VolumeSnapshotClass %s does not exist: create it (driver: %s) or name another", wanted, driver)
	case len(ofDriver) == 1:
		return ofDriver[0], ""
	case len(ofDriver) > 1:
		sort.Strings(ofDriver)
		return "", fmt.Sprintf("CSI driver %s has several VolumeSnapshotClasses (%v) and none is the default: annotate one with %s=true or name it in volumeSnapshotClassName", driver, ofDriver, AnnotationDefaultSnapshotClass)
	}
	return "", fmt.Sprintf("no VolumeSnapshotClass for CSI driver %s: create one (driver: %s, deletionPolicy: Delete, annotation %s=true)", driver, driver, AnnotationDefaultSnapshotClass)
}

// VolumeSnapshot is a snapshot of the PVC namespace/claim.
func VolumeSnapshot(namespace, name, claim, class string, labels, annotations map[string]string) *snapv1.VolumeSnapshot {
	return &snapv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels, Annotations: annotations},
		Spec: snapv1.VolumeSnapshotSpec{
			Source:                  snapv1.VolumeSnapshotSource{PersistentVolumeClaimName: &claim},
			VolumeSnapshotClassName: &class,
		},
	}
}

// SnapshotTaken says whether the driver has cut the snapshot (the instant
// it holds is fixed), which is when a freeze may end; ReadyToUse may come
// later.
func SnapshotTaken(s *snapv1.VolumeSnapshot) bool {
	return s.Status != nil && s.Status.CreationTime != nil
}

// SnapshotReady says whether a PVC can be made from the snapshot.
func SnapshotReady(s *snapv1.VolumeSnapshot) bool {
	return s.Status != nil && s.Status.ReadyToUse != nil && *s.Status.ReadyToUse
}

// SnapshotError is the driver's or controller's error on the snapshot, "" if none.
func SnapshotError(s *snapv1.VolumeSnapshot) string {
	if s.Status == nil || s.Status.Error == nil || s.Status.Error.Message == nil {
		return ""
	}
	return *s.Status.Error.Message
}

// SnapshotTime is the instant the snapshot holds; zero before it is taken.
func SnapshotTime(s *snapv1.VolumeSnapshot) time.Time {
	if !SnapshotTaken(s) {
		return time.Time{}
	}
	return s.Status.CreationTime.Time
}

// SnapshotRestoreSize is the smallest claim the snapshot restores into, "" if unknown.
func SnapshotRestoreSize(s *snapv1.VolumeSnapshot) string {
	if s.Status == nil || s.Status.RestoreSize == nil {
		return ""
	}
	return s.Status.RestoreSize.String()
}

// ClaimFrom is a new claim like source (class, modes, volume mode, size at
// least the source's and the snapshot's) whose content comes from
// dataSource: a VolumeSnapshot or, for a clone, source itself.
func ClaimFrom(source *corev1.PersistentVolumeClaim, namespace, name string, dataSource corev1.TypedLocalObjectReference,
	minSize string, labels, annotations map[string]string) (*corev1.PersistentVolumeClaim, error) {
	size := source.Spec.Resources.Requests[corev1.ResourceStorage]
	if minSize != "" {
		q, err := resource.ParseQuantity(minSize)
		if err != nil {
			return nil, fmt.Errorf("restore size %q of %s: %w", minSize, dataSource.Name, err)
		}
		if q.Cmp(size) > 0 {
			size = q
		}
	}
	claim := &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels, Annotations: annotations},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: source.Spec.StorageClassName,
			AccessModes:      source.Spec.AccessModes,
			VolumeMode:       source.Spec.VolumeMode,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
			DataSourceRef:    &corev1.TypedObjectReference{APIGroup: dataSource.APIGroup, Kind: dataSource.Kind, Name: dataSource.Name},
			DataSource:       &dataSource,
		},
	}
	return claim, nil
}

// SnapshotSource is the data source of a claim restored from a VolumeSnapshot.
func SnapshotSource(name string) corev1.TypedLocalObjectReference {
	group := snapv1.GroupName
	return corev1.TypedLocalObjectReference{APIGroup: &group, Kind: "VolumeSnapshot", Name: name}
}

// CloneSource is the data source of a clone of the claim name.
func CloneSource(name string) corev1.TypedLocalObjectReference {
	return corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: name}
}

// SharedSnapshot is a second handle on the storage snapshot behind content,
// for a PVC in namespace (a claim can use only a VolumeSnapshot of its own
// namespace): a pre-provisioned VolumeSnapshotContent named name for the
// same snapshot handle, and the VolumeSnapshot name in namespace bound to
// it. Its deletionPolicy is Retain, so deleting the pair never deletes the
// storage snapshot, which the original still holds.
func SharedSnapshot(content *snapv1.VolumeSnapshotContent, namespace, name string, labels map[string]string) (*snapv1.VolumeSnapshotContent, *snapv1.VolumeSnapshot, error) {
	if content.Status == nil || content.Status.SnapshotHandle == nil || *content.Status.SnapshotHandle == "" {
		return nil, nil, fmt.Errorf("VolumeSnapshotContent %s has no snapshot handle yet", content.Name)
	}
	handle, contentName := *content.Status.SnapshotHandle, name
	shared := &snapv1.VolumeSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec: snapv1.VolumeSnapshotContentSpec{
			VolumeSnapshotRef:       corev1.ObjectReference{Namespace: namespace, Name: name},
			DeletionPolicy:          snapv1.VolumeSnapshotContentRetain,
			Driver:                  content.Spec.Driver,
			VolumeSnapshotClassName: content.Spec.VolumeSnapshotClassName,
			Source:                  snapv1.VolumeSnapshotContentSource{SnapshotHandle: &handle},
			SourceVolumeMode:        content.Spec.SourceVolumeMode,
		},
	}
	snapshot := &snapv1.VolumeSnapshot{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: labels},
		Spec: snapv1.VolumeSnapshotSpec{
			Source:                  snapv1.VolumeSnapshotSource{VolumeSnapshotContentName: &contentName},
			VolumeSnapshotClassName: content.Spec.VolumeSnapshotClassName,
		},
	}
	return shared, snapshot, nil
}
