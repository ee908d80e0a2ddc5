package contract

import (
	"fmt"
	"time"
)

// ContinuousSettings are what a user can change on a running continuous replication.
type ContinuousSettings struct {
	// Every is the background sync interval.
	Every  time.Duration `json:"every"`
	Paused bool          `json:"paused"`
	// Note records the applied settings for the controller to compare.
	Note string `json:"note"`
}

// ContinuousRun is one sync the continuous workflow started.
type ContinuousRun struct {
	WorkflowID string    `json:"workflowID"`
	RunID      string    `json:"runID"`
	Started    time.Time `json:"started"`
	// Trigger is "interval" or the change that started it.
	Trigger string `json:"trigger"`
}

// ContinuousState is the workflow's state: its input after continue-as-new,
// and the answer to its progress query.
type ContinuousState struct {
	Replication ObjectRef          `json:"replication"`
	Settings    ContinuousSettings `json:"settings"`
	// Recent are the last syncs, oldest first.
	Recent []ContinuousRun `json:"recent,omitempty"`
	// Running is the sync in progress, if any.
	Running *ContinuousRun `json:"running,omitempty"`
	// NextRun is when the next background sync starts; zero while paused.
	NextRun time.Time `json:"nextRun"`
	// PendingChange is a change seen since the last sync started.
	PendingChange string `json:"pendingChange,omitempty"`
	// PendingSince is when the first change still pending was seen; its
	// sync starts at most changeMaxDelay later.
	PendingSince time.Time `json:"pendingSince"`
	// LastSync is when the last sync ended: the interval counts from it,
	// and a run that has not synced yet syncs at once.
	LastSync time.Time `json:"lastSync"`
}

// ContinuousNote is the settings note the controller compares, in the same
// words as a Schedule's.
func ContinuousNote(every time.Duration) string { return fmt.Sprintf("dr-syncer: every %s", every) }
