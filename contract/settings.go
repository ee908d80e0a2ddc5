package contract

import (
	"time"

	corev1 "k8s.io/api/core/v1"
)

// ReplicationSettings are a Replication's settings as its runs use them:
// resolved by internal/resolve with every default applied, so no workflow
// or activity asks "unset?". The JSON names follow the Replication's spec,
// which plans recorded before this type existed carried, so they decode.
type ReplicationSettings struct {
	ResourceTypes            []string `json:"resourceTypes,omitempty"`
	NamespaceScopedResources []string `json:"namespaceScopedResources,omitempty"`
	// ScaleToZero scales replicated workloads to zero in DR.
	ScaleToZero             bool                `json:"scaleToZero"`
	NamespaceConfig         NamespaceSettings   `json:"namespaceConfig"`
	IngressConfig           IngressSettings     `json:"ingressConfig"`
	ImmutableResourceConfig ImmutableSettings   `json:"immutableResourceConfig"`
	PVCConfig               PVCSettings         `json:"pvcConfig"`
	RetryConfig             RetrySettings       `json:"retryConfig"`
	FailureHandling         FailureHandling     `json:"failureHandling"`
	DeletionGuard           DeletionGuardLimits `json:"deletionGuard"`
}

// NamespaceSettings say how the DR namespace is made.
type NamespaceSettings struct {
	CreateNamespace     bool `json:"createNamespace"`
	PreserveLabels      bool `json:"preserveLabels"`
	PreserveAnnotations bool `json:"preserveAnnotations"`
}

// IngressSettings say what of an Ingress is copied.
type IngressSettings struct {
	PreserveAnnotations bool `json:"preserveAnnotations"`
	PreserveTLS         bool `json:"preserveTLS"`
	PreserveBackends    bool `json:"preserveBackends"`
}

// ImmutableSettings say how a DR object whose immutable fields changed is
// handled, per kind ("NoChange", "Recreate", ...), and how long a
// recreation may wait.
type ImmutableSettings struct {
	DefaultHandling    string            `json:"defaultHandling"`
	ResourceOverrides  map[string]string `json:"resourceOverrides,omitempty"`
	DrainTimeout       Duration          `json:"drainTimeout"`
	ForceDeleteTimeout Duration          `json:"forceDeleteTimeout"`
}

// PVCSettings say how claims and volumes are copied; the data sync itself
// is ReplicationPlan.DataSync.
type PVCSettings struct {
	SyncData                 bool             `json:"syncData"`
	StorageClassMappings     []Mapping        `json:"storageClassMappings,omitempty"`
	AccessModeMappings       []Mapping        `json:"accessModeMappings,omitempty"`
	PreserveVolumeAttributes bool             `json:"preserveVolumeAttributes,omitempty"`
	SyncPersistentVolumes    bool             `json:"syncPersistentVolumes,omitempty"`
	DataSyncConfig           DataSyncSettings `json:"dataSyncConfig"`
	RestorePoints            RestorePoints    `json:"restorePoints"`
}

// DataSyncSettings is the part of dataSyncConfig the workflow reads itself.
type DataSyncSettings struct {
	// ConcurrentSyncs bounds the PVC syncs of one run.
	ConcurrentSyncs int32 `json:"concurrentSyncs"`
	// CopyMethod, VolumeSnapshotClassName and Hooks say what a PVC sync
	// reads (see CopySource).
	CopyMethod              CopyMethod `json:"copyMethod,omitempty"`
	VolumeSnapshotClassName string     `json:"volumeSnapshotClassName,omitempty"`
	Hooks                   *Hooks     `json:"hooks,omitempty"`
}

// Mapping maps a source value to its DR value.
type Mapping struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// RetrySettings are the retry policy of a run's steps.
type RetrySettings struct {
	MaxRetries     int32    `json:"maxRetries"`
	InitialBackoff Duration `json:"initialBackoff"`
	MaxBackoff     Duration `json:"maxBackoff"`
	// BackoffMultiplier is the backoff growth in percent (200 doubles).
	BackoffMultiplier int32 `json:"backoffMultiplier"`
}

// FailureMode says what a failure of a kind does to a run.
type FailureMode string

// Failure modes; the values are the Replication API's.
const (
	FailureRetryAndWait    FailureMode = "RetryAndWait"
	FailureRetryOnly       FailureMode = "RetryOnly"
	FailureWaitForNextSync FailureMode = "WaitForNextSync"
	FailureFailFast        FailureMode = "FailFast"
)

// FailureHandling is the failure mode per kind of failure.
type FailureHandling struct {
	DefaultMode       FailureMode `json:"defaultMode"`
	ResourceNotFound  FailureMode `json:"resourceNotFound"`
	ValidationFailure FailureMode `json:"validationFailure"`
	NetworkError      FailureMode `json:"networkError"`
	DataSyncFailure   FailureMode `json:"dataSyncFailure"`
}

// DeletionGuardLimits are the mass-deletion breaker's limits.
type DeletionGuardLimits struct {
	MaxPercent int32 `json:"maxPercent"`
	MaxObjects int32 `json:"maxObjects"`
}

// DeletionLimit is how many of owned DR objects one run may delete: the
// larger of MaxPercent of them and MaxObjects.
func (g DeletionGuardLimits) DeletionLimit(owned int) int {
	return max(owned*int(g.MaxPercent)/100, int(g.MaxObjects))
}

// Duration is a Go duration string ("5m"), as the API spells durations.
type Duration string

// Value is the duration; zero for an empty or malformed value, which the
// API's schema and the resolver never let through.
func (d Duration) Value() time.Duration {
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return 0
	}
	return v
}

// AgentDeployment is how the agent's pods are placed and sized.
type AgentDeployment struct {
	HostNetwork       *bool                        `json:"hostNetwork,omitempty"`
	NodeSelector      map[string]string            `json:"nodeSelector,omitempty"`
	Tolerations       []corev1.Toleration          `json:"tolerations,omitempty"`
	Resources         *corev1.ResourceRequirements `json:"resources,omitempty"`
	PriorityClassName string                       `json:"priorityClassName,omitempty"`
	Labels            map[string]string            `json:"labels,omitempty"`
	Annotations       map[string]string            `json:"annotations,omitempty"`
	// AllowedSourceCIDRs are the only sources the agent's NetworkPolicy
	// admits; empty installs no policy.
	AllowedSourceCIDRs []string `json:"allowedSourceCIDRs,omitempty"`
}
