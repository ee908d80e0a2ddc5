package contract

// Every error type a dr-syncer workflow or activity fails with. Workflows,
// the controller and the CLI match on them, and they are in histories, so
// they are part of the API: never rename one.

// Error types of a Replication run.
const (
	// ErrTypeSyncFailed: some step of the run failed; its details carry the
	// ReplicationResult.
	ErrTypeSyncFailed = "SyncFailed"
	// ErrTypeResourcesFailed: a ReplicateResources run whose failure mode
	// (FailFast, RetryOnly) says the run fails; its details hold the
	// result, so every object is still reported.
	ErrTypeResourcesFailed = "ResourcesFailed"
	// ErrTypeDeletionGuard: the mass-deletion breaker held the run's
	// deletions back; its details carry the ReplicationResult.
	ErrTypeDeletionGuard = "DeletionGuard"
)

// Error types of connectivity checks that retrying cannot fix.
const (
	// ErrTypeAgentNotInstalled: the source cluster runs no agent to check.
	ErrTypeAgentNotInstalled = "AgentNotInstalled"
	// ErrTypeConnectivityTimeout: the check pod did not finish in time.
	ErrTypeConnectivityTimeout = "ConnectivityTimeout"
)

// Error types of agent rollouts that retrying cannot fix.
const (
	// ErrTypeAgentConflict: the cluster's agent DaemonSet belongs to another
	// RemoteCluster whose settings differ; nothing was applied, and the
	// message names the owner.
	ErrTypeAgentConflict = "AgentConflict"
)

// Error types of non-retryable failures.
const (
	// ErrTypeInvalidSpec: the CRs ask for something impossible; a user must fix them.
	ErrTypeInvalidSpec = "InvalidSpec"
	// ErrTypeInputMismatch: a step that creates pods, copies Secrets or
	// deletes DR objects was given an input that its Replication does not
	// resolve to (another image, namespace, cluster or key Secret, more
	// deletions than its deletion guard allows), or names no Replication: a
	// workflow started outside dr-syncer, or a Replication changed mid-run.
	ErrTypeInputMismatch = "InputMismatch"
	// ErrTypeForbidden: a cluster's API server refused the RemoteCluster's
	// identity a permission dr-syncer needs; retrying cannot grant it.
	ErrTypeForbidden = "Forbidden"
)

// Error types of PVC sync failures that retrying cannot fix.
const (
	// ErrTypePVCNotFound: the source PVC does not exist.
	ErrTypePVCNotFound = "PVCNotFound"
	// ErrTypePVCNotBound: the source PVC has no volume, so no data.
	ErrTypePVCNotBound = "PVCNotBound"
	// ErrTypeStorageClassNotFound: the DR storage class a PVC maps to does not exist.
	ErrTypeStorageClassNotFound = "StorageClassNotFound"
	// ErrTypeNamespaceNotFound: the DR namespace is missing and may not be created.
	ErrTypeNamespaceNotFound = "NamespaceNotFound"
	// ErrTypePodFailed: a mount or sync pod cannot start for a reason waiting will not fix.
	ErrTypePodFailed = "PodFailed"
	// ErrTypeTransferFailed: rsync failed permanently (usage, protocol, I/O on the target).
	ErrTypeTransferFailed = "TransferFailed"
	// ErrTypeFollowedMoverLost: the batch mover container a Transfer
	// follows (TransferInput.Follow) is gone, the pod has no such
	// container, or the container ended in a way only a new pod can retry
	// (an interrupted rsync, host keys pinned before a rotation). Only the
	// run that made the pod could make it again, so retrying the same
	// container cannot help: the sync takes its own pods instead.
	ErrTypeFollowedMoverLost = "FollowedMoverLost"
	// ErrTypeBatchPodsGone: a staged batch's mount pod is gone when the
	// run releases it (ReleaseBatchPods); the batch cannot start, and its
	// members take their own pods.
	ErrTypeBatchPodsGone = "BatchPodsGone"
	// ErrTypeNoSnapshotClass: a snapshot is asked for and the cluster has
	// no VolumeSnapshotClass for the volume's CSI driver; the message names
	// what to create.
	ErrTypeNoSnapshotClass = "NoSnapshotClass"
	// ErrTypeSnapshotFailed: the CSI driver or snapshot-controller failed a
	// snapshot, or a claim made from one, and says why.
	ErrTypeSnapshotFailed = "SnapshotFailed"
	// ErrTypeHookFailed: a freeze or thaw command failed or timed out in an
	// application pod.
	ErrTypeHookFailed = "HookFailed"
	// ErrTypeRestorePointNotFound: the restore point asked for does not exist.
	ErrTypeRestorePointNotFound = "RestorePointNotFound"
	// ErrTypeTargetTooSmall: in a failback, the source's own claim is
	// smaller than its DR copy and its storage class cannot grow it.
	ErrTypeTargetTooSmall = "TargetTooSmall"
)

// Error types of a restore that retrying cannot fix.
const (
	// ErrTypeRestoreTargetExists: a PVC of the name a restore would create
	// exists and is not that restore's; a restore never writes over a PVC.
	ErrTypeRestoreTargetExists = "RestoreTargetExists"
	// ErrTypeRestorePointUnusable: the restore point's snapshot is not one
	// another namespace can use (no bound content, or no snapshot handle).
	ErrTypeRestorePointUnusable = "RestorePointUnusable"
	// ErrTypeClaimNotReplaceable: a failover cannot replace the DR PVC in
	// place from a restore point and be sure to keep its live data (it is
	// bound to no volume that could be kept, or the kept volume's record is
	// missing or ambiguous), or it already replaced it from another point;
	// the claim and its volume are left for a person to look at.
	ErrTypeClaimNotReplaceable = "ClaimNotReplaceable"
)

// Error types of the DR-copy guards: each stops a step that would delete or
// overwrite the last good DR copy, leaves that copy as it is, and says how a
// person accepts the change (drv1.AnnotationAcceptChanges).
const (
	// ErrTypeSourceReplaced: the source PVC is not the one the DR copy was
	// made from (its UID changed: deleted and created again).
	ErrTypeSourceReplaced = "SourceReplaced"
	// ErrTypeSourceShrank: the source volume holds far fewer files than the DR copy.
	ErrTypeSourceShrank = "SourceShrank"
	// ErrTypeConflict: the DR object exists and is not this replication's copy
	// of this source; dr-syncer neither writes to nor mounts it.
	ErrTypeConflict = "Conflict"
)

// Error types of resource replication, matched by workflows.
const (
	// ErrTypeObjectsFailed: some objects of a kind failed for reasons a retry
	// may fix (the network, a conflicting write); the error's details hold
	// the KindResult so the last attempt's per-object status is not lost.
	ErrTypeObjectsFailed = "ObjectsFailed"
)
