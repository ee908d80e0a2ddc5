package controller

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	drv1 "github.com/dr-syncer/dr-syncer/api/v1alpha1"
	"github.com/dr-syncer/dr-syncer/contract"
	"github.com/dr-syncer/dr-syncer/starter"
)

// Event reasons of the decisions a person made through annotations.
const (
	EventChangesAccepted = "ChangesAccepted"
	EventCopyDeleted     = "CopyDeleted"
)

// guardReasons are the error types of runs a DR-copy guard held back; the
// Synced condition carries them as its reason, so a user sees which guard
// kept the DR copy and why.
var guardReasons = map[string]bool{
	contract.ErrTypeDeletionGuard:  true,
	contract.ErrTypeSourceReplaced: true,
	contract.ErrTypeSourceShrank:   true,
	contract.ErrTypeConflict:       true,
}

// fixReasons are the error types of runs that failed for what only a
// person can fix in the clusters or the hooks; the Synced condition
// carries them as its reason too.
var fixReasons = map[string]bool{
	contract.ErrTypeNoSnapshotClass: true,
	contract.ErrTypeHookFailed:      true,
	contract.ErrTypeForbidden:       true,
}

// failedReason is the Synced reason of a failed run.
func failedReason(last *drv1.SyncError) string {
	if last != nil && (guardReasons[last.Category] || fixReasons[last.Category]) {
		return last.Category
	}
	return ReasonSyncFailed
}

// keptCopies names the DR volumes kept although their source is gone, for
// the Synced message; "" when there are none.
func keptCopies(objects []drv1.ResourceStatus) string {
	var kept []string
	for _, o := range objects {
		if o.State == string(contract.StateSourceDeleted) {
			kept = append(kept, o.Kind+" "+o.Name)
		}
	}
	if len(kept) == 0 {
		return ""
	}
	return fmt.Sprintf("; %s: source deleted, DR copy kept (annotate the DR object with %s=true to delete it)",
		strings.Join(kept, ", "), drv1.AnnotationDeleteCopy)
}

// recordDecisions marks the accept-changes value a closed run took as
// handled, and records every decision a person made through annotations
// that the run carried out as an Event.
func recordDecisions(st *drv1.ReplicationStatus, run *starter.RunState) []replicationEvent {
	res := run.Result
	if res == nil {
		return nil
	}
	var events []replicationEvent
	if v := res.AcceptChanges; v != "" && v != st.AcceptChangesHandled {
		st.AcceptChangesHandled = v
		events = append(events, replicationEvent{corev1.EventTypeNormal, EventChangesAccepted,
			fmt.Sprintf("run %s took %s=%s: %s", run.WorkflowID, drv1.AnnotationAcceptChanges, v, acceptedWhat(res))})
	}
	if res.Resources != nil {
		for _, o := range res.Resources.Resources {
			if o.Action == contract.ActionDeleteCopy && o.State == contract.StateSynced {
				events = append(events, replicationEvent{corev1.EventTypeNormal, EventCopyDeleted,
					fmt.Sprintf("run %s deleted DR %s %s: %s", run.WorkflowID, o.Kind, o.Name, o.Detail)})
			}
		}
	}
	return events
}

// acceptedWhat says what an accepted run let through.
func acceptedWhat(res *contract.ReplicationResult) string {
	var parts []string
	if r := res.Resources; r != nil && r.DeletionGuard != nil && r.DeletionGuard.Deletions > 0 {
		parts = append(parts, fmt.Sprintf("%d DR objects whose source is gone deleted past the deletion guard", r.DeletionGuard.Deletions))
	}
	for _, p := range res.PVCs {
		if p.Error == "" && p.Result != nil {
			parts = append(parts, "PVC "+p.PVC+" synced whatever its source's identity or size")
		}
	}
	if len(parts) == 0 {
		return "nothing was held back"
	}
	return strings.Join(parts, "; ")
}
