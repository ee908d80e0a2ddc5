package contract

import (
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CopyMethod says what a PVC sync reads; the values are the API's.
type CopyMethod string

// Copy methods. CopyAuto (unset) is Snapshot when the source's CSI driver
// has a VolumeSnapshotClass, else Direct.
const (
	CopyAuto     CopyMethod = ""
	CopyDirect   CopyMethod = "Direct"
	CopySnapshot CopyMethod = "Snapshot"
	CopyClone    CopyMethod = "Clone"
)

// Hooks run commands in the source's application pods around its snapshot.
type Hooks struct {
	Selector  metav1.LabelSelector `json:"selector"`
	Container string               `json:"container,omitempty"`
	Freeze    *HookCommand         `json:"freeze,omitempty"`
	Thaw      *HookCommand         `json:"thaw,omitempty"`
}

// HookCommand is one exec'd command and how long it may run in each pod.
type HookCommand struct {
	Command []string `json:"command"`
	Timeout Duration `json:"timeout"`
}

// RestorePoints say how many snapshots of each DR PVC to keep.
type RestorePoints struct {
	Keep                    int32  `json:"keep"`
	VolumeSnapshotClassName string `json:"volumeSnapshotClassName,omitempty"`
}

// CopySourceInput asks which copy method a PVC sync uses and with which
// VolumeSnapshotClass.
type CopySourceInput struct {
	PVC                     PVCRef     `json:"pvc"`
	Method                  CopyMethod `json:"method"`
	VolumeSnapshotClassName string     `json:"volumeSnapshotClassName,omitempty"`
	// HooksSet: hooks need Snapshot, so automatic choice may not fall back.
	HooksSet bool `json:"hooksSet,omitempty"`
}

// CopySource is the method chosen for one sync, and why.
type CopySource struct {
	Method        CopyMethod `json:"method"`
	SnapshotClass string     `json:"snapshotClass,omitempty"`
	Reason        string     `json:"reason,omitempty"`
}

// HookInput runs one hook command in the pods the selector picks.
type HookInput struct {
	// Source is the source PVC: the hook runs in its cluster and namespace.
	Source    PVCRef               `json:"source"`
	Hook      string               `json:"hook"` // "freeze" or "thaw", for messages
	Selector  metav1.LabelSelector `json:"selector"`
	Container string               `json:"container,omitempty"`
	Command   HookCommand          `json:"command"`
}

// HookResult says where the hook ran.
type HookResult struct {
	Pods []string `json:"pods"`
}

// SourceSnapshotInput names the source PVC to snapshot, for one operation.
type SourceSnapshotInput struct {
	Op            Operation `json:"op"`
	PVC           PVCRef    `json:"pvc"`
	SnapshotClass string    `json:"snapshotClass"`
}

// Snapshot is a VolumeSnapshot a sync made, and the instant it captured.
type Snapshot struct {
	Name      string    `json:"name"`
	Namespace string    `json:"namespace"`
	TakenAt   time.Time `json:"takenAt"`
	// RestoreSize is the smallest PVC the snapshot restores into ("1Gi").
	RestoreSize string `json:"restoreSize,omitempty"`
}

// TemporaryPVCInput makes the claim a sync reads: from a snapshot, or a
// clone of the source.
type TemporaryPVCInput struct {
	Op  Operation `json:"op"`
	PVC PVCRef    `json:"pvc"` // the source PVC
	// FromSnapshot is the VolumeSnapshot to restore; empty: clone PVC.
	FromSnapshot string `json:"fromSnapshot,omitempty"`
}

// RestorePointInput takes a restore point of a DR PVC after a good sync.
type RestorePointInput struct {
	Op          Operation `json:"op"`
	PVC         PVCRef    `json:"pvc"` // the DR PVC
	Replication string    `json:"replication"`
	// CopiedAt is the instant the copy shows: the source snapshot's, or
	// the start of a Direct transfer.
	CopiedAt      time.Time     `json:"copiedAt"`
	RestorePoints RestorePoints `json:"restorePoints"`
}

// RestorePoint is one kept snapshot of a DR PVC.
type RestorePoint struct {
	Name string `json:"name"`
	// PVC is the DR PVC it is a copy of.
	PVC string `json:"pvc"`
	// CopiedAt is the instant of the source the restore point holds.
	CopiedAt time.Time `json:"copiedAt"`
	Size     string    `json:"size,omitempty"`
	Run      string    `json:"run,omitempty"`
}

// PruneRestorePointsInput keeps the newest Keep restore points of a DR PVC.
type PruneRestorePointsInput struct {
	PVC         PVCRef `json:"pvc"`
	Replication string `json:"replication"`
	Keep        int32  `json:"keep"`
}

// ListRestorePointsInput names where a Replication's DR copies are.
type ListRestorePointsInput struct {
	Cluster     ClusterRef `json:"cluster"`
	Namespace   string     `json:"namespace"`
	Replication string     `json:"replication"`
	// PVC limits the list to one DR PVC; empty lists all.
	PVC string `json:"pvc,omitempty"`
}
