package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Annotations that ask for a recovery operation, once for each new value
// (like sync-now); the value becomes part of the workflow ID.
const (
	// AnnotationFailover starts a failover to DR (planned when the source
	// answers, unplanned when it does not).
	AnnotationFailover = "dr-syncer.io/failover"
	// AnnotationFailback starts a failback to the source.
	AnnotationFailback = "dr-syncer.io/failback"
	// AnnotationDrill starts a DR drill in a scratch namespace of DR.
	AnnotationDrill = "dr-syncer.io/drill"
	// AnnotationFailoverReplicas on a source workload records its replicas
	// (or a CronJob's suspend) before a failover stopped it; failback and a
	// cancelled failover restore them from it.
	AnnotationFailoverReplicas = "dr-syncer.io/failover-replicas"
)

// PhaseFailedOver: DR runs the workloads; syncs stay paused until failback.
const PhaseFailedOver ReplicationPhase = "FailedOver"

// FailoverStatus is which side runs a Replication's workloads, and the last
// failover or failback that moved them.
type FailoverStatus struct {
	// ActiveSide is Source or Destination.
	ActiveSide string `json:"activeSide"`
	// State is FailingOver, FailedOver, FailingBack, FailedBack or FailoverCanceled.
	State string `json:"state"`
	// WorkflowID is the failover or failback workflow.
	WorkflowID string `json:"workflowID"`
	// Mode is Planned or Unplanned.
	// +optional
	Mode string `json:"mode,omitempty"`
	// Message says what happened, and what was skipped.
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	StartedAt *metav1.Time `json:"startedAt,omitempty"`
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
	// RTO is the time from the request to every workload Ready.
	// +optional
	RTO string `json:"rto,omitempty"`
	// DataAge is how old DR's data was when DR took over (the RPO).
	// +optional
	DataAge string `json:"dataAge,omitempty"`
}

// DrillStatus is the last DR drill of a Replication.
type DrillStatus struct {
	WorkflowID string `json:"workflowID"`
	// Namespace is the scratch namespace the drill used.
	Namespace string `json:"namespace"`
	// Result is Succeeded or Failed.
	Result string `json:"result"`
	// +optional
	Message string `json:"message,omitempty"`
	// +optional
	CompletedAt *metav1.Time `json:"completedAt,omitempty"`
	// +optional
	RTO string `json:"rto,omitempty"`
	// +optional
	DataAge string `json:"dataAge,omitempty"`
}

// FailedOver reports whether DR runs the workloads, or is taking over or
// handing back: syncs from the source must not run. The states are the
// contract package's State* values (which this package cannot import).
func (s *ReplicationStatus) FailedOver() bool {
	return s.Failover != nil && s.Failover.State != "" && s.Failover.State != "FailedBack" && s.Failover.State != "FailoverCanceled"
}
