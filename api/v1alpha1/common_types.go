package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Annotations and labels users put on objects, or find on replicated ones.
const (
	// AnnotationSyncNow on a Replication starts one run for each new value.
	AnnotationSyncNow = "dr-syncer.io/sync-now"
	// AnnotationAcceptChanges on a Replication lets the next run apply what
	// the DR-copy guards held back (a mass deletion, a replaced or shrunk
	// source volume), once for each new value; the run that takes it is
	// recorded as an Event.
	AnnotationAcceptChanges = "dr-syncer.io/accept-changes"
	// AnnotationDeleteCopy set to "true" on a DR PVC or PV whose source is
	// gone lets the next run delete it; nothing else ever deletes DR volumes.
	AnnotationDeleteCopy = "dr-syncer.io/delete-copy"
	// AnnotationRotateKeys on a ClusterMapping rotates its keys for each new value.
	AnnotationRotateKeys = "dr-syncer.io/rotate-keys"
	// AnnotationRotateHostKey on a RemoteCluster rotates its agent's SSH
	// host key for each new value (drsyncer rotate-host-key sets it).
	AnnotationRotateHostKey = "dr-syncer.io/rotate-host-key"
	// LabelIgnore set to "true" on a source object keeps it out of every replication.
	LabelIgnore = "dr-syncer.io/ignore"
	// AnnotationOriginalReplicas records the source replica count of a workload scaled down in DR.
	AnnotationOriginalReplicas = "dr-syncer.io/original-replicas"
	// AnnotationScaleOverride set to "true" keeps the source replica count in DR.
	AnnotationScaleOverride = "dr-syncer.io/scale-override"
)

// Condition types and reasons shared by the kinds.
const (
	// ConditionSynced reports whether the last sync of a Replication succeeded.
	ConditionSynced = "Synced"
	// ConditionReady reports whether a RemoteCluster or ClusterMapping is usable.
	ConditionReady = "Ready"
	// ConditionAgentConflict is True on a RemoteCluster whose agent settings
	// differ from those of the RemoteCluster that owns the cluster's one
	// agent DaemonSet; its message names the owner and what to do.
	ConditionAgentConflict = "AgentConflict"
	// ConditionHostKeyRotating is True on a RemoteCluster while its agent
	// host key rotates (the previous key stays pinned by syncs), and False
	// once every agent presents the new key and the previous one was
	// dropped. A RemoteCluster whose host key never rotated has none.
	ConditionHostKeyRotating = "HostKeyRotating"
)

// SecretKeyRef names one key of a Secret.
type SecretKeyRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Namespace of the Secret; defaults to the namespace of the referring object.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Key inside the Secret.
	// +kubebuilder:default=kubeconfig
	// +optional
	Key string `json:"key,omitempty"`
}

// SecretRef names a Secret.
type SecretRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Namespace of the Secret; defaults to the namespace of the referring object.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// ObjectRef names an object of this API, optionally in another namespace.
type ObjectRef struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// Namespace of the object; defaults to the namespace of the referring object.
	// +optional
	Namespace string `json:"namespace,omitempty"`
}

// Duration is a Go duration string such as "30s", "5m" or "1h30m".
// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
type Duration string

// Cron is a five-field cron expression (minute hour day-of-month month
// day-of-week) or one of the @yearly, @monthly, @weekly, @daily and @hourly
// shortcuts.
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:Pattern=`^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|((\*|[0-5]?[0-9](-[0-5]?[0-9])?)(/[0-9]+)?)(,((\*|[0-5]?[0-9](-[0-5]?[0-9])?)(/[0-9]+)?))* +((\*|(1?[0-9]|2[0-3])(-(1?[0-9]|2[0-3]))?)(/[0-9]+)?)(,((\*|(1?[0-9]|2[0-3])(-(1?[0-9]|2[0-3]))?)(/[0-9]+)?))* +((\*|([1-9]|[12][0-9]|3[01])(-([1-9]|[12][0-9]|3[01]))?)(/[0-9]+)?)(,((\*|([1-9]|[12][0-9]|3[01])(-([1-9]|[12][0-9]|3[01]))?)(/[0-9]+)?))* +((\*|([1-9]|1[0-2]|[A-Za-z]{3})(-([1-9]|1[0-2]|[A-Za-z]{3}))?)(/[0-9]+)?)(,((\*|([1-9]|1[0-2]|[A-Za-z]{3})(-([1-9]|1[0-2]|[A-Za-z]{3}))?)(/[0-9]+)?))* +((\*|([0-7]|[A-Za-z]{3})(-([0-7]|[A-Za-z]{3}))?)(/[0-9]+)?)(,((\*|([0-7]|[A-Za-z]{3})(-([0-7]|[A-Za-z]{3}))?)(/[0-9]+)?))*)$`
type Cron string

// WorkflowRef points at one Temporal workflow run, so a user can open it in
// the Web UI or pass it to `temporal workflow describe -w ID -r RUNID`.
type WorkflowRef struct {
	// WorkflowID is the Temporal workflow ID.
	WorkflowID string `json:"workflowID"`
	// RunID is the Temporal run ID.
	// +optional
	RunID string `json:"runID,omitempty"`
	// StartTime is when the run started.
	// +optional
	StartTime *metav1.Time `json:"startTime,omitempty"`
	// CloseTime is when the run ended.
	// +optional
	CloseTime *metav1.Time `json:"closeTime,omitempty"`
	// Result is how the run ended: Completed, Failed, Canceled, Terminated or TimedOut.
	// +optional
	Result string `json:"result,omitempty"`
	// WebUI links the run in the Temporal Web UI (the controller's
	// --temporal-ui base URL).
	// +optional
	WebUI string `json:"webUI,omitempty"`
}
