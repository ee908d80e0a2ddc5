package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ReplicationPhase is where a Replication stands.
// +kubebuilder:validation:Enum=Pending;Running;Completed;Failed;FailedOver
type ReplicationPhase string

// Replication phases.
const (
	PhasePending   ReplicationPhase = "Pending"
	PhaseRunning   ReplicationPhase = "Running"
	PhaseCompleted ReplicationPhase = "Completed"
	PhaseFailed    ReplicationPhase = "Failed"
)

// ReplicationStatus mirrors the replication's runs.
type ReplicationStatus struct {
	// Phase is Pending, Running, Completed, Failed, or FailedOver while DR
	// runs the workloads. A Continuous Replication is Running for as long
	// as it watches its source; each sync's result is in lastRun,
	// lastSyncTime and the Synced condition.
	// +optional
	Phase ReplicationPhase `json:"phase,omitempty"`

	// Route is where the Replication copies, "SOURCE-CLUSTER/NAMESPACE →
	// DR-CLUSTER/NAMESPACE", for `kubectl get`.
	// +optional
	Route string `json:"route,omitempty"`

	// Conditions of the replication; Synced says whether the last sync succeeded and why not.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// LastSyncTime is when the last successful sync finished.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`

	// LastSyncStartTime is when the last successful sync started: what the
	// source held before it is in DR, so the RPO counts from it.
	// +optional
	LastSyncStartTime *metav1.Time `json:"lastSyncStartTime,omitempty"`

	// NextSyncTime is when the next scheduled sync starts.
	// +optional
	NextSyncTime *metav1.Time `json:"nextSyncTime,omitempty"`

	// SyncStats counts syncs.
	// +optional
	SyncStats *SyncStats `json:"syncStats,omitempty"`

	// SyncProgress reports the running sync.
	// +optional
	SyncProgress *SyncProgress `json:"syncProgress,omitempty"`

	// ResourceStatus reports each replicated object of the last sync.
	// +optional
	ResourceStatus []ResourceStatus `json:"resourceStatus,omitempty"`

	// ResourceGroups counts the replicated objects per kind.
	// +optional
	ResourceGroups []ResourceGroupStatus `json:"resourceGroups,omitempty"`

	// LastError is the last failure, kept until a sync succeeds.
	// +optional
	LastError *SyncError `json:"lastError,omitempty"`

	// DeploymentScales lists the workloads scaled down in DR.
	// +optional
	DeploymentScales []DeploymentScale `json:"deploymentScales,omitempty"`

	// CurrentRun is the workflow run in progress.
	// +optional
	CurrentRun *WorkflowRef `json:"currentRun,omitempty"`

	// LastRun is the last finished workflow run.
	// +optional
	LastRun *WorkflowRef `json:"lastRun,omitempty"`
	// RestorePoints lists each DR PVC's restore points, newest first, as
	// the last sync of that PVC left them.
	// +optional
	RestorePoints []PVCRestorePoints `json:"restorePoints,omitempty"`

	// Failover is which side runs the workloads, and the last failover or
	// failback; syncs are paused while it says FailingOver, FailedOver or FailingBack.
	// +optional
	Failover *FailoverStatus `json:"failover,omitempty"`

	// LastDrill is the last DR drill.
	// +optional
	LastDrill *DrillStatus `json:"lastDrill,omitempty"`

	// RequestsHandled maps the failover, failback and drill annotations to
	// the last value that started a workflow.
	// +optional
	RequestsHandled map[string]string `json:"requestsHandled,omitempty"`

	// SyncNowHandled is the last value of the sync-now annotation that started a run.
	// +optional
	SyncNowHandled string `json:"syncNowHandled,omitempty"`

	// AcceptChangesHandled is the last value of the accept-changes
	// annotation a run took; a new value lets one more run through the guards.
	// +optional
	AcceptChangesHandled string `json:"acceptChangesHandled,omitempty"`

	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
}

// SyncStats counts syncs.
type SyncStats struct {
	// TotalResources is the number of objects the last sync considered.
	TotalResources int32 `json:"totalResources"`
	// SuccessfulSyncs counts successful runs.
	SuccessfulSyncs int32 `json:"successfulSyncs"`
	// FailedSyncs counts failed runs.
	FailedSyncs int32 `json:"failedSyncs"`
	// ConsecutiveFailures counts the runs that failed since the last
	// successful one; a success resets it to 0.
	// +optional
	ConsecutiveFailures int32 `json:"consecutiveFailures,omitempty"`
	// LastSyncDuration is how long the last run took.
	// +optional
	LastSyncDuration string `json:"lastSyncDuration,omitempty"`
}

// SyncProgress reports the running sync.
type SyncProgress struct {
	// PercentComplete of the whole run, 0 to 100.
	PercentComplete int32 `json:"percentComplete"`
	// CurrentOperation is what the run is doing now.
	// +optional
	CurrentOperation string `json:"currentOperation,omitempty"`
	// BytesTransferred so far in this run.
	// +optional
	BytesTransferred int64 `json:"bytesTransferred,omitempty"`
	// BytesTotal to transfer in this run, when known.
	// +optional
	BytesTotal int64 `json:"bytesTotal,omitempty"`
	// PVCsDone is the number of PVCs whose data sync finished.
	// +optional
	PVCsDone int32 `json:"pvcsDone,omitempty"`
	// PVCsTotal is the number of PVCs whose data this run syncs.
	// +optional
	PVCsTotal int32 `json:"pvcsTotal,omitempty"`
	// Summary is the progress in a few words ("3/10 PVCs, 45%"), for `kubectl get`.
	// +optional
	Summary string `json:"summary,omitempty"`
	// PVCs are this run's PVC syncs the controller has seen start, and how
	// each ended; each change is recorded once as an Event.
	// +listType=map
	// +listMapKey=name
	// +optional
	PVCs []PVCSyncState `json:"pvcs,omitempty"`
}

// PVCSyncState is where one PVC's data sync of the running run stands.
type PVCSyncState struct {
	// Name of the source PVC.
	Name string `json:"name"`
	// State is Running, Completed or Failed.
	State string `json:"state"`
}

// States of a PVC sync in PVCSyncState.
const (
	PVCSyncRunning   = "Running"
	PVCSyncCompleted = "Completed"
	PVCSyncFailed    = "Failed"
)

// ResourceStatus reports one replicated object.
type ResourceStatus struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// State is Synced, Failed, Skipped, SourceDeleted (a DR volume kept
	// although its source is gone) or DeletionHeld (the deletion guard kept it).
	State string `json:"state"`
	// +optional
	Error string `json:"error,omitempty"`
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
}

// ResourceGroupStatus counts the objects of one kind.
type ResourceGroupStatus struct {
	Kind   string `json:"kind"`
	Total  int32  `json:"total"`
	Synced int32  `json:"synced"`
	Failed int32  `json:"failed"`
}

// SyncError describes a failure.
type SyncError struct {
	Message string `json:"message"`
	// Category is Validation, NotFound, Conflict, Network or DataSync.
	// +optional
	Category string      `json:"category,omitempty"`
	Time     metav1.Time `json:"time"`
}

// DeploymentScale records a workload scaled in DR.
type DeploymentScale struct {
	Kind             string      `json:"kind"`
	Name             string      `json:"name"`
	OriginalReplicas int32       `json:"originalReplicas"`
	DRReplicas       int32       `json:"drReplicas"`
	LastScaled       metav1.Time `json:"lastScaled"`
}

// PVCRestorePoints are one DR PVC's restore points.
type PVCRestorePoints struct {
	// PVC is the DR PVC's name.
	PVC    string               `json:"pvc"`
	Points []RestorePointStatus `json:"points"`
}

// RestorePointStatus is one restore point: a VolumeSnapshot in the DR namespace.
type RestorePointStatus struct {
	// Name of the VolumeSnapshot.
	Name string `json:"name"`
	// CopiedAt is the instant of the source the restore point holds.
	CopiedAt metav1.Time `json:"copiedAt"`
	// Size is the snapshot's restore size, as the driver reports it.
	// +optional
	Size string `json:"size,omitempty"`
}
