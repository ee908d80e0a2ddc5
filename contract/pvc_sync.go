package contract

import (
	"github.com/dr-syncer/dr-syncer/internal/dataplane/rsyncargs"
)

// PVCSyncInput is everything one PVC's data sync needs, resolved by the
// replication run. Secrets travel as references only.
type PVCSyncInput struct {
	Replication          ObjectRef         `json:"replication"`
	Source               PVCRef            `json:"source"`
	Destination          ClusterRef        `json:"destination"`
	DestinationNamespace string            `json:"destinationNamespace"`
	CreateNamespace      bool              `json:"createNamespace"`
	StorageClassMappings map[string]string `json:"storageClassMappings,omitempty"`
	AccessModeMappings   map[string]string `json:"accessModeMappings,omitempty"`
	PreserveVolumeAttrs  bool              `json:"preserveVolumeAttributes"`
	// DataSync is the plan's validated data sync config. Histories from
	// before it was resolved carry the API's dataSyncConfig here, whose JSON
	// names it shares.
	DataSync     rsyncargs.Config `json:"dataSync"`
	Image        Image            `json:"image"`
	AgentPort    int32            `json:"agentPort"`
	ClusterKey   SecretRef        `json:"clusterKey"`
	AgentHostKey SecretRef        `json:"agentHostKey"`
	Retry        RetrySettings    `json:"retry"`
	FailureMode  FailureMode      `json:"failureMode"`
	// GlobalConcurrencyLimit bounds PVC syncs against the source cluster
	// across all Replications; 0 means no bound.
	GlobalConcurrencyLimit int32 `json:"globalConcurrencyLimit,omitempty"`
	// PermitHeld: the run that started the sync holds one of the source
	// cluster's permits for it until the sync closes, so the sync neither
	// asks for one nor gives it back.
	PermitHeld bool `json:"permitHeld,omitempty"`
	// AcceptChanges: a person accepted what the DR-copy guards hold back (a
	// replaced or shrunk source) for this run.
	AcceptChanges bool `json:"acceptChanges,omitempty"`
	// PointInTime says what the sync reads and which restore points it keeps.
	PointInTime PointInTime `json:"pointInTime,omitempty"`
	// Direction is the run's (ReplicationPlan.Direction). In a reverse run
	// Source is the DR copy and the target the claim it was made from,
	// which the sync writes into without marking it a copy.
	Direction Direction `json:"direction,omitempty"`
	// ReportProgress: the parent run takes SignalPVCProgress reports (a
	// Replication does; a drill, which starts syncs itself, does not).
	ReportProgress bool `json:"reportProgress,omitempty"`
	// Batch: the sync joins a batch of its run (PhaseWaitBatch) before its
	// transfer, and follows the container the run assigns it; false in
	// syncs started before batches, whose histories replay unchanged.
	Batch bool `json:"batch,omitempty"`
}

// PointInTime is a PVC sync's copy source and restore point settings.
type PointInTime struct {
	CopyMethod              CopyMethod    `json:"copyMethod,omitempty"`
	VolumeSnapshotClassName string        `json:"volumeSnapshotClassName,omitempty"`
	Hooks                   *Hooks        `json:"hooks,omitempty"`
	RestorePoints           RestorePoints `json:"restorePoints,omitempty"`
}

// PVCSyncResult says what the sync did and why it placed pods where it did.
type PVCSyncResult struct {
	Source   PVCInfo        `json:"source"`
	Target   TargetPVC      `json:"target"`
	Nodes    NodePlan       `json:"nodes"`
	Transfer TransferResult `json:"transfer"`
	Cleanup  CleanupResult  `json:"cleanup"`
	// CopySource is what the sync read, SourceSnapshot the snapshot it took.
	CopySource     CopySource `json:"copySource,omitempty"`
	SourceSnapshot *Snapshot  `json:"sourceSnapshot,omitempty"`
	// RestorePoints are the DR PVC's restore points after this sync, newest first.
	RestorePoints []RestorePoint `json:"restorePoints,omitempty"`
}

// PVCSyncProgress is the answer to the progress query. Bytes and percent of
// a running transfer are on the pending Transfer activity's heartbeat.
type PVCSyncProgress struct {
	Phase  string        `json:"phase"`
	Result PVCSyncResult `json:"result"`
}

// PVC sync phases, in order.
const (
	PhaseDiscover    = "Discover"
	PhaseTargetPVC   = "EnsureTargetPVC"
	PhaseChooseNodes = "ChooseNodes"
	PhaseCredentials = "EnsureCredentials"
	// The point-in-time steps, between EnsureTargetPVC and ChooseNodes.
	PhasePlanCopySource    = "PlanCopySource"
	PhaseFreeze            = "Freeze"
	PhaseSnapshotSource    = "SnapshotSource"
	PhaseThaw              = "Thaw"
	PhaseWaitSnapshotReady = "WaitSnapshotReady"
	PhaseTemporaryPVC      = "CreateTemporaryPVC"
	PhaseWaitPermit        = "WaitForPermit"
	PhaseMountPod          = "EnsureMountPod"
	PhaseTransfer          = "Transfer"
	PhaseMarkSynced        = "MarkSynced"
	// After MarkSynced, with restore points kept.
	PhaseRestorePoint       = "TakeRestorePoint"
	PhasePruneRestorePoints = "PruneRestorePoints"
	PhaseCleanup            = "Cleanup"
	PhaseDone               = "Done"
)
