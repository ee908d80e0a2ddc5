package contract

import (
	"time"

	"github.com/dr-syncer/dr-syncer/internal/resources"
)

// ReplicationInput names the Replication to run; the run reads its spec at
// start, so a Schedule never carries a stale copy.
type ReplicationInput struct {
	Replication ObjectRef `json:"replication"`
	// Trigger says what started the run: a sync-now value, "scheduled", "continuous".
	Trigger string `json:"trigger"`
	// Direction is which way the run copies; empty is source to DR.
	Direction Direction `json:"direction,omitempty"`
	// DrillNamespace is the scratch namespace of a DirectionDrill run.
	DrillNamespace string `json:"drillNamespace,omitempty"`
}

// Direction is which way a run copies.
type Direction string

// Directions other than the usual source to DR.
const (
	// DirectionReverse copies DR back into the source (a failback): the
	// source's objects and PVCs are the targets, and the failback that
	// asked for it is the acknowledgement the DR-copy guards want.
	DirectionReverse Direction = "Reverse"
	// DirectionDrill copies the DR namespace into a scratch namespace of
	// the DR cluster (a drill); the DR copy is only read.
	DirectionDrill Direction = "Drill"
)

// PlanRequest asks for the plan of a run: which Replication, which way.
type PlanRequest struct {
	Replication    ObjectRef `json:"replication"`
	Direction      Direction `json:"direction,omitempty"`
	DrillNamespace string    `json:"drillNamespace,omitempty"`
	// Trigger is the run's trigger; a reverse run's acknowledgement names it.
	Trigger string `json:"trigger,omitempty"`
}

// ReplicationResult is what one run did.
type ReplicationResult struct {
	Generation int64 `json:"generation"`
	// Resources is the object replication; nil in runs from before it existed.
	Resources *ResourcesResult `json:"resources,omitempty"`
	// PVCs are the data syncs, in name order.
	PVCs []PVCOutcome `json:"pvcs"`
	// SkippedPVCs maps a PVC whose data was not synced to why.
	SkippedPVCs map[string]string `json:"skippedPVCs,omitempty"`
	// AcceptChanges is the accept-changes value this run took; the
	// controller marks it handled and records it as an Event.
	AcceptChanges string `json:"acceptChanges,omitempty"`
}

// Failed counts the objects and PVC syncs that failed.
func (r ReplicationResult) Failed() int {
	n := 0
	if r.Resources != nil {
		n += r.Resources.Failed
	}
	for _, p := range r.PVCs {
		if p.Error != "" {
			n++
		}
	}
	return n
}

// PVCOutcome is one PVC's data sync within a run.
type PVCOutcome struct {
	PVC        string `json:"pvc"`
	WorkflowID string `json:"workflowID"`
	Error      string `json:"error,omitempty"`
	// ErrorType is the failure's type, such as SourceReplaced.
	ErrorType string         `json:"errorType,omitempty"`
	Result    *PVCSyncResult `json:"result,omitempty"`
}

// ReplicationProgress answers the progress query of a run.
type ReplicationProgress struct {
	Phase      string   `json:"phase"`
	PVCsTotal  int      `json:"pvcsTotal"`
	PVCsDone   int      `json:"pvcsDone"`
	PVCsFailed int      `json:"pvcsFailed"`
	Running    []string `json:"running,omitempty"`
	// Percent is the share of PVCs finished, 0-100.
	Percent int `json:"percent"`

	// RunID and Start identify the run that answered, so a reader needs
	// no describe call while the run is open. Empty from workers that
	// predate them.
	RunID string    `json:"runID,omitempty"`
	Start time.Time `json:"start,omitzero"`
	// PVCs are the running PVC syncs, as they last reported (see
	// SignalPVCProgress), in the order they started.
	PVCs []PVCRunProgress `json:"pvcs,omitempty"`
	// BytesDone and BytesTotal add up the running transfers' figures.
	BytesDone  int64 `json:"bytesDone,omitempty"`
	BytesTotal int64 `json:"bytesTotal,omitempty"`
	// Ended are the PVC syncs of this run that ended, in the order they
	// ended. Empty from workers that predate it; the run's result then
	// tells the controller at the end.
	Ended []PVCEnded `json:"ended,omitempty"`
}

// Replication run phases.
const (
	PhaseResolve   = "Resolve"
	PhaseResources = "ReplicateResources"
	PhaseListPVCs  = "ListPVCs"
	PhaseSyncPVCs  = "SyncPVCs"
)

// Held is the guard that held back part of the run (DeletionGuard,
// SourceReplaced, SourceShrank, Conflict), or "".
func (r ReplicationResult) Held() string {
	if r.Resources != nil && r.Resources.DeletionGuard != nil && r.Resources.DeletionGuard.Held != "" {
		return ErrTypeDeletionGuard
	}
	for _, p := range r.PVCs {
		switch p.ErrorType {
		case ErrTypeSourceReplaced, ErrTypeSourceShrank, ErrTypeConflict:
			return p.ErrorType
		}
	}
	return ""
}

// FailureType is the error type of a failed run: the guard that held it
// back, or a PVC failure only a person can fix (a missing
// VolumeSnapshotClass, a failing hook), so the Synced condition names it;
// else SyncFailed.
func (r ReplicationResult) FailureType() string {
	if g := r.Held(); g != "" {
		return g
	}
	for _, p := range r.PVCs {
		switch p.ErrorType {
		case ErrTypeNoSnapshotClass, ErrTypeHookFailed:
			return p.ErrorType
		}
	}
	return ErrTypeSyncFailed
}

// ResourcesResult is what one ReplicateResources run did.
type ResourcesResult struct {
	Namespace NamespaceResult `json:"namespace"`
	// Total counts the objects considered; Synced + Failed + Skipped == Total.
	Total   int `json:"total"`
	Synced  int `json:"synced"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// Groups count per kind, in the order the kinds ran (status.resourceGroups).
	Groups []ResourceGroup `json:"groups"`
	// Resources is every object's status (status.resourceStatus).
	Resources []ObjectStatus `json:"resources"`
	// Scales lists the workloads scaled down in DR (status.deploymentScales).
	Scales []WorkloadScale `json:"scales,omitempty"`
	// Changed says DR was written to; false means the controller has nothing new to report.
	Changed bool `json:"changed"`
	// Stopped names the failure that ended the run early (FailFast).
	Stopped string `json:"stopped,omitempty"`
	// DeletionGuard is what the mass-deletion breaker weighed; nil when the
	// run reached no deletion step.
	DeletionGuard *DeletionGuardResult `json:"deletionGuard,omitempty"`
}

// ResourceGroup counts the objects of one kind.
type ResourceGroup struct {
	Kind    string `json:"kind"`
	Total   int    `json:"total"`
	Synced  int    `json:"synced"`
	Failed  int    `json:"failed"`
	Skipped int    `json:"skipped"`
}

// DeletionGuardResult is the mass-deletion breaker's decision for one run.
type DeletionGuardResult struct {
	resources.DeletionCheck
	// Held says why the run deleted nothing; "" when the deletions went ahead.
	Held string `json:"held,omitempty"`
}
