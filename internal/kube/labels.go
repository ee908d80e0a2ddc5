package kube

import (
	"crypto/sha256"
	"encoding/hex"
)

// Labels on every object a sync creates. Cleanup deletes by them, so nothing
// a run creates can be orphaned.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "dr-syncer"
	// LabelOperation ties an object to one PVC sync (its workflow ID, hashed:
	// label values are short). A new run of the same sync finds and removes
	// what a crashed run left.
	LabelOperation = "dr-syncer.io/operation"
	// LabelRun ties an object to one workflow run.
	LabelRun = "dr-syncer.io/run"
	// LabelRole is mount, sync or credentials.
	LabelRole = "dr-syncer.io/role"
)

// OperationID is the label-safe, name-safe key of a workflow ID.
func OperationID(workflowID string) string {
	sum := sha256.Sum256([]byte(workflowID))
	return hex.EncodeToString(sum[:])[:16]
}

// OperationLabels are the labels of an object created by one run of one sync.
func OperationLabels(workflowID, runID, role string) map[string]string {
	return map[string]string{
		LabelManagedBy: ManagedBy,
		LabelOperation: OperationID(workflowID),
		LabelRun:       runID,
		LabelRole:      role,
	}
}
