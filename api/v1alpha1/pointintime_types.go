package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// CopyMethod says what a PVC sync reads: the live volume, or a point-in-time
// copy of it made by the source's CSI driver.
// +kubebuilder:validation:Enum=Direct;Snapshot;Clone
type CopyMethod string

// Copy methods.
const (
	// CopyDirect reads the live volume while the application writes to it:
	// files can be copied at different moments, so a database copied this
	// way is not crash-consistent.
	CopyDirect CopyMethod = "Direct"
	// CopySnapshot takes a VolumeSnapshot of the source PVC, makes a
	// temporary PVC from it and reads that: the copy is of one instant
	// (crash-consistent), and with freeze/thaw hooks application-consistent.
	CopySnapshot CopyMethod = "Snapshot"
	// CopyClone makes a temporary CSI clone of the source PVC (a PVC whose
	// dataSource is the source) and reads that.
	CopyClone CopyMethod = "Clone"
)

// ConsistencyHooks run a command in the source's application pods around the
// snapshot: freeze before it is taken, thaw once it is taken. Thaw always
// runs once freeze ran, on failure and cancellation too.
type ConsistencyHooks struct {
	// Selector picks the pods in the source namespace the hooks run in.
	Selector metav1.LabelSelector `json:"selector"`
	// Container the commands run in; unset: the pod's first container.
	// +optional
	Container string `json:"container,omitempty"`
	// Freeze runs before the snapshot is taken (flush and block writes).
	// +optional
	Freeze *HookCommand `json:"freeze,omitempty"`
	// Thaw runs once the snapshot is taken (let writes go on).
	// +optional
	Thaw *HookCommand `json:"thaw,omitempty"`
}

// HookCommand is one command run with exec, without a shell unless it names one.
type HookCommand struct {
	// +kubebuilder:validation:MinItems=1
	Command []string `json:"command"`
	// Timeout bounds the command in each pod; a command that runs longer
	// fails the sync.
	// +kubebuilder:default="30s"
	// +optional
	Timeout Duration `json:"timeout,omitempty"`
}

// RestorePointsConfig keeps the last good copies of each DR PVC as
// VolumeSnapshots in the DR cluster.
type RestorePointsConfig struct {
	// Keep is how many restore points each DR PVC keeps; a new one is taken
	// after every successful sync of the PVC and the oldest beyond Keep are
	// deleted. A failed or interrupted sync neither takes nor deletes one.
	// 0 takes none.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	// +optional
	Keep int32 `json:"keep,omitempty"`
	// VolumeSnapshotClassName for the restore points; unset: the default
	// class of the DR PVC's CSI driver.
	// +optional
	VolumeSnapshotClassName string `json:"volumeSnapshotClassName,omitempty"`
}
