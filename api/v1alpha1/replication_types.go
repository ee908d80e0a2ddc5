package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ReplicationMode says when a Replication syncs.
// +kubebuilder:validation:Enum=Scheduled;Continuous;Manual
type ReplicationMode string

// Replication modes.
const (
	// ModeScheduled syncs on a cron schedule, through a Temporal Schedule.
	ModeScheduled ReplicationMode = "Scheduled"
	// ModeContinuous keeps one long-running workflow that syncs on change and on an interval.
	ModeContinuous ReplicationMode = "Continuous"
	// ModeManual syncs once for each new value of the sync-now annotation.
	ModeManual ReplicationMode = "Manual"
)

// ReplicationSpec says what to replicate, where, how and when.
// +kubebuilder:validation:XValidation:rule="has(self.clusterMappingRef) || (has(self.sourceCluster) && has(self.destinationCluster))",message="set clusterMappingRef, or both sourceCluster and destinationCluster"
// +kubebuilder:validation:XValidation:rule="!(has(self.clusterMappingRef) && (has(self.sourceCluster) || has(self.destinationCluster)))",message="clusterMappingRef and sourceCluster/destinationCluster are mutually exclusive"
type ReplicationSpec struct {
	// ClusterMappingRef names the ClusterMapping whose clusters this replication uses.
	// +optional
	ClusterMappingRef *ObjectRef `json:"clusterMappingRef,omitempty"`

	// SourceCluster names the source RemoteCluster, when no mapping is referenced.
	// +kubebuilder:validation:MinLength=1
	// +optional
	SourceCluster string `json:"sourceCluster,omitempty"`

	// DestinationCluster names the DR RemoteCluster, when no mapping is referenced.
	// +kubebuilder:validation:MinLength=1
	// +optional
	DestinationCluster string `json:"destinationCluster,omitempty"`

	// SourceNamespace is the namespace replicated from the source cluster.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	SourceNamespace string `json:"sourceNamespace"`

	// DestinationNamespace is the namespace written in the DR cluster; defaults to SourceNamespace.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	DestinationNamespace string `json:"destinationNamespace,omitempty"`

	// NamespaceConfig controls how the DR namespace is created.
	// +optional
	NamespaceConfig *NamespaceConfig `json:"namespaceConfig,omitempty"`

	// ReplicationMode is Scheduled, Continuous or Manual.
	// +kubebuilder:default=Scheduled
	// +optional
	ReplicationMode ReplicationMode `json:"replicationMode,omitempty"`

	// Schedule is the cron schedule of a Scheduled replication; defaults to the
	// source RemoteCluster's defaultSchedule.
	// +optional
	Schedule Cron `json:"schedule,omitempty"`

	// Continuous configures Continuous mode.
	// +optional
	Continuous *ContinuousConfig `json:"continuous,omitempty"`

	// Paused stops new syncs; a running one finishes.
	// +optional
	Paused bool `json:"paused,omitempty"`

	// DeletionGuard bounds the deletions one run may make in DR.
	// +optional
	DeletionGuard *DeletionGuard `json:"deletionGuard,omitempty"`

	// ResourceTypes are the kinds to replicate, case-insensitive, singular or
	// plural; "*" means every supported kind.
	// +optional
	ResourceTypes []string `json:"resourceTypes,omitempty"`

	// NamespaceScopedResources are further namespaced types to replicate, as
	// "resource.group" (for example "certificates.cert-manager.io").
	// +optional
	NamespaceScopedResources []string `json:"namespaceScopedResources,omitempty"`

	// ScaleToZero scales Deployments and StatefulSets to zero replicas in DR.
	// +kubebuilder:default=true
	// +optional
	ScaleToZero *bool `json:"scaleToZero,omitempty"`

	// IngressConfig controls what of an Ingress is replicated.
	// +optional
	IngressConfig *IngressConfig `json:"ingressConfig,omitempty"`

	// ImmutableResourceConfig says how to update objects whose changed fields are immutable.
	// +optional
	ImmutableResourceConfig *ImmutableResourceConfig `json:"immutableResourceConfig,omitempty"`

	// PVCConfig controls how PVCs and their data are replicated.
	// +optional
	PVCConfig *PVCConfig `json:"pvcConfig,omitempty"`

	// RetryConfig is the retry policy of the sync steps.
	// +optional
	RetryConfig *RetryConfig `json:"retryConfig,omitempty"`

	// FailureHandling says what a failure does to the run.
	// +optional
	FailureHandling *FailureHandling `json:"failureHandling,omitempty"`
}

// NamespaceConfig controls how the DR namespace is created.
type NamespaceConfig struct {
	// CreateNamespace creates the DR namespace when it does not exist.
	// +kubebuilder:default=true
	// +optional
	CreateNamespace *bool `json:"createNamespace,omitempty"`
	// PreserveLabels copies the source namespace's labels.
	// +kubebuilder:default=true
	// +optional
	PreserveLabels *bool `json:"preserveLabels,omitempty"`
	// PreserveAnnotations copies the source namespace's annotations.
	// +kubebuilder:default=true
	// +optional
	PreserveAnnotations *bool `json:"preserveAnnotations,omitempty"`
}

// ContinuousConfig configures Continuous mode.
type ContinuousConfig struct {
	// WatchResources syncs soon after a change in the source namespace.
	// +kubebuilder:default=true
	// +optional
	WatchResources *bool `json:"watchResources,omitempty"`
	// BackgroundSyncInterval syncs at least this often, changed or not.
	// +kubebuilder:default="1h"
	// +optional
	BackgroundSyncInterval Duration `json:"backgroundSyncInterval,omitempty"`
}

// IngressConfig controls what of an Ingress is replicated.
type IngressConfig struct {
	// PreserveAnnotations copies the Ingress's annotations.
	// +kubebuilder:default=true
	// +optional
	PreserveAnnotations *bool `json:"preserveAnnotations,omitempty"`
	// PreserveTLS copies the TLS section.
	// +kubebuilder:default=true
	// +optional
	PreserveTLS *bool `json:"preserveTLS,omitempty"`
	// PreserveBackends copies the default backend and rule backends.
	// +kubebuilder:default=true
	// +optional
	PreserveBackends *bool `json:"preserveBackends,omitempty"`
}

// ImmutableHandling says how an object whose immutable fields changed is updated.
// +kubebuilder:validation:Enum=NoChange;Recreate;RecreateWithPodDrain;PartialUpdate;ForceUpdate
type ImmutableHandling string

// Immutable-field handling modes.
const (
	ImmutableNoChange             ImmutableHandling = "NoChange"
	ImmutableRecreate             ImmutableHandling = "Recreate"
	ImmutableRecreateWithPodDrain ImmutableHandling = "RecreateWithPodDrain"
	ImmutablePartialUpdate        ImmutableHandling = "PartialUpdate"
	ImmutableForceUpdate          ImmutableHandling = "ForceUpdate"
)

// ImmutableResourceConfig says how to update objects whose changed fields are immutable.
type ImmutableResourceConfig struct {
	// DefaultHandling applies to every kind without an override.
	// +kubebuilder:default=NoChange
	// +optional
	DefaultHandling ImmutableHandling `json:"defaultHandling,omitempty"`
	// ResourceOverrides maps a kind (for example "statefulsets") to its handling.
	// +optional
	ResourceOverrides map[string]ImmutableHandling `json:"resourceOverrides,omitempty"`
	// DrainTimeout bounds the pod drain of RecreateWithPodDrain.
	// +kubebuilder:default="5m"
	// +optional
	DrainTimeout Duration `json:"drainTimeout,omitempty"`
	// ForceDeleteTimeout bounds a delete before it is forced.
	// +kubebuilder:default="2m"
	// +optional
	ForceDeleteTimeout Duration `json:"forceDeleteTimeout,omitempty"`
}

// PVCConfig controls how PVCs and their data are replicated.
type PVCConfig struct {
	// SyncData copies the data inside the PVCs, not just the PVC objects.
	// +kubebuilder:default=false
	// +optional
	SyncData bool `json:"syncData,omitempty"`
	// StorageClassMappings rename storage classes from source to DR.
	// +optional
	StorageClassMappings []Mapping `json:"storageClassMappings,omitempty"`
	// AccessModeMappings rename access modes from source to DR.
	// +optional
	AccessModeMappings []AccessModeMapping `json:"accessModeMappings,omitempty"`
	// PreserveVolumeAttributes copies the claim's selector, data source and
	// volume attributes class; volumeMode is always copied.
	// +optional
	PreserveVolumeAttributes bool `json:"preserveVolumeAttributes,omitempty"`
	// SyncPersistentVolumes replicates the bound PV and keeps its volume name where the storage allows it.
	// +optional
	SyncPersistentVolumes bool `json:"syncPersistentVolumes,omitempty"`
	// DataSyncConfig tunes the data transfer.
	// +optional
	DataSyncConfig *DataSyncConfig `json:"dataSyncConfig,omitempty"`
	// RestorePoints keeps the last good copies of each DR PVC as snapshots.
	// +optional
	RestorePoints *RestorePointsConfig `json:"restorePoints,omitempty"`
}

// Mapping renames one value.
type Mapping struct {
	// +kubebuilder:validation:MinLength=1
	From string `json:"from"`
	// +kubebuilder:validation:MinLength=1
	To string `json:"to"`
}

// AccessModeMapping renames one access mode.
type AccessModeMapping struct {
	// +kubebuilder:validation:Enum=ReadWriteOnce;ReadOnlyMany;ReadWriteMany;ReadWriteOncePod
	From string `json:"from"`
	// +kubebuilder:validation:Enum=ReadWriteOnce;ReadOnlyMany;ReadWriteMany;ReadWriteOncePod
	To string `json:"to"`
}

// VerificationMode says how copied data is checked.
// +kubebuilder:validation:Enum=none;sample;full
type VerificationMode string

// Verification modes.
const (
	VerifyNone   VerificationMode = "none"
	VerifySample VerificationMode = "sample"
	VerifyFull   VerificationMode = "full"
)

// DataSyncConfig tunes the data transfer.
// +kubebuilder:validation:XValidation:rule="!has(self.verificationMode) || self.verificationMode != 'sample' || has(self.samplePercent)",message="samplePercent is required when verificationMode is sample"
// +kubebuilder:validation:XValidation:rule="!has(self.hooks) || !has(self.copyMethod) || self.copyMethod == 'Snapshot'",message="hooks need copyMethod Snapshot: they freeze the application while its snapshot is taken"
type DataSyncConfig struct {
	// ConcurrentSyncs bounds the PVCs this replication syncs at once. A
	// sync's slot frees when its final cleanup begins: the next PVC's pods
	// start while the last one's are deleted.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +kubebuilder:default=2
	// +optional
	ConcurrentSyncs int32 `json:"concurrentSyncs,omitempty"`
	// ExcludePaths are paths inside the volume not to copy.
	// +optional
	ExcludePaths []string `json:"excludePaths,omitempty"`
	// RsyncOptions are extra rsync options, checked against an allow-list.
	// +optional
	RsyncOptions []string `json:"rsyncOptions,omitempty"`
	// BandwidthLimit in KiB/s per transfer; 0 means unlimited.
	// +kubebuilder:validation:Minimum=0
	// +optional
	BandwidthLimit int64 `json:"bandwidthLimit,omitempty"`
	// Timeout bounds one PVC's transfer.
	// +kubebuilder:default="2h"
	// +optional
	Timeout Duration `json:"timeout,omitempty"`
	// VerificationMode is none, sample or full.
	// +kubebuilder:default=none
	// +optional
	VerificationMode VerificationMode `json:"verificationMode,omitempty"`
	// SamplePercent is the share of files checksummed in sample mode.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	// +optional
	SamplePercent int32 `json:"samplePercent,omitempty"`
	// ParallelStreams splits one PVC into this many rsync streams by top-level directory.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16
	// +kubebuilder:default=1
	// +optional
	ParallelStreams int32 `json:"parallelStreams,omitempty"`
	// CopyMethod says what is read: Direct (the live volume), Snapshot (a
	// VolumeSnapshot of it) or Clone (a CSI clone of it). Unset: Snapshot
	// when the source's CSI driver has a VolumeSnapshotClass, else Direct.
	// +optional
	CopyMethod CopyMethod `json:"copyMethod,omitempty"`
	// VolumeSnapshotClassName for Snapshot; unset: the default class of the
	// source PVC's CSI driver.
	// +optional
	VolumeSnapshotClassName string `json:"volumeSnapshotClassName,omitempty"`
	// Hooks make the snapshot application-consistent; they need Snapshot.
	// +optional
	Hooks *ConsistencyHooks `json:"hooks,omitempty"`
}

// RetryConfig is the retry policy of the sync steps.
type RetryConfig struct {
	// MaxRetries is how many times a failed step is retried.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=5
	// +optional
	MaxRetries *int32 `json:"maxRetries,omitempty"`
	// InitialBackoff before the first retry.
	// +kubebuilder:default="5s"
	// +optional
	InitialBackoff Duration `json:"initialBackoff,omitempty"`
	// MaxBackoff caps the delay between retries.
	// +kubebuilder:default="5m"
	// +optional
	MaxBackoff Duration `json:"maxBackoff,omitempty"`
	// BackoffMultiplier grows the delay after each retry, in percent (200 doubles it).
	// +kubebuilder:validation:Minimum=100
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=200
	// +optional
	BackoffMultiplier int32 `json:"backoffMultiplier,omitempty"`
}

// FailureMode says what a failure does to the run.
// +kubebuilder:validation:Enum=RetryAndWait;RetryOnly;WaitForNextSync;FailFast
type FailureMode string

// Failure modes.
const (
	// FailureRetryAndWait retries per retryConfig, then waits for the next sync.
	FailureRetryAndWait FailureMode = "RetryAndWait"
	// FailureRetryOnly retries per retryConfig, then fails the run.
	FailureRetryOnly FailureMode = "RetryOnly"
	// FailureWaitForNextSync does not retry; the next sync tries again.
	FailureWaitForNextSync FailureMode = "WaitForNextSync"
	// FailureFailFast does not retry and fails the run at once.
	FailureFailFast FailureMode = "FailFast"
)

// FailureHandling says what failures do to a run, by category.
type FailureHandling struct {
	// DefaultMode applies to every category without its own mode.
	// +kubebuilder:default=RetryAndWait
	// +optional
	DefaultMode FailureMode `json:"defaultMode,omitempty"`
	// ResourceNotFound applies to kinds that do not exist in a cluster.
	// +optional
	ResourceNotFound FailureMode `json:"resourceNotFound,omitempty"`
	// ValidationFailure applies to objects the DR cluster rejects.
	// +optional
	ValidationFailure FailureMode `json:"validationFailure,omitempty"`
	// NetworkError applies to unreachable clusters and agents.
	// +optional
	NetworkError FailureMode `json:"networkError,omitempty"`
	// DataSyncFailure applies to failed PVC data transfers.
	// +optional
	DataSyncFailure FailureMode `json:"dataSyncFailure,omitempty"`
}

// Replication copies a source namespace, and optionally its PVC data, to a DR cluster.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=repl,categories=dr-syncer
// +kubebuilder:printcolumn:name="Source → Destination",type=string,JSONPath=`.status.route`,description="Source cluster/namespace → DR cluster/namespace"
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.replicationMode`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`,description="Pending, Running (a sync runs, or a Continuous Replication watches), Completed, Failed or FailedOver"
// +kubebuilder:printcolumn:name="Last Sync",type=date,JSONPath=`.status.lastSyncTime`,description="When the last successful sync finished; its age is the RPO as kubectl shows it (the DR copy is at least this old)"
// +kubebuilder:printcolumn:name="Next Sync",type=string,JSONPath=`.status.nextSyncTime`,description="When the next scheduled sync starts (a string column: a date column prints a future time as <invalid>)"
// +kubebuilder:printcolumn:name="Progress",type=string,JSONPath=`.status.syncProgress.summary`,description="The running sync: PVCs done of all, and percent"
// +kubebuilder:printcolumn:name="Active",type=string,priority=1,JSONPath=`.status.failover.activeSide`,description="Which side runs the workloads: Source, or Destination after a failover; empty when never failed over"
// +kubebuilder:printcolumn:name="Workflow",type=string,priority=1,JSONPath=`.status.currentRun.workflowID`,description="The running sync's Temporal workflow ID"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Replication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ReplicationSpec   `json:"spec"`
	Status ReplicationStatus `json:"status,omitempty"`
}

// ReplicationList is a list of Replications.
//
// +kubebuilder:object:root=true
type ReplicationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Replication `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Replication{}, &ReplicationList{})
}
