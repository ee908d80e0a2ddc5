package contract

import (
	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// ObjectState is how one object fared.
type ObjectState string

// Object states, as status shows them.
const (
	StateSynced  ObjectState = "Synced"
	StateFailed  ObjectState = "Failed"
	StateSkipped ObjectState = "Skipped"
	// StateSourceDeleted: a DR volume kept although its source is gone.
	StateSourceDeleted ObjectState = "SourceDeleted"
	// StateDeletionHeld: a DR object whose source is gone, kept by the deletion guard.
	StateDeletionHeld ObjectState = "DeletionHeld"
)

// ObjectStatus reports one object (or, with an empty Name, a whole kind).
type ObjectStatus struct {
	Kind  string      `json:"kind"`
	Name  string      `json:"name"`
	State ObjectState `json:"state"`
	// Action is what was done: None, Create, Update, Recreate, Prune, ...
	Action string `json:"action,omitempty"`
	// Error says why it failed or was skipped.
	Error    string        `json:"error,omitempty"`
	Category ErrorCategory `json:"category,omitempty"`
	// Detail says more about what an action did, such as a drain.
	Detail string `json:"detail,omitempty"`
}

// WorkloadScale is a workload that runs fewer replicas in DR than in the source.
type WorkloadScale struct {
	Kind             string `json:"kind"`
	Name             string `json:"name"`
	OriginalReplicas int32  `json:"originalReplicas"`
	DRReplicas       int32  `json:"drReplicas"`
}

// KindSelection is the kinds a plan replicates, grouped into stages that run
// one after the other in dependency order.
type KindSelection struct {
	Stages [][]resources.Kind `json:"stages"`
	// Unknown are requested types no cluster serves, as written.
	Unknown []string `json:"unknown,omitempty"`
}

// ReplicateKindInput is one kind of one plan.
type ReplicateKindInput struct {
	Plan ReplicationPlan `json:"plan"`
	Kind resources.Kind  `json:"kind"`
}

// KindResult is what ReplicateKind did.
type KindResult struct {
	Kind    string          `json:"kind"`
	Objects []ObjectStatus  `json:"objects"`
	Scales  []WorkloadScale `json:"scales,omitempty"`
	// Writes counts creates, updates, recreates and deletes; 0 means DR
	// already matched the source.
	Writes int `json:"writes"`
	// Owned counts the DR objects of the kind this replication owns.
	Owned int `json:"owned"`
	// Prune names the owned DR objects whose source is gone. ReplicateKind
	// never deletes them: the workflow weighs all of a run's deletions
	// against the deletion guard first, then calls PruneObjects.
	Prune []string `json:"prune,omitempty"`
}

// NamespaceResult is what EnsureNamespace did.
type NamespaceResult struct {
	Name    string `json:"name"`
	Created bool   `json:"created"`
	Updated bool   `json:"updated"`
	// SourceTerminating says the source namespace is being deleted: its
	// objects vanishing is no reason to delete their DR copies.
	SourceTerminating bool `json:"sourceTerminating,omitempty"`
}

// ReplicateKindProgress is ReplicateKind's heartbeat.
type ReplicateKindProgress struct {
	Kind  string `json:"kind"`
	Done  int64  `json:"done"`
	Total int    `json:"total"`
}

// ErrorCategory sorts failures the way failureHandling and status do.
type ErrorCategory string

// Error categories.
const (
	// CategoryValidation: the DR cluster rejects the object; a user must fix it.
	CategoryValidation ErrorCategory = "Validation"
	// CategoryNotFound: the type or a prerequisite does not exist.
	CategoryNotFound ErrorCategory = "NotFound"
	// CategoryConflict: another writer holds the object or its name.
	CategoryConflict ErrorCategory = "Conflict"
	// CategoryNetwork: the cluster could not be reached or did not answer in time.
	CategoryNetwork ErrorCategory = "Network"
)

// ActionDeleteCopy is the status action of a DR volume deleted because a
// person annotated it with drv1.AnnotationDeleteCopy; the controller records
// each as an Event.
const ActionDeleteCopy = "DeleteCopy"

// PruneInput names the DR objects of one kind the deletion guard let go.
type PruneInput struct {
	Plan  ReplicationPlan `json:"plan"`
	Kind  resources.Kind  `json:"kind"`
	Names []string        `json:"names"`
}
